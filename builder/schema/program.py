"""program.yaml: the program's identity, module order, lexicon and metadata."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, RootModel
from pydantic_core import PydanticCustomError

from builder.schema.common import Id, Model

SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)


def check_semver(value: str) -> str:
    if not SEMVER.match(value):
        raise PydanticCustomError("semver", "not semver {value}", {"value": value})
    return value


class LexiconFile(RootModel[dict[str, str]]):
    """lexicon.yaml: written form -> spoken form."""

    model_config = ConfigDict(strict=True)


class Contact(Model):
    name: str
    role: str | None = None
    phone: str | None = None
    email: str | None = None
    hours: str | None = None
    url: str | None = None


class Code(Model):
    system: str
    code: str
    text: str


class Administration(Model):
    patient_fee: str | None = None
    codes: list[Code] = []


class Readability(Model):
    lix_warning: Annotated[int, Field(ge=10, le=100)] = 50


class Removal(Model):
    modules: list[str] = []
    steps: list[str] = []  # "module/step"
    forms: list[str] = []
    activity_plans: list[str] = []


class Hiding(Model):
    steps: list[str] = []  # "module/step"


class OverlaySpec(Model):
    """The overlay-only keys of an overlay's program.yaml (the rest is ProgramMeta's)."""

    extends: str
    remove: Removal = Removal()
    hide: Hiding = Hiding()


#: Keys an overlay must set itself, so that nobody publishes a region's version under the base's name.
OVERLAY_REQUIRED = ("id", "title", "version", "publisher")


class ProgramMeta(Model):
    id: Id
    title: str
    # A number such as 1.0 is read as text so that the author gets the semver hint.
    version: Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, (int, float)) else v),
                       AfterValidator(check_semver)]
    language: str = "sv"
    publisher: str
    description: str = ""
    modules: list[str]
    lexicon: dict[str, str] = {}
    readability: Readability = Readability()
    contacts: list[Contact] = []
    administration: Administration | None = None
    silence: list[str] = []
