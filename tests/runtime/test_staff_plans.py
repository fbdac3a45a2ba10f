"""Issue #9: activity plans on the staff side — overview, preview and results, schedule, content, own plans.

Runs on SQLite and PostgreSQL. The clock stands at Monday 2 March 2026, 10:00 in
Stockholm; patient A's and B's "steg" plan (Monday and Wednesday 19:00, two days'
window) and "stegmal" plan (Monday 09:00 every fourth week) started on 23 February.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from runtime.models import (
    AccessLogEntry,
    EnrolmentEvent,
    EnrolmentPlan,
    EnrolmentStatus,
    EventKind,
    Registration,
)


def base(people) -> str:
    return f"/personal/moment/{people.enrolment_a}/aktivitetsplaner"


def db(app):
    return app.state.stegvis.db.session()


def plan_row(app, pk: int) -> EnrolmentPlan:
    with db(app) as s:
        return s.get(EnrolmentPlan, pk)


def add_registration(app, plan_pk: int, at: datetime, values: dict, comment: str | None = None) -> None:
    with db(app) as s:
        s.add(Registration(plan_id=plan_pk, occasion_at=at, values=values, comment=comment,
                           registered_at=app.state.stegvis.clock.now()))


def events(app, enrolment_id: int, kind: EventKind = EventKind.plan_changed) -> list[str]:
    with db(app) as s:
        return list(s.scalars(select(EnrolmentEvent.detail).where(EnrolmentEvent.enrolment_id == enrolment_id,
                                                                  EnrolmentEvent.kind == kind)
                              .order_by(EnrolmentEvent.id)))


def logged(app, action: str) -> int:
    with db(app) as s:
        return s.scalar(select(func.count()).select_from(AccessLogEntry).where(AccessLogEntry.action == action))


def settings_form(**over) -> dict:
    """The schedule form as a browser posts it: steg's own values, changed by `over`."""
    form = {"start_date": "2026-02-23", "repeat_every_weeks": "1", "registration_window_days": "2",
            "flag_missed": "ja", "allow_comments": "ja", "activated": "ja", "day-0": "ja", "time-0": "19:00",
            "day-2": "ja", "time-2": "19:00"}
    form.update(over)
    return {k: v for k, v in form.items() if v is not None}


MONDAY_EVENING = datetime(2026, 2, 23, 18, 0, tzinfo=UTC)  # Monday 23 February, 19:00 in Stockholm
WEDNESDAY_EVENING = datetime(2026, 2, 25, 18, 0, tzinfo=UTC)


# --- overview ------------------------------------------------------------------------------------


def test_overview__lists_each_plan_with_its_settings_and_registrations__ok(app, people, login_as):
    add_registration(app, people.plans_a["steg"], MONDAY_EVENING, {"steg": 8000})
    page = login_as("tove").get(base(people))
    assert page.status_code == 200
    text = page.text
    assert "<caption>Momentets aktivitetsplaner</caption>" in text
    assert "Antal steg" in text and "Mitt stegmål" in text
    assert "måndag 23 februari 2026" in text
    assert "Måndag och onsdag kl. 19.00, varje vecka." in text
    assert "Måndag kl. 09.00, var 4:e vecka." in text
    assert "Tillfällets dag och 2 dagar efter." in text
    assert '<td>1</td>' in text  # one registration in steg
    assert "Skapa en egen aktivitetsplan" in text and "/installningar" in text
    assert logged(app, "plan.list") == 1


def test_overview__who_sees_what__refused_or_read_only(app, people, login_as):
    url = base(people)
    assert login_as("olle").get(url).status_code == 404  # another unit
    assert login_as("dan").get(url).status_code == 404  # data administrator: nothing about enrolments
    assert login_as("anna").get(url).status_code == 403  # a patient
    colleague = login_as("tim").get(url)
    assert colleague.status_code == 200 and "/installningar" not in colleague.text
    assert "Skapa en egen aktivitetsplan" not in colleague.text
    assert login_as("cissi").get(url).status_code == 200
    assert "/installningar" in login_as("cissi").get(url).text  # a citizen administrator may change them


