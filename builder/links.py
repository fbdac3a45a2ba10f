"""Links in content: which are external, which name a media file, which step a link points at.

Layer: links and output paths, above the program model and below every stage (see
DESIGN.md, "Layers"): check reports a broken link, render rewrites a working one, and
both read the same rules here. Input: link targets and the `Program`. Output: media keys
and steps. Must not report diagnostics (check's) or know where pages land (`builder.paths`).
"""

from __future__ import annotations

import posixpath

from builder.model import Program, Step

EXTERNAL = ("https://", "http://", "mailto:", "tel:")


def is_external(target: str) -> bool:
    """Whether a link or media target points outside the package (web, mail, phone)."""
    return target.startswith(EXTERNAL)


def media_key(target: str) -> str | None:
    """Normalise a path inside media/; None when it escapes the folder."""
    if not target or target.startswith("/") or "\\" in target:
        return None
    norm = posixpath.normpath(target)
    if norm.startswith("../") or norm == "..":
        return None
    return norm


def step_index(program: Program) -> dict[str, Step]:
    """Every step by its path inside the program (overlay and base files alike)."""
    return {step.source.rel: step for step in program.steps}


def link_target(step: Step, href: str) -> str | None:
    """The program-relative path a relative link points at; None when it leaves the program."""
    path = posixpath.normpath(posixpath.join(posixpath.dirname(step.source.rel), href.split("#", 1)[0]))
    return None if path.startswith("../") or path == ".." or path.startswith("/") else path


def resolve_step_link(step: Step, href: str, index: dict[str, Step]) -> Step | None:
    """The step a relative `.md` link points at, or None."""
    target = link_target(step, href)
    return index.get(target) if target else None
