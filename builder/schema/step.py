"""A step's front matter."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from builder.schema.common import Model, Reviewed


def check_https(value: str) -> str:
    """A source's address: a whole https:// web address (checked as STEP-005)."""
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.netloc or any(c.isspace() for c in value):
        raise PydanticCustomError("stegvis_https", "not an https address {value}", {"value": value})
    return value


HttpsUrl = Annotated[str, AfterValidator(check_https),
                     WithJsonSchema({"type": "string", "format": "uri", "pattern": "^https://[^\\s/]+"})]


class Source(Model):
    """A source of a step's advice: title, publisher, https address and the date it was read."""

    # Issue 17: shown as "Källor" on the page, in the fragment, in the PDFs and in
    # program.json; never read aloud. A date read in the future is STEP-006
    # (`builder.validate`, which knows today's date).

    title: str
    publisher: str
    url: HttpsUrl
    read: dt.date


class StepMeta(Model):
    title: str
    section: str
    audio: bool = True
    visible: bool = True
    reviewed: Reviewed | None = None
    readout: str | None = None  # the step's own readout text, replacing the page text
    read_alt_text: bool = False  # read image alt texts aloud
    sources: list[Source] = []  # where the step's advice comes from
    sources_required: bool | None = None  # overrides the module's sources_required for this step