def test_plan_ids__another_enrolments_plan_or_no_plan__not_found(app, people, tove):
    assert tove.get(f"{base(people)}/{people.plans_b['steg']}").status_code == 404
    assert tove.get(f"{base(people)}/999999").status_code == 404
    assert tove.get(f"{base(people)}/{people.plans_b['steg']}/installningar").status_code == 404
    assert tove.post(f"{base(people)}/{people.plans_b['steg']}/installningar", settings_form()).status_code == 404
    assert tove.get(f"{base(people)}/inte-ett-tal").status_code == 404


# --- preview and results -------------------------------------------------------------------------


def test_preview__fields_schedule_next_occasions_and_results_as_chart_and_table__ok(app, people, tove):
    steg = people.plans_a["steg"]
    add_registration(app, steg, MONDAY_EVENING, {"steg": 8000}, "Regnigt")
    add_registration(app, steg, WEDNESDAY_EVENING, {"steg": 10500})
    add_registration(app, people.plans_a["stegmal"], datetime(2026, 2, 23, 8, 0, tzinfo=UTC), {"mal": 9000})
    page = tove.get(f"{base(people)}/{steg}")
    assert page.status_code == 200
    text = page.text
    assert "Förhandsvisning: så ser patienten planen" in text
    # The field, as the patient sees it, not fillable (the comment box below is always disabled).
    assert re.search(r'<input [^>]*name="steg"[^>]*disabled>', text)
    assert "Antal steg (steg)" in text
    # Next occasions from now: Monday 2 March 19:00 is the first whose window is still open after Monday 23's.
    assert "måndag 2 mars 2026 kl. 19.00" in text and "onsdag 4 mars 2026 kl. 19.00" in text
    assert "Skriv in dina steg." in text
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in text and 'role="img"' in text
    assert "<caption>Patientens registreringar (2)</caption>" in text
    assert "8\u00a0000 steg" in text and "10\u00a0500 steg" in text and "Regnigt" in text
    assert "Patientens mål: 9\u00a0000 steg." in text
    assert logged(app, "plan.read") == 1


def test_preview__plan_without_start_date__says_there_are_no_occasions(app, people, tove):
    with db(app) as s:
        s.get(EnrolmentPlan, people.plans_a["steg"]).start_date = None
        s.get(EnrolmentPlan, people.plans_a["steg"]).activated = False
    text = tove.get(f"{base(people)}/{people.plans_a['steg']}").text
    assert "Inga tillfällen: planen har inget startdatum" in text
    assert "Inte aktiverad: patienten ser inte planen." in text


# --- schedule settings ---------------------------------------------------------------------------


def test_settings__form_shows_the_plans_values__ok(app, people, tove):
    text = tove.get(f"{base(people)}/{people.plans_a['steg']}/installningar").text
    assert 'name="start_date" value="2026-02-23"' in text
    assert 'id="dag-0" name="day-0" value="ja" checked' in text
    assert 'id="tid-0" name="time-0" value="19:00"' in text
    assert 'id="dag-1" name="day-1" value="ja">' in text  # Tuesday not chosen
    assert 'name="activated" value="ja" aria-describedby="aktiverad-hjalp" checked' in text
    assert "<legend>Veckodagar och klockslag</legend>" in text


