"""LIX (läsbarhetsindex) of text and of a step: the readable text of a step and how hard it reads.

LIX = words per sentence + the percentage of long words (more than six letters).
Headings and list items count as sentences of their own, and common abbreviations
("t.ex.") do not end a sentence.

Layer: beside links and output paths, above the program model and below every stage
(see DESIGN.md, "Layers"): check warns about a high LIX, and the reviewers' overview
page (render) and `stegvis serve` show it. Input: Markdown tokens or a `Step`. Output:
(LIX, word count) and the level in words. Must not report diagnostics (check's).
"""

from __future__ import annotations

import re

from markdown_it.token import Token

from builder.markdown import inline_text
from builder.model import Step

WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*")
_SENTENCE_END = re.compile(r"[.!?:]+(?=\s|$)")
ABBREVIATIONS = (
    "t.ex.", "bl.a.", "d.v.s.", "dvs.", "s.k.", "m.m.", "o.s.v.", "osv.", "kl.", "ca.", "ev.", "resp.",
    "p.g.a.", "pga.", "m.fl.", "t.o.m.", "fr.o.m.", "inkl.", "exkl.", "st.", "min.", "nr.", "jfr.", "obs.",
)
_ABBREV = re.compile("|".join(re.escape(a) for a in sorted(ABBREVIATIONS, key=len, reverse=True)), re.IGNORECASE)

LEVELS = ((30, "mycket lättläst"), (40, "lättläst"), (50, "medelsvår"), (60, "svår"), (1000, "mycket svår"))


def lix_level(value: float) -> str:
    """LIX in words, on the usual Swedish scale."""
    return next(name for limit, name in LEVELS if value < limit)


def readable_blocks(tokens: list[Token]) -> list[str]:
    """Text of headings, paragraphs, list items and callouts; never forms or code."""
    blocks = []
    for tok in tokens:
        if tok.type == "inline":
            blocks.append(inline_text(tok))
        elif tok.type == "colon_fence" and tok.meta.get("directive") is not None:
            blocks.extend(readable_blocks(tok.meta["directive"].body))
    return [b.strip() for b in blocks if b.strip()]


def lix(blocks: list[str]) -> tuple[float, int]:
    """(LIX, word count) of text blocks; each block ends at least one sentence."""
    words = long_words = sentences = 0
    for block in blocks:
        folded = block.casefold()
        # the regular expression is slow; most blocks hold no abbreviation at all
        may_abbreviate = any(a in folded for a in ABBREVIATIONS)
        text = _ABBREV.sub(lambda m: m.group(0).replace(".", ""), block) if may_abbreviate else block
        found = WORD.findall(text)
        words += len(found)
        long_words += sum(1 for w in found if len(w) > 6)
        stripped = text.rstrip()
        sentences += len(_SENTENCE_END.findall(stripped)) + (0 if stripped[-1] in ".!?:" else 1)
    if not words:
        return 0.0, 0
    return words / max(sentences, 1) + 100 * long_words / words, words


def step_lix(step: Step) -> tuple[float, int]:
    """(LIX, word count) of a step; computed once per parsed body (check and the overview both ask)."""
    derived = step.body.derived
    if derived.lix is None:
        derived.lix = lix(readable_blocks(step.body.tokens))
    return derived.lix
