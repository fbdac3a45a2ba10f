"""A step's sources and review date as readers see them (issue 17).

Stage 6/7, render and pdf. Input: a validated `Step`. Output: `AboutStep`, the view of
its `sources:` ("Källor": title linked to its address, publisher, "läst <date>") and
of its `reviewed:` date ("Senast granskad <date>"), dates in the page's language, which the step page, the step's
fragment (so the runtime shows it) and the print templates show after the body.
Never part of the readout: `builder.render.readout` reads only the body.

Must not: read files or render templates (the callers own their templates).
"""

from __future__ import annotations

from dataclasses import dataclass

from builder.model import Step
from builder.render.chrome import SWEDISH, Chrome

#: The id of the "Källor" heading on a step page (body headings get ids from their text).
HEADING_ID = "stegets-kallor"


@dataclass(frozen=True)
class SourceView:
    title: str
    publisher: str
    url: str
    read: str  # ISO date, for <time datetime>
    read_text: str  # the date in the page's language


@dataclass(frozen=True)
class AboutStep:
    """What a page says about a step's text after the body: its sources and last review."""

    sources: tuple[SourceView, ...]
    reviewed: str | None  # ISO date
    reviewed_text: str | None

    def __bool__(self) -> bool:
        return bool(self.sources) or self.reviewed is not None


def about_step(step: Step, chrome: Chrome = SWEDISH) -> AboutStep:
    """The sources and the review date of a step (empty, and false, when it has neither), with
    dates written in `chrome`'s language (Babel; Swedish: 2 december 2026)."""
    sources = tuple(SourceView(s.title, s.publisher, s.url, s.read.isoformat(), chrome.date(s.read))
                    for s in step.meta.sources)
    reviewed = step.meta.reviewed
    return AboutStep(sources, reviewed.on.isoformat() if reviewed else None,
                     chrome.date(reviewed.on) if reviewed else None)