def test_settings__saved_with_an_event_and_a_log_row__ok(app, people, tove):
    pk = people.plans_a["steg"]
    form = settings_form(start_date="2026-03-09", repeat_every_weeks="2", registration_window_days="1",
                         flag_missed=None, **{"day-2": None, "day-4": "ja", "time-4": "7.30"})
    response = tove.post(f"{base(people)}/{pk}/installningar", form)
    assert response.status_code == 303 and response.headers["location"].endswith(f"/{pk}?sparat=1")
    plan = plan_row(app, pk)
    assert plan.start_date == date(2026, 3, 9) and plan.repeat_every_weeks == 2
    assert plan.days == {"måndag": "19:00", "fredag": "07:30"}
    assert plan.registration_window_days == 1 and plan.flag_missed is False and plan.activated is True
    detail = events(app, people.enrolment_a)[-1]
    assert "Antal steg" in detail and "startdatum" in detail and "veckodagar och klockslag" in detail
    assert "aktiverad från måndag 9 mars 2026" in detail
    assert logged(app, "plan.customise") == 1
    assert "Inställningarna är sparade." in tove.get(response.headers["location"]).text
    assert "Måndag kl. 19.00; fredag kl. 07.30, var 2:e vecka." in tove.get(base(people)).text


def test_settings__nothing_changed__no_event(app, people, tove):
    response = tove.post(f"{base(people)}/{people.plans_a['steg']}/installningar", settings_form())
    assert response.headers["location"].endswith("?oforandrat=1")
    assert events(app, people.enrolment_a) == []


@pytest.mark.parametrize(("over", "message", "anchor"), [
    ({"start_date": ""}, "Ange ett startdatum innan planen aktiveras.", "startdatum"),
    ({"start_date": "2026-02-30"}, "Skriv startdatumet som ÅÅÅÅ-MM-DD", "startdatum"),
    ({"day-0": None, "day-2": None}, "Välj minst en veckodag med ett klockslag innan planen aktiveras.", "dag-0"),
    ({"time-0": "25:00"}, "ska skrivas TT:MM", "tid-0"),
    ({"time-2": ""}, "Skriv ett klockslag för onsdag", "tid-2"),
    ({"repeat_every_weeks": "0"}, "var 1:a till var 52:a vecka", "upprepning"),
    ({"repeat_every_weeks": "ofta"}, "mellan upprepningarna, 1–52", "upprepning"),
    ({"registration_window_days": "40"}, "0–31 dagar", "sen-registrering"),
])
def test_settings__bad_values__refused_with_a_linked_message_and_nothing_stored(app, people, tove, over, message,
                                                                               anchor):
    pk = people.plans_a["steg"]
    response = tove.post(f"{base(people)}/{pk}/installningar", settings_form(**over))
    assert response.status_code == 422
    assert message in response.text
    assert f'href="#{anchor}"' in response.text and f'id="{anchor}"' in response.text
    assert "<title>Fel: " in response.text
    assert 'aria-invalid="true"' in response.text
    plan = plan_row(app, pk)
    assert plan.days == {"måndag": "19:00", "onsdag": "19:00"} and plan.start_date == date(2026, 2, 23)
    assert events(app, people.enrolment_a) == []


def test_settings__a_plan_not_activated_needs_no_start_or_days__ok(app, people, tove):
    pk = people.plans_a["steg"]
    response = tove.post(f"{base(people)}/{pk}/installningar",
                         settings_form(start_date="", activated=None, **{"day-0": None, "day-2": None}))
    assert response.status_code == 303
    plan = plan_row(app, pk)
    assert plan.activated is False and plan.start_date is None and plan.days == {}
    overview = tove.get(base(people)).text
    assert "Inga veckodagar valda." in overview and "Inte satt" in overview


def test_settings__refused_for_a_colleague_and_other_units(app, people, login_as):
    url = f"{base(people)}/{people.plans_a['steg']}/installningar"
    tim = login_as("tim")
    assert tim.get(url).status_code == 403
    refused = tim.post(url, settings_form(activated=None))
    assert refused.status_code == 403 and "behandlare eller en invånaradministratör" in refused.text
    assert login_as("olle").post(url, settings_form()).status_code == 404
    assert plan_row(app, people.plans_a["steg"]).activated is True
    assert login_as("cissi").post(url, settings_form(activated=None)).status_code == 303


