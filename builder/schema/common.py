"""Shared model base and field types of the authoring format."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, WithJsonSchema
from pydantic_core import PydanticCustomError

ID_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class Model(BaseModel):
    """Base of every content model: unknown keys are errors, no silent coercion."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Reviewed(Model):
    """Who reviewed a step, form or plan, when, and the content hash they saw."""

    by: str
    on: dt.date
    hash: str


def check_id(value: str) -> str:
    if not ID_PATTERN.match(value):
        raise PydanticCustomError("stegvis_id", "invalid id {value}", {"value": value})
    return value


Id = Annotated[str, AfterValidator(check_id), WithJsonSchema({"type": "string", "pattern": ID_PATTERN.pattern})]
Number = int | float
