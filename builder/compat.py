"""Compatibility classes of package changes, and the version numbers they need (issue #6).

Every change between two packages is classified by what it means for patients who
are already enrolled in the older version, the way semver checkers classify API
changes:

- **major**: answers or progress already recorded may no longer fit: a removed
  module, step, form, question, option, activity plan or plan field; a question or
  field whose type changed; changed option values or points; a changed scoring
  (which questions count, band limits); a question that became required; a
  narrower range (`min`, `max`, `max_length`, `step`) or another unit; another
  program id.
- **minor**: new content or behaviour that fits the recorded answers: added modules,
  steps, forms, questions, options, plans and fields; a wider range; a question no
  longer required; `show_if`; a form's `required`, `page_comments` and
  `flag_on_submit`; a module's kind; which forms a step embeds; added scoring.
- **patch**: what is read, not answered: step texts, titles, labels, help texts,
  descriptions, option labels, band labels, the order of things, sections,
  defaults a therapist sets per patient (visibility, module start, schedules,
  results charts), media files and program metadata.

Input: the area, field and old/new value of one change. Output: a `Level`, and the
smallest version that a level allows after a given version. This module must not
read packages or know their layout; `builder/diff.py` finds the changes.
"""

from __future__ import annotations

from enum import IntEnum

from stegvis_package.versions import core, is_prerelease, version_key


class Level(IntEnum):
    """How far a change reaches; the overall class of a diff is the highest level."""

    NONE = 0
    PATCH = 1
    MINOR = 2
    MAJOR = 3

    @property
    def label(self) -> str:
        return self.name.lower()


NONE, PATCH, MINOR, MAJOR = Level.NONE, Level.PATCH, Level.MINOR, Level.MAJOR

#: Swedish explanation of each level, for changelogs and diagnostics.
MEANING = {
    MAJOR: "påverkar patienter som redan har börjat: något är borttaget eller tidigare svar passar inte längre",
    MINOR: "lägger till innehåll som passar tidigare svar",
    PATCH: "rättar text, titlar och standardval",
}

#: Level of a changed value by (area, field), when the direction of the change does not matter.
#: Areas: program, module, step, form, question, plan, field (a plan's field), media.
CHANGED: dict[tuple[str, str], Level] = {
    ("program", "id"): MAJOR,
    ("module", "title"): PATCH,
    ("module", "description"): PATCH,
    ("module", "start"): PATCH,
    ("module", "kind"): MINOR,
    ("module", "order"): PATCH,
    ("step", "title"): PATCH,
    ("step", "text"): PATCH,
    ("step", "section"): PATCH,
    ("step", "visible"): PATCH,
    ("step", "audio"): PATCH,
    ("step", "reviewed"): PATCH,
    ("step", "order"): PATCH,
    ("step", "forms"): MINOR,
    ("form", "title"): PATCH,
    ("form", "description"): PATCH,
    ("form", "required"): MINOR,
    ("form", "page_comments"): MINOR,
    ("form", "flag_on_submit"): MINOR,
    ("form", "scoring.questions"): MAJOR,
    ("form", "scoring.limits"): MAJOR,
    ("form", "scoring.bands"): PATCH,  # labels and texts of the bands, same limits
    ("form", "scoring.note"): PATCH,
    ("question", "type"): MAJOR,
    ("question", "label"): PATCH,
    ("question", "help"): PATCH,
    ("question", "labels"): PATCH,
    ("question", "image"): PATCH,
    ("question", "alt"): PATCH,
    ("question", "order"): PATCH,
    ("question", "show_if"): MINOR,
    ("question", "unit"): MAJOR,  # numbers already given were counted in the old unit
    ("question", "step"): MAJOR,
    ("question", "option.value"): MAJOR,
    ("question", "option.points"): MAJOR,
    ("question", "option.label"): PATCH,
    ("question", "option.order"): PATCH,
    ("plan", "title"): PATCH,
    ("plan", "description"): PATCH,
    ("plan", "schedule"): PATCH,  # a default; the therapist sets each patient's schedule
    ("plan", "results"): PATCH,
}

#: Level of a changed value not listed in CHANGED (e.g. a key a later format adds).
DEFAULT_CHANGED: dict[str, Level] = {"program": PATCH, "media": PATCH}

#: Adding is minor, removing is major, for every kind of content.
ADDED, REMOVED = MINOR, MAJOR

#: Fields whose range must not shrink: a smaller max (or larger min) may exclude given answers.
_UPPER = {"max", "max_length"}
_LOWER = {"min"}


def classify(area: str, field: str, old: object, new: object) -> Level:
    """The level of one changed value (`area` as in CHANGED; plan fields use the question rules)."""
    if area == "field":
        area = "question"
    if area == "question" and field == "required":
        return MAJOR if new and not old else MINOR
    if area == "question" and field in _UPPER | _LOWER:
        if new is None:
            return MINOR  # the limit is gone: every earlier answer still fits
        if old is None:
            return MAJOR
        wider = new > old if field in _UPPER else new < old
        return MINOR if wider else MAJOR
    if area == "form" and field == "scoring":
        return MINOR if old is None else MAJOR  # scoring added, or removed
    for key in ((area, field), (area, field.split(".")[0])):
        if key in CHANGED:
            return CHANGED[key]
    return DEFAULT_CHANGED.get(area, MINOR)


def required_version(old: str, level: Level) -> str | None:
    """The smallest version after `old` that a change of `level` allows (None: no change)."""
    major, minor, patch = core(old)
    if level is MAJOR:
        return f"{major + 1}.0.0"
    if level is MINOR:
        return f"{major}.{minor + 1}.0"
    if level is PATCH:
        return f"{major}.{minor}.{patch + 1}"
    return None


def version_suffices(old: str, new: str, level: Level) -> bool:
    """Whether `new` is a large enough step from `old` for changes of `level`.

    A pre-release of the required version counts (2.0.0-rc.1 is enough for 2.0.0). After a
    pre-release, its own release and later pre-releases may carry any change
    (1.0.0-rc.1 -> 1.0.0), since pre-releases promise nothing.
    """
    if level is NONE:
        return True
    if is_prerelease(old) and core(new) == core(old) and version_key(new) > version_key(old):
        return True
    required = required_version(old, level)
    return required is not None and core(new) >= core(required)
