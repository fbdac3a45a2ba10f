"""A step's front matter."""

from __future__ import annotations

import datetime as dt

from builder.schema.common import Model


class Reviewed(Model):
    by: str
    on: dt.date
    hash: str


class StepMeta(Model):
    title: str
    section: str
    audio: bool = True
    visible: bool = True
    reviewed: Reviewed | None = None
    readout: str | None = None  # the step's own readout text, replacing the page text
    read_alt_text: bool = False  # read image alt texts aloud
