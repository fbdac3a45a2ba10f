"""module.yaml: a module's title, kind and default start."""

from __future__ import annotations

from typing import Literal

from builder.schema.common import Model


class ModuleMeta(Model):
    title: str
    kind: Literal["core", "deepening"]
    start: Literal["current", "upcoming"]
    description: str = ""
    #: The module gives health advice: each step should name its sources (STEP-007 warns).
    sources_required: bool = False
