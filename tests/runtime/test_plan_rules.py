"""A therapist's own activity plan is checked with the builder's ActivityPlan model (issue 12).

The model's errors reach the therapist as Swedish messages at the place they concern;
the schedule's bounds are the builder's `Schedule` model's.
"""

from __future__ import annotations

import pytest

from runtime.services.plans import PlanSettingsError, check_plan_settings, own_plan_problems

SCHEDULE = {"repeat_every_weeks": 1, "days": {"måndag": "08:00"}, "registration_window_days": 0,
            "flag_missed": False, "allow_comments": False, "activated": False, "start_date": None}


def own_plan(**fields):
    field = {"id": "falt-1", "type": "number", "label": "Antal glas", "required": False, **fields}
    return {"title": "Vattenglas", "description": "", "fields": [field], "results": {"field": "falt-1"}}


def test_own_plan__valid__no_problems():
    assert own_plan_problems(own_plan(min=0, max=20, unit="glas"), SCHEDULE) == {}


@pytest.mark.parametrize(("change", "where", "message"), [
    ({"id": "Fält 1"}, ("fields", 0, "id"), "Fältets id får bara ha små bokstäver a–z"),
    ({"type": "slider"}, ("fields", 0, "type"), "Välj tal, tidslängd, klockslag, kort text eller längre text."),
    ({"step": 0}, ("fields", 0, "step"), "Steget ska vara större än 0."),
    ({"colour": "blå"}, ("fields", 0, "colour"), "”colour” hör inte till en aktivitetsplan."),
])
def test_own_plan__field_the_model_refuses__swedish_message_at_the_field(change, where, message):
    problems = own_plan_problems(own_plan(**change), SCHEDULE)
    assert where in problems and problems[where].startswith(message), problems


def test_own_plan__no_label__the_pages_wording():
    definition = own_plan()
    del definition["fields"][0]["label"]
    assert own_plan_problems(definition, SCHEDULE) == {
        ("fields", 0, "label"): "Skriv frågan eller etiketten som patienten ser."}


@pytest.mark.parametrize(("key", "value", "message"), [
    ("repeat_every_weeks", 0, "var 1:a till var 52:a vecka"),
    ("registration_window_days", 40, "0–31 dagar"),
])
def test_schedule__outside_the_builders_bounds__refused_with_the_pages_wording(key, value, message):
    with pytest.raises(PlanSettingsError) as caught:
        check_plan_settings(**{**SCHEDULE, key: value})
    assert message in caught.value.errors[key]
