"""forms/<id>.yaml: forms, writing tasks and their questions (also used by plans)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from builder.schema.common import Id, Model, Number, Reviewed

QuestionType = Literal["text", "textarea", "single", "multi", "scale", "number", "date", "display"]
Scalar = str | int | float | bool

#: Which type-specific fields each question type may carry (checked as FORM-009; `duration` and
#: `time` are activity-plan field types, see builder.schema.activity_plan).
TYPE_FIELDS: dict[str, frozenset[str]] = {
    "options": frozenset({"single", "multi"}),
    "min": frozenset({"scale", "number", "duration"}),
    "max": frozenset({"scale", "number", "duration"}),
    "step": frozenset({"scale", "number"}),
    "labels": frozenset({"scale"}),
    "unit": frozenset({"number"}),
    "max_length": frozenset({"text", "textarea"}),
    "image": frozenset({"display"}),
    "alt": frozenset({"display"}),
}


class Option(Model):
    value: str | int
    label: str
    points: Number | None = None
    #: Only in a `multi` question: this option ("Inget av detta", "Vet inte") cannot be
    #: chosen together with any other (FORM-012, FORM-013; FHIR's optionExclusive).
    exclusive: bool | None = None


class ShowIf(Model):
    question: Id
    equals: Scalar | None = None
    any_of: list[Scalar] | None = None


class Question(Model):
    id: Id
    type: QuestionType
    label: str
    required: bool = False
    help: str | None = None
    show_if: ShowIf | None = None
    options: list[Option] | None = None
    min: Number | None = None
    max: Number | None = None
    step: Annotated[Number, Field(gt=0)] | None = None
    labels: dict[int, str] | None = None
    unit: str | None = None
    max_length: Annotated[int, Field(gt=0)] | None = None
    image: str | None = None
    alt: str | None = None


class Band(Model):
    min: Number
    max: Number
    label: str
    text: str | None = None


#: The patient attribute `bands_by_sex` depends on, as the therapist sets it in the runtime.
SEXES = ("kvinna", "man")


class BandsBySex(Model):
    """Bands for women and for men, when an instrument's limits differ by sex (AUDIT-C)."""

    kvinna: list[Band]
    man: list[Band]


class Scoring(Model):
    questions: list[Id]
    bands: list[Band] = []
    #: Instead of `bands` (FORM-014): one band list per sex; the runtime uses the list of the
    #: sex the therapist set for the patient, and shows both while it is not set.
    bands_by_sex: BandsBySex | None = None
    note: str | None = None

    def band_sets(self) -> dict[str, list[Band]]:
        """Band lists by who they apply to: {"": bands}, or {"kvinna": …, "man": …}."""
        if self.bands_by_sex is not None:
            return {sex: getattr(self.bands_by_sex, sex) for sex in SEXES}
        return {"": self.bands}


class Form(Model):
    title: str
    description: str | None = None
    required: bool = False
    page_comments: bool = False
    flag_on_submit: bool = False
    questions: list[Question]
    scoring: Scoring | None = None
    reviewed: Reviewed | None = None