def test_deactivated_plan__invisible_to_the_patient(app, people, tove, anna):
    pk = people.plans_a["steg"]
    assert anna.get(f"/moment/{people.enrolment_a}/aktivitetsplaner/{pk}").status_code == 200
    assert tove.post(f"{base(people)}/{pk}/installningar", settings_form(activated=None)).status_code == 303
    assert anna.get(f"/moment/{people.enrolment_a}/aktivitetsplaner/{pk}").status_code == 404
    assert "Antal steg" not in anna.get(f"/moment/{people.enrolment_a}").text
    listed = anna.api("GET", f"/api/v1/enrolments/{people.enrolment_a}/plans").json()
    assert [p["id"] for p in listed] == [people.plans_a["stegmal"]]
    refused = anna.post(f"/moment/{people.enrolment_a}/aktivitetsplaner/{pk}/registreringar",
                        {"_occasion": "2026-03-02T18:00:00Z", "steg": "100"})
    assert refused.status_code == 404
    # Patient B's copy of the same plan is untouched.
    assert plan_row(app, people.plans_b["steg"]).activated is True


def test_api_plan_settings__same_rules_and_event_as_the_page(app, people, login_as):
    tove = login_as("tove")
    url = f"/api/v1/staff/enrolments/{people.enrolment_a}/plans/{people.plans_a['steg']}"
    body = {"start_date": "2026-03-02", "repeat_every_weeks": 1, "days": {}, "registration_window_days": 0,
            "activated": True}
    refused = tove.api("PUT", url, body)
    assert refused.status_code == 422 and "days" in refused.json()["errors"]
    bad_time = tove.api("PUT", url, {**body, "days": {"måndag": "9"}})
    assert bad_time.status_code == 422 and "day:måndag" in bad_time.json()["errors"]
    ok = tove.api("PUT", url, {**body, "days": {"tisdag": "8:05"}})
    assert ok.status_code == 200 and ok.json()["days"] == {"tisdag": "08:05"}
    assert len(events(app, people.enrolment_a)) == 1
    assert login_as("tim").api("PUT", url, body).status_code == 403
    assert login_as("olle").api("PUT", url, body).status_code == 404


# --- content: fields and texts for this patient --------------------------------------------------


def content_form(**over) -> dict:
    """The content form of steg as a browser posts it (one field, four empty rows), changed by `over`."""
    form = {"title": "Antal steg", "description": "Skriv in dina steg.", "f0-id": "steg", "f0-type": "number",
            "f0-label": "Antal steg", "f0-help": "", "f0-unit": "steg", "f0-min": "0", "f0-max": "",
            "f0-required": "ja"}
    for i in range(1, 5):
        form.update({f"f{i}-id": "", f"f{i}-type": "number", f"f{i}-label": "", f"f{i}-help": "", f"f{i}-unit": "",
                     f"f{i}-min": "", f"f{i}-max": ""})
    form.update(over)
    return {k: v for k, v in form.items() if v is not None}


def test_content_form__shows_the_program_version__ok(app, people, tove):
    text = tove.get(f"{base(people)}/{people.plans_a['steg']}/innehall").text
    assert 'name="title" value="Antal steg"' in text
    assert 'name="f0-id" value="steg"' in text and 'name="f0-unit" value="steg"' in text
    assert "<legend>Fält 2 (nytt)</legend>" in text
    assert "Återställ till programmets version" not in text  # nothing to reset yet


