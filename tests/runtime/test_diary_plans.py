"""Diaries as activity plans (issue 17): time of day, duration, 0–10 scale and single choice.

A patient registers each field type on the plan page and through the API; a valid value
is stored (a time as "HH:MM", a duration in whole minutes) and shown in the table, an
invalid one is refused with 422 and a Swedish message. The charted field gets a chart
that suits its type, on the patient's plan page and on the therapist's results.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from runtime.models import EnrolmentPlan, Registration

PLAN = "/moment/{e}/aktivitetsplaner/{p}"
OCCASION = "2026-03-02T18:00:00Z"

DIARY = {
    "title": "Min sömndagbok",
    "description": "Fyll i varje dag.",
    "fields": [
        {"id": "lade-mig", "type": "time", "label": "När gick du och lade dig?", "required": True},
        {"id": "sovtid", "type": "duration", "label": "Hur länge sov du?", "min": 0, "max": 900},
        {"id": "kvalitet", "type": "scale", "label": "Hur sov du?", "min": 0, "max": 10,
         "labels": {"0": "Mycket dåligt", "10": "Mycket bra"}},
        {"id": "tupplur", "type": "single", "label": "Sov du på dagen?",
         "options": [{"value": "ja", "label": "Ja"}, {"value": "nej", "label": "Nej"}]},
    ],
    "results": {"field": "lade-mig"},
}


def use_diary(app, plan_pk: int, charted: str = "lade-mig") -> None:
    with app.state.stegvis.db.session() as db:
        db.get(EnrolmentPlan, plan_pk).definition = {**DIARY, "results": {"field": charted}}


@pytest.fixture
def diary(app, people):
    use_diary(app, people.plans_a["steg"])
    return PLAN.format(e=people.enrolment_a, p=people.plans_a["steg"])


def stored(app) -> list[dict]:
    with app.state.stegvis.db.session() as db:
        return [r.values for r in db.scalars(select(Registration).order_by(Registration.occasion_at))]


VALID = {"lade-mig": "23.30", "sovtid": "7 tim 15 min", "kvalitet": "7", "tupplur": "nej"}


def test_register_each_type__stored_and_shown_in_the_table(app, anna, diary):
    page = anna.get(diary).text
    assert "När gick du och lade dig? (klockslag, t.ex. 22:30)" in page
    assert "Hur länge sov du? (timmar:minuter eller minuter, t.ex. 7:30 eller 45)" in page
    assert anna.post(diary + "/registreringar", {"_occasion": OCCASION, **VALID}).status_code == 303
    assert stored(app) == [{"lade-mig": "23:30", "sovtid": 435, "kvalitet": 7, "tupplur": "nej"}]
    table = anna.get(diary).text.split("<caption>Dina registreringar</caption>")[1]
    for text in ("kl. 23.30", "7 tim 15 min", "<td>7</td>", "<td>Nej</td>"):
        assert text in table


@pytest.mark.parametrize(("field", "value", "message"), [
    ("lade-mig", "halv tolv", "Skriv klockslaget som TT:MM, till exempel 22:30."),
    ("lade-mig", "24:10", "Skriv klockslaget som TT:MM, till exempel 22:30."),
    ("sovtid", "länge", "Skriv tiden som timmar:minuter eller minuter, till exempel 7:30 eller 45."),
    ("sovtid", "7:75", "Skriv tiden som timmar:minuter eller minuter, till exempel 7:30 eller 45."),
    ("sovtid", "16:00", "Tiden får vara högst 15 tim."),
    ("kvalitet", "11", "Välj ett värde på skalan."),
    ("tupplur", "kanske", "Välj ett av alternativen."),
])
def test_register_invalid_value__422_with_swedish_message(app, anna, diary, field, value, message):
    response = anna.post(diary + "/registreringar", {"_occasion": OCCASION, **VALID, field: value})
    assert response.status_code == 422
    assert message in response.text
    assert stored(app) == []


def test_register_required_time_missing__422(app, anna, diary):
    response = anna.post(diary + "/registreringar", {"_occasion": OCCASION, **VALID, "lade-mig": ""})
    assert response.status_code == 422 and "Svara på frågan." in response.text


def test_api_register_each_type__valid_and_invalid(app, people, anna, diary):
    url = f"/api/v1/enrolments/{people.enrolment_a}/plans/{people.plans_a['steg']}/registrations"
    bad = anna.api("POST", url, {"occasion_at": OCCASION, "values": {**VALID, "sovtid": "-5"}})
    assert bad.status_code == 422
    assert bad.json()["errors"]["sovtid"].startswith("Skriv tiden som timmar:minuter")
    bad = anna.api("POST", url, {"occasion_at": OCCASION, "values": {**VALID, "lade-mig": "25:00"}})
    assert bad.status_code == 422 and bad.json()["errors"]["lade-mig"] == "Skriv klockslaget som TT:MM, till exempel 22:30."
    ok = anna.api("POST", url, {"occasion_at": OCCASION, "values": {**VALID, "sovtid": 480, "kvalitet": 3}})
    assert ok.status_code == 201, ok.text
    assert ok.json()["values"] == {"lade-mig": "23:30", "sovtid": 480, "kvalitet": 3, "tupplur": "nej"}


def add(app, plan_pk: int, *rows: tuple[str, dict]) -> None:
    from datetime import UTC, datetime

    with app.state.stegvis.db.session() as db:
        for at, values in rows:
            db.add(Registration(plan_id=plan_pk, occasion_at=datetime.fromisoformat(at).replace(tzinfo=UTC),
                                values=values, registered_at=datetime(2026, 3, 2, 12, tzinfo=UTC)))


NIGHTS = [("2026-02-16T18:00:00", {"lade-mig": "22:30", "sovtid": 420, "kvalitet": 4, "tupplur": "ja"}),
          ("2026-02-18T18:00:00", {"lade-mig": "23:30", "sovtid": 450, "kvalitet": 6, "tupplur": "nej"}),
          ("2026-02-23T18:00:00", {"lade-mig": "00:30", "sovtid": 390, "kvalitet": 8, "tupplur": "nej"})]


def chart_of(html: str) -> str:
    return html.split("<svg", 1)[1].split("</svg>", 1)[0]


def test_time_chart_on_patient_page__clock_axis_across_midnight(app, people, anna, diary):
    add(app, people.plans_a["steg"], *NIGHTS)
    svg = chart_of(anna.get(diary).text)
    assert ">23.00</text>" in svg and ">00.00</text>" in svg
    ys = [float(y) for y in re.findall(r'<circle cx="[\d.]+" cy="([\d.]+)"', svg)]
    assert len(ys) == 3
    # 22.30 → 23.30 → 00.30 are one hour apart each: the same distance, not 23 hours the other way.
    assert ys[0] - ys[1] == pytest.approx(ys[1] - ys[2]) and ys[0] > ys[1] > ys[2]
    assert "Tidigast kl. 22.30, senast kl. 00.30" in svg


@pytest.mark.parametrize(("charted", "expected"), [
    ("sovtid", [">2 tim</text>", ">8 tim</text>", ">Linje: timmar och minuter", "Lägsta värde 6 tim 30 min"]),
    ("kvalitet", [">0</text>", ">10</text>", "0 = Mycket dåligt · 10 = Mycket bra", "Skalan går från 0 till 10"]),
    ("tupplur", [">Ja</text>", ">Nej</text>", ">Staplar: antal gånger", "Ja 1 gång, Nej 2 gånger"]),
])
def test_charts_suit_the_type__on_patient_and_therapist_pages(app, people, anna, login_as, charted, expected):
    use_diary(app, people.plans_a["steg"], charted)
    add(app, people.plans_a["steg"], *NIGHTS)
    patient = chart_of(anna.get(PLAN.format(e=people.enrolment_a, p=people.plans_a["steg"])).text)
    tove = login_as("tove")
    staff = tove.get(f"/personal/moment/{people.enrolment_a}/aktivitetsplaner/{people.plans_a['steg']}")
    assert staff.status_code == 200
    for svg in (patient, chart_of(staff.text)):
        for text in expected:
            assert text in svg, (text, svg)
    if charted == "tupplur":
        assert patient.count("<rect") == 2


# --- a therapist's own plan with the new types -----------------------------------------------------


def own_plan_form(**over) -> dict:
    form = {"title": "Kvällsvila", "description": "När du lade dig och hur länge du vilade.",
            "f0-id": "", "f0-type": "time", "f0-label": "När lade du dig?", "f0-required": "ja",
            "f1-id": "", "f1-type": "duration", "f1-label": "Hur länge vilade du?", "f1-min": "0", "f1-max": "600",
            "start_date": "2026-03-02", "repeat_every_weeks": "1", "registration_window_days": "1",
            "activated": "ja", "allow_comments": "ja", "day-0": "ja", "time-0": "08:00"}
    form.update(over)
    return form


def test_own_plan_page__offers_time_and_duration(app, people, login_as):
    page = login_as("tove").get(f"/personal/moment/{people.enrolment_a}/aktivitetsplaner/ny").text
    assert '<option value="time"' in page and ">Klockslag</option>" in page
    assert '<option value="duration"' in page and ">Tidslängd</option>" in page


def test_own_plan_with_time_and_duration__created_registered_and_charted(app, people, login_as, anna):
    tove = login_as("tove")
    response = tove.post(f"/personal/moment/{people.enrolment_a}/aktivitetsplaner/ny", own_plan_form())
    assert response.status_code == 303, response.text
    pk = int(response.headers["location"].rsplit("/", 1)[1].split("?")[0])
    with app.state.stegvis.db.session() as db:
        fields = db.get(EnrolmentPlan, pk).definition["fields"]
        results = db.get(EnrolmentPlan, pk).definition["results"]
    assert [(f["type"], f.get("min"), f.get("max")) for f in fields] == [("time", None, None), ("duration", 0, 600)]
    assert results == {"field": "falt-1"}
    url = f"/moment/{people.enrolment_a}/aktivitetsplaner/{pk}/registreringar"
    too_long = anna.post(url, {"_occasion": "2026-03-02T07:00:00Z", "falt-1": "22:00", "falt-2": "11:00"})
    assert too_long.status_code == 422 and "Tiden får vara högst 10 tim." in too_long.text
    ok = anna.post(url, {"_occasion": "2026-03-02T07:00:00Z", "falt-1": "23:45", "falt-2": "1:30"})
    assert ok.status_code == 303, ok.text
    results_page = tove.get(f"/personal/moment/{people.enrolment_a}/aktivitetsplaner/{pk}").text
    assert "kl. 23.45" in results_page and "1 tim 30 min" in results_page and "Punkter: klockslag" in results_page


@pytest.mark.parametrize(("over", "message"), [
    ({"f1-max": "2000"}, "Skriv ett helt antal minuter från 0 till 1440"),
    ({"f1-min": "90", "f1-max": "30"}, "Högsta värdet ska vara större än lägsta värdet."),
    ({"f1-unit": "tim"}, "En tidslängd har ingen enhet"),
])
def test_own_plan_duration_bounds__refused_with_swedish_message(app, people, login_as, over, message):
    response = login_as("tove").post(f"/personal/moment/{people.enrolment_a}/aktivitetsplaner/ny",
                                     own_plan_form(**over))
    assert response.status_code == 422 and message in response.text


# --- FRAMÅT's diaries in the runtime ---------------------------------------------------------------


def test_framat_sleep_and_pain_diaries__registered_in_the_runtime(framat_packages, sqlite_url, clock):
    from conftest import Browser, make_settings

    from runtime.app import create_app
    from runtime.demo import seed_demo

    app = create_app(make_settings(framat_packages, sqlite_url), clock=clock)
    state = app.state.stegvis
    with state.db.session() as db:
        seed_demo(db, state.store, state.local_accounts, clock.now(), state.tz)  # activates Anna's plans
    with state.db.session() as db:
        plans = {p.plan_id: (p.enrolment_id, p.id) for p in db.scalars(select(EnrolmentPlan))
                 if p.plan_id in ("somndagbok", "smartdagbok") and p.activated}
    b = Browser(app)
    b.login("anna", "demo-anna")
    e, sleep = plans["somndagbok"]
    url = f"/moment/{e}/aktivitetsplaner/{sleep}"
    page = b.get(url).text
    occasion = re.search(r'name="_occasion" value="([^"]+)"', page).group(1)
    answers = {"lade-mig": "23:40", "somna": "20", "uppvaknanden": "1", "vaken": "0:15", "steg-upp": "06:50",
               "sovtid": "6:45", "kvalitet": "3", "trotthet": "6", "tupplur": "ja", "tupplur-tid": "25"}
    assert b.post(url + "/registreringar", {"_occasion": occasion, **{**answers, "steg-upp": "sju"}}).status_code == 422
    assert b.post(url + "/registreringar", {"_occasion": occasion, **answers}).status_code == 303
    page = b.get(url).text
    assert "Punkter: klockslag" in page and "kl. 23.40" in page and "6 tim 45 min" in page and "25 min" in page
    e, pain = plans["smartdagbok"]
    url = f"/moment/{e}/aktivitetsplaner/{pain}"
    occasion = re.search(r'name="_occasion" value="([^"]+)"', b.get(url).text).group(1)
    assert b.post(url + "/registreringar", {"_occasion": occasion, "smartniva": "4", "somn": "sadar"}).status_code == 303
    assert "0 = Ingen smärta · 10 = Värsta tänkbara smärta" in b.get(url).text
    b.close()
    state.db.dispose()
