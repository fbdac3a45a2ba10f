"""A step's front matter."""

from __future__ import annotations

from builder.schema.common import Model, Reviewed


class StepMeta(Model):
    title: str
    section: str
    audio: bool = True
    visible: bool = True
    reviewed: Reviewed | None = None
    readout: str | None = None  # the step's own readout text, replacing the page text
    read_alt_text: bool = False  # read image alt texts aloud
