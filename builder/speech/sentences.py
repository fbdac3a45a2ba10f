"""Sentence splitting for readouts and their cues, by language (Swedish first; issue 18).

A block of text (a heading, a paragraph, a list item) is split into sentences at
. ! ? and … (and the Arabic question mark ؟) followed by white space and a capital
letter, a digit or a quote, or at the end of the block. In a script without capital
letters (Arabic, Persian, Hebrew) any letter may start the next sentence. Each
language has its abbreviations: those that never end a sentence on their own
(Swedish t.ex., bl.a., kl., ca; Finnish esim., mm., ns., klo) and those that can when
a capital letter follows (m.m., osv.; jne., ym.). Numbers ("kl. 19.00", "1,5 liter")
never end a sentence, nor does an ordinal before a lower-case word ("3. maj", "3. toukokuuta").
"""

from __future__ import annotations

import re

#: Abbreviations that never end a sentence, even before a capital letter or a digit.
NEVER_FINAL = (
    "t.ex.", "bl.a.", "d.v.s.", "dvs.", "s.k.", "kl.", "ca.", "ca", "p.g.a.", "pga.", "jfr.", "inkl.", "exkl.",
    "resp.", "ev.", "nr.", "t.o.m.", "fr.o.m.", "f.d.", "e.d.", "o.d.", "bl a", "t ex", "obs.", "tel.", "ang.",
    "enl.", "mån.", "tis.", "ons.", "tors.", "fre.", "lör.", "sön.", "jan.", "feb.", "aug.", "sept.", "okt.", "nov.", "dec.",
)
#: Abbreviations that end a sentence when a capital letter follows.
MAYBE_FINAL = ("m.m.", "o.s.v.", "osv.", "etc.", "m.fl.", "o.dyl.", "st.", "min.", "tim.")

#: Per language: (abbreviations that never end a sentence, those that may before a capital).
ABBREVIATIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "sv": (NEVER_FINAL, MAYBE_FINAL),
    "fi": (("esim.", "mm.", "ns.", "ks.", "vrt.", "klo", "klo.", "n.", "noin.", "puh.", "os.", "p.", "s.", "t.",
            "ma.", "ti.", "ke.", "to.", "pe.", "la.", "su.", "tammik.", "helmik.", "jne",
            "esim", "mm", "ns"),
           ("jne.", "ym.", "yms.", "tms.", "ym", "min.", "h.", "krs.")),
    "en": (("e.g.", "i.e.", "mr.", "mrs.", "ms.", "dr.", "approx.", "no.", "vs.", "st."), ("etc.", "min.", "hrs.")),
}
#: Scripts without capital letters: any letter may start a sentence.
CASELESS = frozenset({"ar", "fa", "he", "ur", "ps", "ckb", "yi"})

_END = re.compile(r"[.!?…؟]+[\"”’»)\]]*(?=\s+|$)")
_NEXT_STARTS = re.compile(r"\s+[\"”“»«(\[]*[A-ZÅÄÖÉÜŠŽ0-9]")
_NEXT_ANY = re.compile(r"\s+[\"”“»«(\[]*[^\W_]")


def _rules(language: str) -> tuple[frozenset[str], re.Pattern]:
    code = language.split("-")[0].lower()
    never, _ = ABBREVIATIONS.get(code, ((), ()))
    return frozenset(never), (_NEXT_ANY if code in CASELESS else _NEXT_STARTS)


def _word_before(text: str, end: int) -> str:
    """The token (letters and dots) that ends at `end`, lower-cased."""
    start = end
    while start > 0 and not text[start - 1].isspace() and text[start - 1] not in "(\"”“»«[":
        start -= 1
    return text[start:end].lower()


def split_sentences(text: str, language: str = "sv") -> list[tuple[int, int]]:
    """(start, end) character spans of the sentences in one block of text in `language`.

    Spans are in order, do not overlap, exclude surrounding white space, and
    together cover every non-space character of the text.
    """
    never_final, next_starts = _rules(language)
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _END.finditer(text):
        end = m.end()
        at_end = not text[end:].strip()
        if not at_end:
            punct = text[m.start() : m.end()]
            word = _word_before(text, m.start() + len(punct.rstrip("\"”’»)]")))
            if not next_starts.match(text, end):
                continue
            if punct.startswith(".") and word in never_final:
                continue
            if punct.startswith(".") and re.fullmatch(r"\d+\.", word) and _ordinal_context(text, end):
                continue
            if punct.startswith(".") and len(word) == 2 and word[0].isalpha() and text[m.start() - 1].isupper():
                continue  # an initial, as in "A. Svensson"
        spans.append(_strip(text, start, end))
        start = end
    if text[start:].strip():
        spans.append(_strip(text, start, len(text)))
    return [s for s in spans if s[0] < s[1]]


def _ordinal_context(text: str, end: int) -> bool:
    """'den 3. maj' style ordinals are followed by a lower-case word."""
    rest = text[end:].lstrip()
    return bool(rest) and rest[0].islower()


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def sentences(text: str, language: str = "sv") -> list[str]:
    """The sentences of a block as strings, white space inside folded."""
    return [" ".join(text[a:b].split()) for a, b in split_sentences(text, language)]