def test_content_edit__texts_and_field_stored_for_this_patient_only__ok(app, people, tove, anna):
    pk = people.plans_a["steg"]
    form = content_form(title="Mina promenadsteg", description="Räkna stegen varje kväll.",
                        **{"f0-label": "Steg i dag", "f0-help": "Titta i mobilen.", "f0-unit": "st",
                           "f0-min": "0", "f0-max": "50 000",
                           "f1-type": "textarea", "f1-label": "Hur kändes det?"})
    response = tove.post(f"{base(people)}/{pk}/innehall", form)
    assert response.status_code == 303, response.text
    definition = plan_row(app, pk).definition
    assert definition["title"] == "Mina promenadsteg"
    assert definition["fields"][0] == {"id": "steg", "type": "number", "label": "Steg i dag", "required": True,
                                       "help": "Titta i mobilen.", "unit": "st", "min": 0, "max": 50000}
    assert definition["fields"][1] == {"id": "falt-1", "type": "textarea", "label": "Hur kändes det?",
                                       "required": False}
    assert definition["results"]["field"] == "steg"  # the chart and its goal stay
    assert plan_row(app, people.plans_b["steg"]).definition is None
    detail = events(app, people.enrolment_a)[-1]
    assert "Mina promenadsteg" in detail and "nya fält: ”Hur kändes det?”" in detail
    assert logged(app, "plan.edit") == 1
    # The patient sees the edited plan, and the new limits are enforced.
    page = anna.get(f"/moment/{people.enrolment_a}/aktivitetsplaner/{pk}").text
    assert "Mina promenadsteg" in page and "Steg i dag (st)" in page and "Titta i mobilen." in page
    assert "Hur kändes det?" in page
    saturday = anna.post(f"/moment/{people.enrolment_a}/aktivitetsplaner/{pk}/registreringar",
                         {"_occasion": "2026-02-28T18:00:00Z", "steg": "60000"})
    assert saturday.status_code == 422 and "Välj ett tillfälle i schemat." in saturday.text  # not an occasion
    registered = anna.post(f"/moment/{people.enrolment_a}/aktivitetsplaner/{pk}/registreringar",
                           {"_occasion": "2026-03-02T18:00:00Z", "steg": "60000"})
    assert registered.status_code == 422 and "högst 50" in registered.text
    assert "Programmets plan, ändrad för patienten" in tove.get(base(people)).text


def test_content_edit__saving_the_program_version_unchanged__stores_nothing(app, people, tove):
    pk = people.plans_a["steg"]
    response = tove.post(f"{base(people)}/{pk}/innehall", content_form())
    assert response.headers["location"].endswith("?oforandrat=1")
    assert plan_row(app, pk).definition is None and events(app, people.enrolment_a) == []


def test_content_edit__field_with_registrations_cannot_be_removed_or_become_text(app, people, tove):
    pk = people.plans_a["steg"]
    add_registration(app, pk, MONDAY_EVENING, {"steg": 8000})
    removed = tove.post(f"{base(people)}/{pk}/innehall", content_form(**{"f1-label": "Puls", "f0-remove": "ja"}))
    assert removed.status_code == 422
    assert "kan inte tas bort: patienten har registrerat värden i fältet (1 registreringar)" in removed.text
    assert 'href="#f0-remove"' in removed.text
    retyped = tove.post(f"{base(people)}/{pk}/innehall", content_form(**{"f0-type": "text"}))
    assert retyped.status_code == 422 and "kan inte byta typ från tal till kort text" in retyped.text
    assert plan_row(app, pk).definition is None
    # Its texts may change all the same.
    assert tove.post(f"{base(people)}/{pk}/innehall", content_form(**{"f0-label": "Steg"})).status_code == 303


def test_content_edit__field_without_registrations_removed_and_retyped__ok(app, people, tove):
    pk = people.plans_a["steg"]
    form = content_form(**{"f0-remove": "ja", "f1-label": "Minuter ute", "f1-unit": "min", "f1-min": "1,5"})
    assert tove.post(f"{base(people)}/{pk}/innehall", form).status_code == 303
    definition = plan_row(app, pk).definition
    assert [f["id"] for f in definition["fields"]] == ["falt-1"]
    assert definition["fields"][0]["min"] == 1.5
    assert definition["results"] == {"field": "falt-1"}  # the chart moves to the number that is left
    assert "borttagna fält: ”Antal steg”" in events(app, people.enrolment_a)[-1]


