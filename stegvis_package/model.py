"""Typed models of a package's `manifest.json`, `program.json` and step fragments.

Written by the builder's package stage (through these models, so what it writes is what
readers accept) and read by every reader through `stegvis_package.verify`. Forms and
activity plans in program.json are the authoring models (`builder.schema`) plus where
their pages are, so the runtime checks answers against the very rules the author wrote.

Published as JSON Schema by `stegvis schema` (`package-*.schema.json` in schemas/).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from builder.schema.activity_plan import ActivityPlan
from builder.schema.common import Id, Reviewed
from builder.schema.form import Form
from builder.schema.program import ProgramMeta
from builder.schema.step import Source

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
#: "module/step"
StepKey = Annotated[str, Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*/[a-z0-9]+(-[a-z0-9]+)*$")]


class Contract(BaseModel):
    """Base of the package models: unknown keys are errors, values are never changed after reading."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Audience(StrEnum):
    """Whom a package file is for."""

    #: Patient content: served to a patient when what it belongs to is visible in their enrolment.
    PATIENT = "patient"
    #: Staff only: the therapist guide, program.json with scoring, form and reviewer pages, FHIR.
    STAFF = "staff"
    #: The program's sources, for overlays that extend the package; never served by the runtime.
    SOURCE = "source"


class FileEntry(Contract):
    """One file of a package: its hash and size, and for whom it is.

    A patient file belongs to at most one of: a `step` (its fragment, readout, PDF), a
    `module` (its PDF, which holds every step of the module), or the steps that `used_by`
    names (media). A patient file with none of them is program-wide (stylesheet, brochure).
    """

    sha256: Sha256
    size: Annotated[int, Field(ge=0)]
    audience: Audience
    step: StepKey | None = None
    module: Id | None = None
    used_by: list[StepKey] | None = None

    @model_validator(mode="after")
    def _one_scope(self) -> FileEntry:
        scopes = [s for s in (self.step, self.module, self.used_by) if s is not None]
        if len(scopes) > 1:
            raise ValueError("a file belongs to a step, a module or the steps that use it, not several")
        if scopes and self.audience is not Audience.PATIENT:
            raise ValueError("only patient files belong to steps or modules")
        return self


class ProgramIdentity(Contract):
    id: Id
    version: str
    title: str


class BuilderIdentity(Contract):
    name: str
    version: str


class AudioProvenance(Contract):
    """Which engine made a readout."""

    engine: str
    voice: str
    version: str | None = None


class Manifest(Contract):
    """manifest.json: identity, source hash, and the hash, size and audience of every file."""

    format: int
    program: ProgramIdentity
    builder: BuilderIdentity
    content_hash: str
    #: An overlay's base: its id, version, file hashes (and the package it came from).
    base: dict | None = None
    #: A translation's language, the id and version of the program it translates, and the
    #: source paths of its files whose source changed since they were translated (issue 18).
    translation: dict | None = None
    #: The `source/` section (see `builder.base_package`).
    source: dict | None = None
    #: MP3 path -> the engine that made it.
    audio: dict[str, dict] = {}
    #: MP4 path of a film made from a storyboard -> the voice and encoder that made it.
    films: dict[str, dict] | None = None
    files: dict[str, FileEntry]

    def patient_files(self) -> dict[str, FileEntry]:
        """The files whose audience is the patient."""
        return {rel: f for rel, f in self.files.items() if f.audience is Audience.PATIENT}


# --- program.json ---------------------------------------------------------------------------


class ReadoutData(Contract):
    mp3: str
    cues: str
    sentences: int


class StepData(Contract):
    id: Id
    title: str
    visible: bool
    audio: bool
    #: The reviewers' HTML page of the step (staff).
    page: str
    #: The step's body as HTML parts and form slots (`Fragment`).
    fragment: str
    forms: list[str]
    reviewed: Reviewed | None = None
    review_status: str
    readout: ReadoutData | None = None
    pdf: str | None = None
    #: Where the step's advice comes from (title, publisher, https address, date read); absent
    #: when it names none. The fragment shows them too, after the body.
    sources: list[Source] = []


class SectionData(Contract):
    title: str
    steps: list[StepData]


class ModuleData(Contract):
    id: Id
    title: str
    kind: Literal["core", "deepening"]
    start: Literal["current", "upcoming"]
    description: str | None = None
    page: str
    sections: list[SectionData]
    pdf: str | None = None

    @property
    def steps(self) -> list[StepData]:
        """The module's steps in order."""
        return [step for section in self.sections for step in section.steps]


class PackagedForm(Form):
    """A form as authored, plus its reviewers' page and FHIR Questionnaire."""

    page: str
    fhir: str


#: What a form holds for staff only: how answers are scored, the bands and advice for the
#: therapist, and whether submitting raises a flag.
STAFF_FORM_KEYS = frozenset({"scoring", "flag_on_submit"})
STAFF_OPTION_KEYS = frozenset({"points"})


def patient_form(definition: dict) -> dict:
    """A form of program.json as a patient may see it: without scoring, points and flags."""
    out = {k: v for k, v in definition.items() if k not in STAFF_FORM_KEYS}
    out["questions"] = [
        q | ({"options": [{k: v for k, v in o.items() if k not in STAFF_OPTION_KEYS} for o in q["options"]]}
             if isinstance(q.get("options"), list) else {})
        for q in definition.get("questions", [])
    ]
    return out


class PackagedPlan(ActivityPlan):
    """An activity plan as authored, plus its reviewers' page."""

    page: str


class ProgramInfo(ProgramMeta):
    """program.yaml's metadata (its module folder list and silenced codes stay in the sources)."""

    modules: list[str] = []


class ProgramPdfs(Contract):
    program: str
    guide: str
    brochure: str


class ProgramData(Contract):
    """program.json: everything the runtime needs of a program, with package paths."""

    format: int
    content_hash: str
    program: ProgramInfo
    modules: list[ModuleData]
    forms: dict[str, PackagedForm]
    activity_plans: dict[str, PackagedPlan]
    pdf: ProgramPdfs | None = None


# --- step fragments ---------------------------------------------------------------------------


class FragmentPart(Contract):
    """A run of sanitised HTML, or the place of a form (filled in by whoever shows the step)."""

    html: str | None = None
    form: Id | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> FragmentPart:
        if (self.html is None) == (self.form is None):
            raise ValueError("a part is either html or a form")
        return self


class Fragment(Contract):
    """`fragments/<module>/<step>.json`: a step's body in parts, so a reader never parses pages.

    Relative URLs in the HTML are relative to `page` (the step's reviewers' page).
    """

    format: int
    module: Id
    step: Id
    page: str
    title: str
    #: Whoever shows the step adds the title as its heading (the body does not start with one).
    add_heading: bool
    parts: list[FragmentPart]
    #: The package's media files the body shows.
    media: list[str] = []
