"""Readability: the readable text of a step and its LIX.

LIX (läsbarhetsindex) = words per sentence + the percentage of long words (more
than six letters). Headings and list items count as sentences of their own, and
common abbreviations ("t.ex.") do not end a sentence.
"""

from __future__ import annotations

import re

from markdown_it.token import Token

from builder.diagnostics import Diagnostics
from builder.markdown import inline_text
from builder.model import Program, Step
from builder.speech.sentences import sentences

_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*")
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
        found = _WORD.findall(text)
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
    if "lix" not in derived:
        derived["lix"] = lix(readable_blocks(step.body.tokens))
    return derived["lix"]


def check_readability(program: Program, diags: Diagnostics) -> None:
    """Warn when a step's LIX is over the program's threshold."""
    limit = program.meta.readability.lix_warning
    for step in program.steps:
        value, words = step_lix(step)
        if words and value > limit:
            diags.add("READ-001", step.path, step.body.line, lix=f"{value:.0f}", level=lix_level(value), limit=limit)


def _blocks_with_lines(step: Step):
    """(text, file line) of every readable block, callouts included."""
    def walk(tokens, first_line):
        for tok in tokens:
            if tok.type == "inline":
                yield inline_text(tok), first_line + (tok.map[0] if tok.map else 0)
            elif tok.type == "colon_fence" and tok.meta.get("directive") is not None:
                d = tok.meta["directive"]
                yield from walk(d.body, d.body_line)

    yield from walk(step.body.tokens, step.body.line)


def _word_pattern(phrase: str) -> re.Pattern:
    return re.compile(rf"(?<![\w.]){re.escape(phrase)}(?![\w])", re.IGNORECASE)


def check_language(program: Program, diags: Diagnostics) -> None:
    """Long sentences, plain-language hints and consistent spelling of terms."""
    settings = program.meta.readability
    limit = settings.max_sentence_words
    hints = [(p, _word_pattern(p), instead) for p, instead in settings.plain_language_hints().items()]
    spellings = [(v, re.compile(rf"(?<![\w.]){re.escape(v)}(?![\w])"), pref) for v, pref in settings.spellings().items()]
    terms = [(t, re.compile(rf"(?<![\w]){re.escape(t)}(?![\w])", re.IGNORECASE)) for t in settings.terms]
    # One search per line and kind finds the lines where any pattern could match (most have
    # none), so the patterns run only there: the same findings, several times faster (issue #7).
    may_hint = _any_of([p for p, _, _ in hints], re.IGNORECASE)
    may_spell = _any_of([v for v, _, _ in spellings], 0)
    may_term = _any_of([t for t, _ in terms], re.IGNORECASE)
    for step in program.steps:
        for text, line in _blocks_with_lines(step):
            for sentence in sentences(text):
                words = len(_WORD.findall(sentence))
                if words > limit:
                    start = " ".join(sentence.split()[:6])
                    diags.add("READ-002", step.path, line, words=words, limit=limit, start=start)
        for i, raw in enumerate(step.body.lines):
            line = step.body.line + i
            for _phrase, pattern, instead in hints if may_hint(raw) else ():
                for m in pattern.finditer(raw):
                    diags.add("READ-003", step.path, line, m.start() + 1, phrase=m.group(0), instead=instead)
            for _variant, pattern, preferred in spellings if may_spell(raw) else ():
                for m in pattern.finditer(raw):
                    diags.add("READ-004", step.path, line, m.start() + 1, found=m.group(0), preferred=preferred)
            for term, pattern in terms if may_term(raw) else ():
                for m in pattern.finditer(raw):
                    found = m.group(0)
                    # all lower case is the ordinary word ("framåt"), not the term
                    if found != term and not found.islower() and not _in_url(raw, m.start()):
                        diags.add("READ-004", step.path, line, m.start() + 1, found=found, preferred=term)


def _any_of(literals: list[str], flags: int):
    """A quick test whether a line may contain any of the literals: plain substring search
    (casefolded when the patterns ignore case), which finds at least every line they match."""
    folded = [x.casefold() for x in literals] if flags & re.IGNORECASE else literals

    def may_contain(line: str) -> bool:
        text = line.casefold() if flags & re.IGNORECASE else line
        return any(x in text for x in folded)

    return may_contain


def _in_url(line: str, pos: int) -> bool:
    """Whether a match sits inside a link target or path, where spelling rules do not apply."""
    return "/" in line[max(0, pos - 1) : pos] or line[max(0, pos - 2) : pos] == "](" or line[max(0, pos - 1) : pos] == "("
