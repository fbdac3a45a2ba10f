"""Accessibility rules for step bodies: heading order, alt text, link text.

Missing alt text is an error (WCAG 2.1 AA is law for these services); vague link
text and a missing top heading are warnings.
"""

from __future__ import annotations

from builder.diagnostics import Diagnostics
from builder.markdown import locate_in, walk
from builder.model import Program, Step

VAGUE_LINK_TEXTS = frozenset(
    {"här", "klicka här", "tryck här", "läs mer", "mer", "länk", "denna länk", "den här länken", "klicka", "click here", "here"}
)


def check_headings(step: Step, diags: Diagnostics) -> None:
    tokens = step.body.tokens
    prev = 0
    h1_count = 0
    for tok in tokens:
        if tok.type != "heading_open":
            continue
        level = int(tok.tag[1])
        line = step.body.line + (tok.map[0] if tok.map else 0)
        if prev == 0 and level != 1:
            diags.add("A11Y-008", step.path, line, title=step.meta.title)
        elif prev and level > prev + 1:
            diags.add("A11Y-003", step.path, line, prev=prev, level=level, expected=prev + 1, hashes="#" * (prev + 1))
        h1_count += level == 1
        if level == 1 and h1_count == 2:
            diags.add("A11Y-005", step.path, line)
        prev = level


def check_images_and_links(step: Step, diags: Diagnostics) -> None:
    lines, first = step.body.lines, step.body.line
    for tok in walk(step.body.tokens):
        if tok.type != "inline":
            continue
        children = tok.children or []
        for j, child in enumerate(children):
            if child.type == "image" and not child.content.strip():
                src = str(child.attrs.get("src", ""))
                diags.add("A11Y-001", step.path, *locate_in(lines, tok.map, src, first), target=src)
            elif child.type == "link_open":
                text = _link_text(children, j).strip().lower().rstrip(".:!")
                if text in VAGUE_LINK_TEXTS:
                    href = str(child.attrs.get("href", ""))
                    diags.add("A11Y-004", step.path, *locate_in(lines, tok.map, href, first), text=text)


def _link_text(children, start: int) -> str:
    depth, parts = 0, []
    for child in children[start:]:
        if child.type == "link_open":
            depth += 1
        elif child.type == "link_close":
            depth -= 1
            if depth == 0:
                break
        elif child.type in ("text", "code_inline"):
            parts.append(child.content)
    return "".join(parts)


def check_accessibility(program: Program, diags: Diagnostics) -> None:
    """Heading order, alt text and link text of every step."""
    for step in program.steps:
        check_headings(step, diags)
        check_images_and_links(step, diags)



