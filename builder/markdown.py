"""Markdown parsing shared by validate, check and render.

One configured markdown-it parser: the `js-default` preset (raw HTML off), tables,
`:::` directive fences (mdit-py-plugins' colon_fence) and heading anchors. Bodies
are parsed once, at validation; later stages walk the same tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.anchors import anchors_plugin
from mdit_py_plugins.colon_fence import colon_fence_plugin

from builder.diagnostics import Diagnostic

DIRECTIVES = {
    "form": frozenset(),
    "video": frozenset({"captions", "transcript", "title"}),
    "audio": frozenset({"transcript", "title"}),
    "callout": frozenset(),
}
CALLOUT_KINDS = ("info", "tip", "warning")
_FENCE_END = re.compile(r"^\s*:{3,}\s*$")
_OPTION = re.compile(r"^\s*([A-Za-z_][\w-]*)\s*:\s*(.*?)\s*$")


@lru_cache(maxsize=1)
def parser() -> MarkdownIt:
    """The one Markdown parser of Stegvis (raw HTML off: `js-default`)."""
    md = MarkdownIt("js-default").use(colon_fence_plugin).use(anchors_plugin, min_level=2, max_level=3)
    return md


@dataclass
class Directive:
    """A `::: name arg` block. `line` is 1-based in the step file."""

    name: str
    arg: str
    line: int
    options: dict[str, str] = field(default_factory=dict)
    option_lines: dict[str, int] = field(default_factory=dict)
    bad_lines: list[tuple[int, str]] = field(default_factory=list)  # unreadable option lines
    body: list[Token] = field(default_factory=list)  # callouts: parsed Markdown
    body_line: int = 0  # 1-based file line of the body's first line
    closed: bool = True


@dataclass
class Derived:
    """Values computed from one parsed body, kept with it: a body that `stegvis serve` keeps
    for an unchanged file keeps them too, so they are not computed again (issue #7).

    Each is filled by its owner on first use; keyed ones also depend on values outside the
    body (the step's metadata, the program's settings), which are part of the key.
    """

    #: (LIX, word count): `builder.lix.step_lix`
    lix: tuple[float, int] | None = None
    #: every link and image with its place, callouts included: `builder.check.references.step_refs`
    refs: list[tuple[str, str, int, int]] | None = None
    #: the step rules' findings, by (path, metadata, settings): `builder.check.check_program`
    checks: dict[tuple, list[Diagnostic]] = field(default_factory=dict)
    #: the readout, by (lexicon, readout settings): `builder.serve`. A `builder.render.readout.Readout`,
    #: typed loosely here because this module sits below the renderers (DESIGN.md, "Layers").
    readouts: dict[tuple, object] = field(default_factory=dict)


@dataclass
class ParsedBody:
    tokens: list[Token]
    line: int  # 1-based file line of the body's first line
    lines: list[str]
    directives: list[Directive]
    #: values computed from this body once (e.g. its LIX), see `Derived`
    derived: Derived = field(default_factory=Derived, compare=False, repr=False)


def parse_body(text: str, line: int) -> ParsedBody:
    """Parse a step body that starts on file line `line` (1-based)."""
    tokens = parser().parse(text)
    lines = text.split("\n")
    directives = []
    for tok in tokens:
        if tok.type == "colon_fence":
            d = _directive(tok, lines, line)
            tok.meta["directive"] = d
            directives.append(d)
    return ParsedBody(tokens, line, lines, directives)


class LazyBody:
    """A step body that is parsed only when its tokens are first read (issue 16).

    A build that has a step's summary from an earlier build (`builder.summaries`: LIX,
    directives, link places, the step rules' findings, kept in `derived`) needs the tokens
    only to render the step's own page, so an unchanged step is never parsed. Reads like
    a `ParsedBody`; `parses` counts the parses of this process (tests count them).
    """

    parses = 0

    def __init__(self, text: str, line: int) -> None:
        self.text, self.line = text, line
        self.derived = Derived()
        self._parsed: ParsedBody | None = None
        #: the directives from a summary, until the body is parsed
        self.known_directives: list[Directive] | None = None

    @property
    def parsed(self) -> bool:
        """Whether the text has been parsed."""
        return self._parsed is not None

    def _body(self) -> ParsedBody:
        if self._parsed is None:
            LazyBody.parses += 1
            self._parsed = parse_body(self.text, self.line)
        return self._parsed

    @property
    def tokens(self) -> list[Token]:
        return self._body().tokens

    @property
    def lines(self) -> list[str]:
        return self._parsed.lines if self._parsed is not None else self.text.split("\n")

    @property
    def directives(self) -> list[Directive]:
        if self._parsed is None and self.known_directives is not None:
            return self.known_directives
        return self._body().directives


def _directive(tok: Token, lines: list[str], first_line: int) -> Directive:
    start, end = tok.map or (0, 0)
    name, _, arg = tok.info.strip().partition(" ")
    d = Directive(name=name, arg=arg.strip(), line=first_line + start)
    d.closed = end - 1 > start and end - 1 < len(lines) and bool(_FENCE_END.match(lines[end - 1]))
    d.body_line = first_line + start + 1
    if name == "callout":
        d.body = parser().parse(tok.content)
        return d
    for i, raw in enumerate(tok.content.split("\n")):
        if not raw.strip():
            continue
        m = _OPTION.match(raw)
        if m:
            d.options[m.group(1)] = m.group(2)
            d.option_lines[m.group(1)] = d.body_line + i
        else:
            d.bad_lines.append((d.body_line + i, raw.strip()))
    return d


def walk(tokens: list[Token]):
    """Yield every token, descending into inline children and callout bodies."""
    for tok in tokens:
        yield tok
        if tok.children:
            yield from walk(tok.children)
        d = tok.meta.get("directive") if tok.meta else None
        if d is not None and d.body:
            yield from walk(d.body)


def inline_text(tok: Token) -> str:
    """Plain text of an inline token (link text, heading text)."""
    parts = []
    for child in tok.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append("")
    return "".join(parts)


def locate_in(lines: list[str], tok_map: list[int] | None, needle: str, first_line: int) -> tuple[int, int]:
    """Find `needle` within a block's lines; return its 1-based (line, col) in the file."""
    if tok_map is None:
        return first_line, 1
    for i in range(tok_map[0], min(tok_map[1], len(lines))):
        col = lines[i].find(needle)
        if col >= 0:
            return first_line + i, col + 1
    return first_line + tok_map[0], 1
