"""The pronunciation lexicon: written forms replaced by spoken forms before synthesis.

Built-in entries cover common Swedish abbreviations; a program's `lexicon` (in
program.yaml or lexicon.yaml) adds to and overrides them. Matching is on whole
words, case-sensitive, longest entry first.
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


class Lexicon:
    """Applies written → spoken replacements to sentences."""

    def __init__(self, entries: Mapping[str, str]) -> None:
        self.entries = dict(sorted(entries.items()))
        keys = sorted(self.entries, key=len, reverse=True)
        if keys:
            alternatives = "|".join(re.escape(k) for k in keys)
            self._pattern: re.Pattern | None = re.compile(rf"(?<![\w.])(?:{alternatives})(?![\w])")
        else:
            self._pattern = None

    @classmethod
    def for_program(cls, program_entries: Mapping[str, str]) -> Lexicon:
        return cls(DEFAULT_LEXICON | dict(program_entries))

    def apply(self, text: str) -> str:
        """The spoken form of a sentence."""
        if self._pattern is None:
            return text
        spoken = self._pattern.sub(lambda m: self.entries[m.group(0)], text)
        return " ".join(spoken.split())
