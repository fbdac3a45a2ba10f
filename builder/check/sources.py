"""Sources of advice (issue 17): advice steps name where their advice comes from.

A step gives advice when its module says `sources_required: true` in module.yaml,
unless the step itself says `sources_required: false` (a step may also say `true` in
any module). Such a step without `sources:` is STEP-007. A free-text line "Källa: …"
in a step's body is STEP-008: it belongs in `sources:`, with an address and a date,
where it is shown as a list of links and not read aloud.

Input: a validated `Program`. Output: diagnostics only (warnings).
"""

from __future__ import annotations

import re

from builder.diagnostics import Diagnostics
from builder.markdown import inline_text
from builder.model import Module, Program, Step

#: A paragraph that starts like a free-text source line.
SOURCE_LINE = re.compile(r"^\s*(?:källa|källor)\s*:", re.IGNORECASE)
SHOWN = 60  # characters of the line quoted in the message


def requires_sources(module: Module, step: Step) -> bool:
    """Whether a step counts as an advice step that must name its sources."""
    if step.meta.sources_required is not None:
        return step.meta.sources_required
    return module.meta.sources_required


def check_required_sources(program: Program, diags: Diagnostics) -> None:
    """STEP-007: an advice step without sources."""
    for module in program.modules:
        for step in module.steps:
            if not step.meta.sources and requires_sources(module, step):
                line = step.source.front.locate(("title",), prefer_key=True)[0] if step.source.front else 1
                diags.add("STEP-007", step.path, line)


def check_source_lines(program: Program, diags: Diagnostics) -> None:
    """STEP-008: a "Källa: …" paragraph in a step's body."""
    for step in program.steps:
        tokens = step.body.tokens
        for i, tok in enumerate(tokens):
            if tok.type != "inline" or i == 0 or tokens[i - 1].type != "paragraph_open":
                continue
            text = " ".join(inline_text(tok).split())
            if SOURCE_LINE.match(text):
                shown = text if len(text) <= SHOWN else text[:SHOWN].rstrip() + "…"
                diags.add("STEP-008", step.path, step.body.line + (tok.map[0] if tok.map else 0), text=shown)
