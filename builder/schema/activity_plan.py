"""activity-plans/<id>.yaml: what a patient registers over time, and when."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from builder.schema.common import Id, Model, Number, Reviewed
from builder.schema.form import Question

WEEKDAYS = ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag")


class Schedule(Model):
    repeat_every_weeks: Annotated[int, Field(ge=1, le=52)] = 1
    days: dict[str, str]
    registration_window_days: Annotated[int, Field(ge=0, le=31)] = 0
    flag_missed: bool = False
    allow_comments: bool = False
    activated: bool = False


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
    fields: list[Question]
    schedule: Schedule
    results: Results | None = None
    reviewed: Reviewed | None = None
