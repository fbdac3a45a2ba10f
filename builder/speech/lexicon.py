"""The pronunciation lexicon: written forms replaced by spoken forms before synthesis.

Built-in entries cover common abbreviations of the program's language (Swedish,
Finnish, English; issue 18); a program's `lexicon` (in program.yaml or lexicon.yaml)
adds to and overrides them. Matching is on whole words, case-sensitive, longest entry
first. A lexicon knows its language, so that sentences are split by that language's rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

DEFAULT_LEXICON: dict[str, str] = {
    "t.ex.": "till exempel",
    "bl.a.": "bland annat",
    "dvs.": "det vill säga",
    "d.v.s.": "det vill säga",
    "s.k.": "så kallad",
    "m.m.": "med mera",
    "osv.": "och så vidare",
    "o.s.v.": "och så vidare",
    "p.g.a.": "på grund av",
    "kl.": "klockan",
    "ca": "cirka",
    "ca.": "cirka",
    "m.fl.": "med flera",
    "t.o.m.": "till och med",
    "fr.o.m.": "från och med",
    "inkl.": "inklusive",
    "kcal": "kilokalorier",
    "kr": "kronor",
    "min/dag": "minuter per dag",
}


#: Finnish abbreviations (issue 18): a translation's own lexicon adds to these.
FINNISH_LEXICON: dict[str, str] = {
    "esim.": "esimerkiksi",
    "mm.": "muun muassa",
    "ns.": "niin sanottu",
    "jne.": "ja niin edelleen",
    "yms.": "ynnä muuta sellaista",
    "tms.": "tai muuta sellaista",
    "ks.": "katso",
    "vrt.": "vertaa",
    "klo": "kello",
    "n.": "noin",
    "min": "minuuttia",
    "kcal": "kilokaloria",
    "km": "kilometriä",
}

#: English abbreviations.
ENGLISH_LEXICON: dict[str, str] = {"e.g.": "for example", "i.e.": "that is", "etc.": "et cetera", "approx.": "approximately"}

#: The built-in entries of each language; a language not listed has none.
DEFAULT_LEXICONS: dict[str, dict[str, str]] = {"sv": DEFAULT_LEXICON, "fi": FINNISH_LEXICON, "en": ENGLISH_LEXICON}


class Lexicon:
    """Applies written → spoken replacements to sentences."""

    def __init__(self, entries: Mapping[str, str], language: str = "sv") -> None:
        self.language = language
        self.entries = dict(sorted(entries.items()))
        keys = sorted(self.entries, key=len, reverse=True)
        if keys:
            alternatives = "|".join(re.escape(k) for k in keys)
            self._pattern: re.Pattern | None = re.compile(rf"(?<![\w.])(?:{alternatives})(?![\w])")
        else:
            self._pattern = None

    @classmethod
    def for_program(cls, program_entries: Mapping[str, str], language: str = "sv") -> Lexicon:
        """The built-in entries of the program's language, then the program's own on top."""
        base = DEFAULT_LEXICONS.get(language.split("-")[0].lower(), {})
        return cls(base | dict(program_entries), language)

    def apply(self, text: str) -> str:
        """The spoken form of a sentence."""
        if self._pattern is None:
            return text
        spoken = self._pattern.sub(lambda m: self.entries[m.group(0)], text)
        return " ".join(spoken.split())
