"""Swedish sentence splitting for readouts and their cues.

A block of text (a heading, a paragraph, a list item) is split into sentences at
. ! ? and … followed by white space and a capital letter, a digit or a quote, or
at the end of the block. Abbreviations (t.ex., bl.a., kl., ca) and numbers
("kl. 19.00", "1,5 liter") never end a sentence on their own; "m.m." and "osv."
can, when a capital letter follows.
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

_END = re.compile(r"[.!?…]+[\"”’»)\]]*(?=\s+|$)")
_NEXT_STARTS = re.compile(r"\s+[\"”“»«(\[]*[A-ZÅÄÖÉÜ0-9]")


def _word_before(text: str, end: int) -> str:
    """The token (letters and dots) that ends at `end`, lower-cased."""
    start = end
    while start > 0 and not text[start - 1].isspace() and text[start - 1] not in "(\"”“»«[":
        start -= 1
    return text[start:end].lower()


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) character spans of the sentences in one block of text.

    Spans are in order, do not overlap, exclude surrounding white space, and
    together cover every non-space character of the text.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _END.finditer(text):
        end = m.end()
        at_end = not text[end:].strip()
        if not at_end:
            punct = text[m.start() : m.end()]
            word = _word_before(text, m.start() + len(punct.rstrip("\"”’»)]")))
            if not _NEXT_STARTS.match(text, end):
                continue
            if punct.startswith(".") and word in NEVER_FINAL:
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


def sentences(text: str) -> list[str]:
    """The sentences of a block as strings, white space inside folded."""
    return [" ".join(text[a:b].split()) for a, b in split_sentences(text)]
