"""Editor schemas: current, valid draft-07, and agreeing with the real program (issue #7)."""

from __future__ import annotations

import datetime as dt
import json

import jsonschema
import pytest

from builder.diagnostics import Diagnostics
from builder.jsonschema import dump, schemas
from builder.yamlsrc import parse_yaml
from tests.conftest import ROOT

KINDS = {
    "content/program.yaml": "program", "regions/*/program.yaml": "overlay",
    "*/modules/*/module.yaml": "module", "content/forms/*.yaml": "form", "regions/*/forms/*.yaml": "form",
    "content/activity-plans/*.yaml": "activity-plan",
    "translations/*/program.yaml": "translation", "translations/*/forms/*.yaml": "form",
}


def as_json(value):
    """YAML values as JSON sees them: dates as strings, keys as strings."""
    if isinstance(value, dict):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    return value.isoformat() if isinstance(value, dt.date) else value


def test_committed_schemas__are_current_and_valid_draft_07():
    assert sorted(schemas()) == sorted(p.name for p in (ROOT / "schemas").glob("*.json"))  # none missing or stale
    for name, schema in schemas().items():
        assert (ROOT / "schemas" / name).read_text("utf-8") == dump(schema), "run: stegvis schema"
        jsonschema.Draft7Validator.check_schema(schema)


@pytest.mark.parametrize(("pattern", "kind"), KINDS.items())
def test_real_program_files__validate_against_their_schema(pattern, kind):
    schema = schemas()[f"{kind}.schema.json"]
    files = sorted(ROOT.glob(pattern))
    assert files
    for path in files:
        text = path.read_text("utf-8")
        assert text.startswith("# yaml-language-server: $schema=") and f"{kind}.schema.json" in text.splitlines()[0]
        doc = parse_yaml(text, str(path), Diagnostics())
        jsonschema.validate(as_json(doc.data), schema)


def test_schema__rejects_what_check_rejects():
    form = schemas()["form.schema.json"]
    with pytest.raises(jsonschema.ValidationError, match="'datum' is not one of"):
        jsonschema.validate({"title": "x", "questions": [{"id": "a", "type": "datum", "label": "x"}]}, form)
    with pytest.raises(jsonschema.ValidationError, match="'extra' was unexpected"):
        jsonschema.validate({"title": "x", "questions": [], "extra": 1}, form)
    plan = schemas()["activity-plan.schema.json"]
    with pytest.raises(jsonschema.ValidationError, match="'mondag' is not one of"):
        jsonschema.validate({"title": "x", "fields": [], "schedule": {"days": {"mondag": "18:00"}}}, plan)
    module = schemas()["module.schema.json"]
    assert json.loads(json.dumps(module))["properties"]["kind"]["enum"] == ["core", "deepening"]
