"""JSON Schemas (draft-07) of the authoring format, for editors, and of the package files.

Generated from the same pydantic models that validate the content, so editors
(VS Code's YAML extension, via `# yaml-language-server: $schema=` or
.vscode/settings.json) complete and check exactly what `stegvis check` accepts,
short of the cross-file rules. The package's manifest.json, program.json and step
fragments are published next to them (`package-*.schema.json`) from the package
contract's models (`stegvis_package.model`), for anyone who reads packages without
Stegvis. Writes nothing itself; `stegvis schema` does.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, create_model

from builder.schema.activity_plan import WEEKDAYS, ActivityPlan
from builder.schema.film import Storyboard
from builder.schema.form import Form
from builder.schema.module import ModuleMeta
from builder.schema.program import OverlaySpec, ProgramMeta, TranslationSpec
from builder.schema.step import StepMeta
from stegvis_package import PACKAGE_FORMAT
from stegvis_package.model import Fragment, Manifest, ProgramData

DRAFT_07 = "http://json-schema.org/draft-07/schema#"
BASE_URL = "https://stegvis.invalid/schemas/"


def _overlay_model() -> type[BaseModel]:
    """An overlay's program.yaml: every program key optional, plus extends/remove/hide."""
    fields: dict[str, Any] = {name: (f.annotation | None, None) for name, f in ProgramMeta.model_fields.items()}
    fields |= {name: (f.annotation, f.default if not f.is_required() else ...)
               for name, f in OverlaySpec.model_fields.items()}
    return create_model("OverlayProgram", __base__=OverlaySpec.__base__, **fields)


def _translation_model() -> type[BaseModel]:
    """A translation's program.yaml: every program key optional, plus translates and language."""
    fields: dict[str, Any] = {name: (f.annotation | None, None) for name, f in ProgramMeta.model_fields.items()}
    fields |= {name: (f.annotation, f) for name, f in TranslationSpec.model_fields.items()}
    return create_model("TranslationProgram", __base__=TranslationSpec.__base__, **fields)


def _draft07(schema: dict) -> dict:
    """Rewrite pydantic's 2020-12 output ($defs) to draft-07 (definitions)."""
    text = json.dumps(schema).replace('"$defs"', '"definitions"').replace("#/$defs/", "#/definitions/")
    return json.loads(text)


def schemas() -> dict[str, dict]:
    """File name -> JSON Schema for every authored document kind."""
    models = {
        "program.schema.json": (ProgramMeta, "program.yaml"),
        "overlay.schema.json": (_overlay_model(), "program.yaml i en regional överlagring"),
        "translation.schema.json": (_translation_model(), "program.yaml i en översättning"),
        "module.schema.json": (ModuleMeta, "module.yaml"),
        "step.schema.json": (StepMeta, "front matter i ett steg"),
        "form.schema.json": (Form, "formulär och skrivuppgifter (forms/*.yaml)"),
        "activity-plan.schema.json": (ActivityPlan, "aktivitetsplaner (activity-plans/*.yaml)"),
        "film.schema.json": (Storyboard, "filmmanus (media/film/*.yaml)"),
        "package-manifest.schema.json": (Manifest, f"manifest.json i ett programpaket (format {PACKAGE_FORMAT})"),
        "package-program.schema.json": (ProgramData, f"program.json i ett programpaket (format {PACKAGE_FORMAT})"),
        "package-fragment.schema.json": (Fragment, f"ett stegs fragment i ett programpaket (format {PACKAGE_FORMAT})"),
    }
    out = {}
    for name, (model, title) in models.items():
        schema = _draft07(model.model_json_schema())
        schema = {"$schema": DRAFT_07, "$id": BASE_URL + name, "title": f"Stegvis: {title}"} | schema
        if model is ActivityPlan:
            days = schema["definitions"]["Schedule"]["properties"]["days"]
            days["propertyNames"] = {"enum": list(WEEKDAYS)}
            days["additionalProperties"] = {"type": "string", "pattern": "^([01]?[0-9]|2[0-3]):[0-5][0-9]$"}
        out[name] = schema
    return out


def dump(schema: dict) -> str:
    return json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=False) + "\n"