@pytest.mark.parametrize(("over", "message", "anchor"), [
    ({"title": " "}, "Skriv en rubrik för planen.", "titel"),
    ({"f0-label": ""}, "Skriv frågan eller etiketten", "f0-label"),
    ({"f0-min": "tio"}, "Skriv lägsta värdet som ett tal", "f0-min"),
    ({"f0-min": "10", "f0-max": "5"}, "Högsta värdet ska vara större än", "f0-max"),
    ({"f1-type": "scale", "f1-label": "Skala"}, "Välj tal, tidslängd, klockslag, kort text eller längre text.", "f1-type"),
    ({"f0-remove": "ja"}, "Planen behöver minst ett fält", "falt"),
])
def test_content_edit__bad_values__refused_with_a_linked_message(app, people, tove, over, message, anchor):
    pk = people.plans_a["steg"]
    response = tove.post(f"{base(people)}/{pk}/innehall", content_form(**over))
    assert response.status_code == 422
    assert message in response.text
    assert f'href="#{anchor}"' in response.text and f'id="{anchor}"' in response.text
    assert plan_row(app, pk).definition is None


def test_content_edit__a_field_id_the_plan_does_not_have__refused(app, people, tove):
    pk = people.plans_a["steg"]
    response = tove.post(f"{base(people)}/{pk}/innehall", content_form(**{"f1-id": "hittepa", "f1-label": "X"}))
    assert response.status_code == 409 and "Ladda om sidan" in response.text
    assert plan_row(app, pk).definition is None


def test_content_reset__back_to_the_program_version__ok(app, people, tove):
    pk = people.plans_a["steg"]
    tove.post(f"{base(people)}/{pk}/innehall", content_form(title="Egna steg"))
    assert "Återställ till programmets version" in tove.get(f"{base(people)}/{pk}/innehall").text
    response = tove.post(f"{base(people)}/{pk}/aterstall")
    assert response.status_code == 303 and response.headers["location"].endswith("?aterstallt=1")
    assert plan_row(app, pk).definition is None
    assert "återställdes till programmets version" in events(app, people.enrolment_a)[-1]
    assert logged(app, "plan.reset") == 1


def test_content_reset__refused_when_registrations_are_in_a_field_the_program_lacks(app, people, tove):
    pk = people.plans_a["steg"]
    tove.post(f"{base(people)}/{pk}/innehall", content_form(**{"f1-label": "Puls", "f1-unit": "slag/min"}))
    add_registration(app, pk, MONDAY_EVENING, {"steg": 8000, "falt-1": 72})
    response = tove.post(f"{base(people)}/{pk}/aterstall")
    assert response.status_code == 409
    assert "Planen kan inte återställas" in response.text and "”Puls”" in response.text
    assert plan_row(app, pk).definition is not None


# --- a plan of the patient's own -----------------------------------------------------------------


def new_plan_form(**over) -> dict:
    form = {"title": "Vattenglas", "description": "Räkna glasen vatten du dricker.",
            "f0-id": "", "f0-type": "number", "f0-label": "Antal glas", "f0-unit": "glas", "f0-min": "0",
            "f0-max": "30", "f0-required": "ja", "f1-id": "", "f1-type": "text", "f1-label": "Något att tillägga?",
            "start_date": "2026-03-02", "repeat_every_weeks": "1", "registration_window_days": "1",
            "activated": "ja", "allow_comments": "ja", "day-0": "ja", "time-0": "08:00"}
    form.update(over)
    return {k: v for k, v in form.items() if v is not None}


