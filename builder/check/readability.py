"""Readability checks: a step's LIX over the program's threshold, long sentences,
plain-language hints and consistent spelling of terms.

Input: a validated `Program`. Output: diagnostics only. How LIX is computed lives in
`builder.lix` (the overview page and `stegvis serve` show it too).
"""

from __future__ import annotations

import re
from functools import lru_cache

from builder.diagnostics import Diagnostics
from builder.lix import WORD, lix_level, step_lix
from builder.markdown import inline_text
from builder.model import Program, Step
from builder.schema.program import Readability
from builder.speech.sentences import sentences


def check_readability(program: Program, diags: Diagnostics) -> None:
    """Warn when a step's LIX is over the program's threshold (Swedish programs only: LIX and its
    levels are calibrated for Swedish, and long Finnish compounds would always exceed them)."""
    if program.meta.language != "sv":
        return
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


@lru_cache(maxsize=8)
def _language_rules(settings_json: str, language: str = "sv") -> tuple:
    """The patterns of `check_language` for one program's readability settings, made once
    (the step rules run one step at a time in builds that keep summaries, issue 16).

    The built-in plain-language hints and spellings are Swedish: a program in another
    language (a translation, issue 18) gets only its own (`readability:` in its program.yaml).
    """
    settings = Readability.model_validate_json(settings_json)
    swedish = language == "sv"
    plain = settings.plain_language_hints() if swedish else {k: v for k, v in settings.plain_language.items() if v}
    spelled = settings.spellings() if swedish else {k: v for k, v in settings.spelling.items() if v}
    hints = [(p, _word_pattern(p), instead) for p, instead in plain.items()]
    spellings = [(v, re.compile(rf"(?<![\w.]){re.escape(v)}(?![\w])"), pref) for v, pref in spelled.items()]
    terms = [(t, re.compile(rf"(?<![\w]){re.escape(t)}(?![\w])", re.IGNORECASE)) for t in settings.terms]
    # One search per line and kind finds the lines where any pattern could match (most have
    # none), so the patterns run only there: the same findings, several times faster (issue #7).
    may_hint = _any_of([p for p, _, _ in hints], re.IGNORECASE)
    may_spell = _any_of([v for v, _, _ in spellings], 0)
    may_term = _any_of([t for t, _ in terms], re.IGNORECASE)
    return hints, spellings, terms, may_hint, may_spell, may_term


def check_language(program: Program, diags: Diagnostics) -> None:
    """Long sentences, plain-language hints and consistent spelling of terms (sentences split
    and built-in hints chosen by the program's language, issue 18)."""
    settings = program.meta.readability
    limit = settings.max_sentence_words
    language = program.meta.language
    hints, spellings, terms, may_hint, may_spell, may_term = _language_rules(settings.model_dump_json(), language)
    for step in program.steps:
        for text, line in _blocks_with_lines(step):
            for sentence in sentences(text, language):
                words = len(WORD.findall(sentence))
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
