"""Activity-plan field types for diaries (issue 17): time of day, duration, scale, single choice.

A plan's fields may be `time` (HH:MM) and `duration` (whole minutes) besides a form's
question types; its results may chart a number, scale, duration, time or single field.
The rules and their codes: PLAN-003 (unknown field), PLAN-007 (a field that cannot be
charted), PLAN-008 (a duration's bounds), PLAN-009 (a goal on a chart without one),
PLAN-010 (a scale whose ends are not explained; a warning). Codes and lines are the
contract, not the wording.
"""

from __future__ import annotations

import pytest

from builder.diagnostics import Severity
from builder.schema.activity_plan import ActivityPlan
from tests.conftest import diagnose
from tests.unit.test_diagnostics import sub

DIARY = "activity-plans/somn.yaml"
TEXT = """\
title: Sömndagbok
description: Fyll i varje morgon.
fields:
  - id: lade-mig
    type: time
    label: När gick du och lade dig?
    required: true
  - id: sovtid
    type: duration
    label: Hur länge sov du?
    min: 0
    max: 900
  - id: kvalitet
    type: scale
    label: Hur sov du?
    min: 0
    max: 10
    labels: {0: Mycket dåligt, 10: Mycket bra}
  - id: tupplur
    type: single
    label: Sov du på dagen?
    options:
      - {value: ja, label: Ja}
      - {value: nej, label: Nej}
  - id: annat
    type: textarea
    label: Något annat?
schedule:
  days: {måndag: "09:00", tisdag: "09:00"}
  activated: false
results:
  field: sovtid
  goal: 420
"""


def diary(*edits):
    text = TEXT
    for edit in edits:
        text = edit(text)
    return {DIARY: text}


def test_time_duration_scale_and_single_fields__ok(program):
    assert [d for d in diagnose(program(diary())) if d.path == DIARY] == []


@pytest.mark.parametrize("field", ["lade-mig", "sovtid", "kvalitet", "tupplur"])
def test_results_of_each_chartable_type__ok(program, field):
    edits = [sub("field: sovtid", f"field: {field}")]
    if field in ("lade-mig", "tupplur"):
        edits.append(sub("  goal: 420\n", ""))
    assert [d for d in diagnose(program(diary(*edits))) if d.path == DIARY] == []


CASES = [
    # id, edits, code, line
    ("results-text-field", [sub("field: sovtid", "field: annat")], "PLAN-007", 32),
    ("results-unknown-field", [sub("field: sovtid", "field: sovtiden")], "PLAN-003", 32),
    ("duration-negative-min", [sub("    min: 0\n    max: 900", "    min: -5\n    max: 900")], "PLAN-008", 11),
    ("duration-max-over-a-day", [sub("max: 900", "max: 2000")], "PLAN-008", 12),
    ("duration-fraction", [sub("max: 900", "max: 90.5")], "PLAN-008", 12),
    ("duration-min-not-below-max", [sub("    min: 0\n    max: 900", "    min: 600\n    max: 600")], "PLAN-008", 12),
    ("goal-on-time-chart", [sub("field: sovtid", "field: lade-mig")], "PLAN-009", 33),
    ("goal-on-single-chart", [sub("field: sovtid", "field: tupplur")], "PLAN-009", 33),
    ("scale-without-labels", [sub("    labels: {0: Mycket dåligt, 10: Mycket bra}\n", "")], "PLAN-010", 14),
    ("scale-one-end-explained", [sub("10: Mycket bra", "9: Bra")], "PLAN-010", 18),
    ("time-with-min", [sub("    required: true\n", "    required: true\n    min: 0\n", )], "FORM-009", 8),
    ("duration-with-unit", [sub("    max: 900\n", "    max: 900\n    unit: min\n")], "FORM-009", 13),
    ("unknown-field-type", [sub("type: time", "type: klockslag")], "SCHEMA-004", 5),
]


@pytest.mark.parametrize(("edits", "code", "line"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_plan_field_mistake__names_code_file_and_line(program, edits, code, line):
    found = diagnose(program(diary(*edits)))
    hits = [(d.code, d.path, d.line) for d in found]
    assert (code, DIARY, line) in hits, "\n".join(f"{d.path}:{d.line}: {d.code} {d.message}" for d in found)
    d = next(d for d in found if (d.code, d.path, d.line) == (code, DIARY, line))
    assert d.message and d.hint


def test_scale_without_labels__is_a_warning_not_an_error(program):
    found = diagnose(program(diary(sub("    labels: {0: Mycket dåligt, 10: Mycket bra}\n", ""))))
    assert next(d for d in found if d.code == "PLAN-010").severity == Severity.WARNING


def test_time_and_duration_in_a_form__not_allowed(program):
    found = diagnose(program({"forms/mal.yaml": sub("type: date", "type: time")}))
    assert "SCHEMA-004" in {d.code for d in found}


def test_unknown_field_type__hint_lists_the_new_types(program):
    found = diagnose(program(diary(sub("type: time", "type: tid"))))
    d = next(d for d in found if d.code == "SCHEMA-004")
    assert "time" in d.hint and "duration" in d.hint


def test_plan_schema__offers_time_and_duration():
    schema = ActivityPlan.model_json_schema()
    field_type = schema["$defs"]["PlanField"]["properties"]["type"]
    assert {"time", "duration"} <= set(field_type["enum"])