def test_new_plan__created_for_this_patient_and_usable__ok(app, people, tove, anna):
    assert "Ny aktivitetsplan för patienten" in tove.get(f"{base(people)}/ny").text
    response = tove.post(f"{base(people)}/ny", new_plan_form())
    assert response.status_code == 303, response.text
    pk = int(response.headers["location"].rsplit("/", 1)[1].split("?")[0])
    plan = plan_row(app, pk)
    assert plan.plan_id is None and plan.enrolment_id == people.enrolment_a
    assert plan.definition["title"] == "Vattenglas"
    assert [f["id"] for f in plan.definition["fields"]] == ["falt-1", "falt-2"]
    assert plan.definition["results"] == {"field": "falt-1"}
    assert plan.days == {"måndag": "08:00"} and plan.activated and plan.start_date == date(2026, 3, 2)
    assert "Egen aktivitetsplan ”Vattenglas” skapades med 2 fält, aktiverad" in events(app, people.enrolment_a)[-1]
    assert logged(app, "plan.create") == 1
    # The patient sees and registers it; the therapist sees the result.
    assert "Vattenglas" in anna.get(f"/moment/{people.enrolment_a}").text
    registered = anna.post(f"/moment/{people.enrolment_a}/aktivitetsplaner/{pk}/registreringar",
                           {"_occasion": "2026-03-02T07:00:00Z", "falt-1": "6", "falt-2": "Bra dag"})
    assert registered.status_code == 303, registered.text
    preview = tove.get(f"{base(people)}/{pk}").text
    assert "Egen plan för patienten" in preview and "6 glas" in preview and "Bra dag" in preview
    assert "Egen plan för patienten" in tove.get(base(people)).text
    assert "Återställ" not in tove.get(f"{base(people)}/{pk}/innehall").text


def test_new_plan__bad_input__refused_with_every_message_and_nothing_stored(app, people, tove):
    with db(app) as s:
        before = s.scalar(select(func.count()).select_from(EnrolmentPlan))
    response = tove.post(f"{base(people)}/ny", new_plan_form(title="", start_date="", **{
        "f0-label": "", "f0-unit": "", "f0-min": "", "f0-max": "", "f1-label": "", "time-0": "8"}))
    assert response.status_code == 422
    for message in ("Skriv en rubrik för planen.", "Planen behöver minst ett fält",
                    "ska skrivas TT:MM"):
        assert message in response.text
    assert 'value="Räkna glasen vatten du dricker."' not in response.text  # a textarea keeps it as content
    assert "Räkna glasen vatten du dricker." in response.text
    with db(app) as s:
        assert s.scalar(select(func.count()).select_from(EnrolmentPlan)) == before


def test_new_plan__refused_for_a_colleague(app, people, login_as):
    tim = login_as("tim")
    assert tim.get(f"{base(people)}/ny").status_code == 403
    assert tim.post(f"{base(people)}/ny", new_plan_form()).status_code == 403


# --- closed enrolments ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [EnrolmentStatus.maintenance, EnrolmentStatus.ended])
def test_plans__cannot_change_in_maintenance_or_after_the_end(app, people, tove, status):
    from runtime.models import Enrolment

    with db(app) as s:
        e = s.get(Enrolment, people.enrolment_a)
        e.status = status
        e.maintenance_until = date(2026, 4, 1) if status == EnrolmentStatus.maintenance else None
    pk = people.plans_a["steg"]
    word = "vidmakthållande" if status == EnrolmentStatus.maintenance else "avslutat"
    page = tove.get(f"{base(people)}/{pk}/installningar")
    assert page.status_code == 200 and word in page.text and "<form method=\"post\" action=\"/personal/moment" \
        not in page.text.split("</header>", 2)[-1]
    for url, form in ((f"{base(people)}/{pk}/installningar", settings_form(activated=None)),
                      (f"{base(people)}/{pk}/innehall", content_form(title="X")),
                      (f"{base(people)}/ny", new_plan_form())):
        refused = tove.post(url, form)
        assert refused.status_code == 403 and word in refused.text, url
    assert plan_row(app, pk).activated is True and plan_row(app, pk).definition is None
    assert tove.get(base(people)).status_code == 200  # reading stays open
