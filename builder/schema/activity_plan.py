"""activity-plans/<id>.yaml: what a patient registers over time, and when."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from builder.schema.common import Id, Model, Number, Reviewed
from builder.schema.form import Question

WEEKDAYS = ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag")

#: A plan's field types: a form's question types, plus a time of day ("22:30") and a
#: duration (whole minutes; the patient may write 7:30 or 7 h 30 min). Issue 17: diaries.
PlanFieldType = Literal["text", "textarea", "single", "multi", "scale", "number", "date", "display",
                        "time", "duration"]
#: Field types whose values a plan's results can chart, and those whose chart can show a goal.
CHARTED_TYPES = ("number", "scale", "duration", "time", "single")
GOAL_TYPES = ("number", "scale", "duration")
#: The longest duration one registration can hold, in minutes (a day).
DURATION_MAX = 24 * 60


class Schedule(Model):
    repeat_every_weeks: Annotated[int, Field(ge=1, le=52)] = 1
    days: dict[str, str]
    registration_window_days: Annotated[int, Field(ge=0, le=31)] = 0
    flag_missed: bool = False
    allow_comments: bool = False
    activated: bool = False


class PlanField(Question):
    """A field the patient fills in at each occasion: a form question, a time of day or a duration.

    A duration's `min` and `max` are whole minutes (0–1440).
    """

    type: PlanFieldType


class GoalFrom(Model):
    plan: Id
    field: Id


class Results(Model):
    field: Id
    goal: Number | None = None
    goal_from: GoalFrom | None = None


class ActivityPlan(Model):
    title: str
    description: str = ""
    fields: list[PlanField]
    schedule: Schedule
    results: Results | None = None
    reviewed: Reviewed | None = None
