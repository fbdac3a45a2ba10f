"""Issue #9: flags — the page that explains them, hiding one, and the missed-registration check.

Raised by patients' actions (form with flag_on_submit, message, page comment) and by
the missed-registration check, which finds occasions whose registration window has
closed without a registration. The check is tested on the database (idempotent,
which plans it looks at, that it runs before the overview), across the summer-time
changes in Europe/Stockholm (tables), and as a property: however the time is cut into
runs, each missed occasion is flagged exactly once.

The seeded "steg" plan: Monday and Wednesday 19:00, two days' window, from Monday
23 February, activated, flag_missed on; the clock stands at Monday 2 March 09:00 UTC.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from test_schedule import PROPERTIES, schedules

from runtime.models import (
    AccessLogEntry,
    Enrolment,
    EnrolmentPlan,
    EnrolmentStatus,
    Flag,
    FlagKind,
    Registration,
)
from runtime.schedule import iter_occasions
from runtime.services.flags import check_missed_registrations, missed_occasions
from runtime.views import FLAG_INFO, HIDING

TZ = ZoneInfo("Europe/Stockholm")
FORM = "/moment/{e}/steg/start/mitt-mal/formular/mal"


def db(app):
    return app.state.stegvis.db.session()


def check(app, now: datetime) -> int:
    """Run the check once over every unit, as the background job does, in its own transaction."""
    state = app.state.stegvis
    with db(app) as s:
        return check_missed_registrations(s, now, TZ, store=state.store)


def missed_flags(app, enrolment_id: int | None = None) -> list[Flag]:
    with db(app) as s:
        q = select(Flag).where(Flag.kind == FlagKind.missed_registration)
        if enrolment_id is not None:
            q = q.where(Flag.enrolment_id == enrolment_id)
        return list(s.scalars(q.order_by(Flag.id)))


def set_plan(app, plan_id: int, **values) -> None:
    with db(app) as s:
        plan = s.get(EnrolmentPlan, plan_id)
        for key, value in values.items():
            setattr(plan, key, value)


def hide_url(eid: int, flag_id: int) -> str:
    return f"/personal/moment/{eid}/flaggor/{flag_id}/dolj"


def add_flag(app, enrolment_id: int) -> int:
    with db(app) as s:
        flag = Flag(enrolment_id=enrolment_id, kind=FlagKind.message, ref_type="message", ref_id=1, detail="Hej",
                    created_at=app.state.stegvis.clock.now())
        s.add(flag)
        s.flush()
        return flag.id


# --- the flag page ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["tove", "tim", "cissi"])
def test_flag_page__every_kind_explained(app, people, login_as, name):
    page = login_as(name).get("/personal/flaggor")
    assert page.status_code == 200
    assert "<caption>Alla slags flaggor</caption>" in page.text
    for info in FLAG_INFO.values():
        assert f'<tr id="flagga-{info.kind.value}">' in page.text
        assert info.label in page.text and info.meaning in page.text and f"<td>{info.raised}</td>" in page.text
        assert f"<td>{info.target[0].upper()}{info.target[1:]}.</td>" in page.text
    assert set(FLAG_INFO) == set(FlagKind)
    assert "Flagga vid missad aktivitet" in page.text
    assert (f"<p>{HIDING} Bara patientens behandlare, eller en invånaradministratör, kan dölja en flagga.</p>"
            in page.text)
    assert 'href="/personal/flaggor" aria-current="page"' in page.text


@pytest.mark.parametrize("name", ["agnes", "dan"])
def test_flag_page__refused_without_overview(app, people, login_as, name):
    page = login_as(name).get("/personal/flaggor")
    assert page.status_code == 403 and "Din roll på vårdenheten räcker inte" in page.text


# --- raised by the patient ----------------------------------------------------------------------


def test_patient_actions__raise_the_three_kinds(app, people, anna):
    e = people.enrolment_a
    assert anna.post(FORM.format(e=e), {"_action": "submit", "mal": "Gå mer"}).status_code == 303
    assert anna.post(FORM.format(e=e) + "/kommentarer", {"body": "Hur menar ni?"}).status_code == 303
    assert anna.post(f"/moment/{e}/meddelanden", {"subject": "Fråga", "body": "Får jag cykla?"}).status_code == 303
    with db(app) as s:
        kinds = sorted((f.kind.value, f.ref_type, f.detail) for f in s.scalars(select(Flag).where(Flag.enrolment_id == e)))
    assert kinds == [("form_submitted", "form_submission", "Mitt mål"), ("message", "message", "Fråga"),
                     ("page_comment", "page_comment", "Mitt mål")]


# --- hiding ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["tove", "cissi"])
def test_hide__sets_hidden_and_logs(app, people, login_as, name):
    flag_id = add_flag(app, people.enrolment_a)
    browser = login_as(name)
    response = browser.post(hide_url(people.enrolment_a, flag_id))
    assert response.status_code == 303
    assert response.headers["location"] == f"/personal/moment/{people.enrolment_a}?dold=1#handelser"
    who = people.therapist if name == "tove" else people.citizen_admin
    with db(app) as s:
        flag = s.get(Flag, flag_id)
        assert flag.hidden_at == app.state.stegvis.clock.now() and flag.hidden_by == who
        log = s.scalar(select(AccessLogEntry).where(AccessLogEntry.action == "flag.hide"))
        assert (log.actor_id, log.enrolment_id, log.patient_id, log.target) == (
            who, people.enrolment_a, people.patient_a, f"flag:{flag_id}")
    page = browser.get(response.headers["location"]).text
    assert "Flaggan är dold." in page and f"flaggor/{flag_id}/dolj" not in page


def test_hide__twice_changes_nothing(app, people, login_as, clock):
    flag_id = add_flag(app, people.enrolment_a)
    tove = login_as("tove")
    tove.post(hide_url(people.enrolment_a, flag_id))
    clock.advance(minutes=5)
    again = tove.post(hide_url(people.enrolment_a, flag_id))
    assert again.status_code == 303 and "redan-dold" in again.headers["location"]
    with db(app) as s:
        assert s.get(Flag, flag_id).hidden_at == clock.now() - timedelta(minutes=5)
        assert s.scalar(select(func.count()).select_from(AccessLogEntry)
                        .where(AccessLogEntry.action == "flag.hide")) == 1


@pytest.mark.parametrize(("name", "status"), [("tim", 403), ("agnes", 404), ("dan", 404), ("olle", 404)])
def test_hide__refused_for_roles_and_other_units(app, people, login_as, name, status):
    flag_id = add_flag(app, people.enrolment_a)
    response = login_as(name).post(hide_url(people.enrolment_a, flag_id))
    assert response.status_code == status
    if status == 403:
        assert "Bara patientens behandlare eller en invånaradministratör" in response.text
    with db(app) as s:
        assert s.get(Flag, flag_id).hidden_at is None


def test_hide__flag_of_another_enrolment_or_unknown__not_found(app, people, login_as):
    flag_b = add_flag(app, people.enrolment_b)
    tove = login_as("tove")
    assert tove.post(hide_url(people.enrolment_a, flag_b)).status_code == 404  # B's flag under A's enrolment
    assert tove.post(hide_url(people.enrolment_a, 99999)).status_code == 404
    assert tove.post(hide_url(99999, flag_b)).status_code == 404
    assert tove.post(f"/personal/moment/{people.enrolment_a}/flaggor/abc/dolj").status_code == 404
    with db(app) as s:
        assert s.get(Flag, flag_b).hidden_at is None


def test_hide__patient_csrf_and_get_refused(app, people, login_as, anna):
    flag_id = add_flag(app, people.enrolment_a)
    assert anna.post(hide_url(people.enrolment_a, flag_id)).status_code == 403
    tove = login_as("tove")
    assert tove.client.post(hide_url(people.enrolment_a, flag_id), data={"_csrf": "fel"}).status_code == 403
    assert tove.get(hide_url(people.enrolment_a, flag_id)).status_code == 405
    with db(app) as s:
        assert s.get(Flag, flag_id).hidden_at is None


# --- the missed-registration check -------------------------------------------------------------


def test_missed__one_flag_per_closed_occasion_and_idempotent(app, people):
    now = app.state.stegvis.clock.now()
    assert check(app, now) == 4  # 23 and 25 February, for A and B
    assert check(app, now) == 0
    assert check(app, now + timedelta(hours=3)) == 0
    flags = missed_flags(app, people.enrolment_a)
    assert [(f.ref_type, f.ref_id, f.detail, f.hidden_at) for f in flags] == [
        ("registration", people.plans_a["steg"], "Antal steg: måndag 23 februari 2026 kl. 19.00", None),
        ("registration", people.plans_a["steg"], "Antal steg: onsdag 25 februari 2026 kl. 19.00", None)]
    with db(app) as s:
        assert s.get(EnrolmentPlan, people.plans_a["steg"]).missed_checked_until == now + timedelta(hours=3)
        # The goal plan does not ask for flags: checked nothing, flagged nothing.
        assert s.get(EnrolmentPlan, people.plans_a["stegmal"]).missed_checked_until is None


def test_missed__registered_occasion_not_flagged_and_later_windows_follow(app, people):
    with db(app) as s:
        s.add(Registration(plan_id=people.plans_a["steg"], occasion_at=datetime(2026, 2, 23, 18, tzinfo=UTC),
                           values={"steg": 4000}, registered_at=datetime(2026, 2, 24, 8, tzinfo=UTC)))
    assert check(app, datetime(2026, 3, 2, 9, tzinfo=UTC)) == 3
    assert [f.detail for f in missed_flags(app, people.enrolment_a)] == [
        "Antal steg: onsdag 25 februari 2026 kl. 19.00"]
    # Monday 2 March's window closes at the end of Wednesday 4 March (23:00 UTC).
    assert check(app, datetime(2026, 3, 4, 22, 59, tzinfo=UTC)) == 0
    assert check(app, datetime(2026, 3, 4, 23, 0, tzinfo=UTC)) == 2
    assert missed_flags(app, people.enrolment_a)[-1].detail == "Antal steg: måndag 2 mars 2026 kl. 19.00"


@pytest.mark.parametrize("change", [
    {"activated": False}, {"flag_missed": False}, {"start_date": None},
])
def test_missed__plan_that_does_not_ask_is_left_alone(app, people, change):
    set_plan(app, people.plans_a["steg"], **change)
    assert check(app, datetime(2026, 3, 2, 9, tzinfo=UTC)) == 2  # B only
    assert missed_flags(app, people.enrolment_a) == []


@pytest.mark.parametrize("status", [EnrolmentStatus.maintenance, EnrolmentStatus.ended])
def test_missed__only_active_enrolments(app, people, status):
    with db(app) as s:
        e = s.get(Enrolment, people.enrolment_a)
        e.status, e.maintenance_until = status, date(2026, 4, 1)
    assert check(app, datetime(2026, 3, 2, 9, tzinfo=UTC)) == 2
    assert missed_flags(app, people.enrolment_a) == []


def test_missed__paused_plan_does_not_flag_the_pause_afterwards(app, people):
    check(app, datetime(2026, 3, 2, 9, tzinfo=UTC))
    set_plan(app, people.plans_a["steg"], activated=False)
    assert check(app, datetime(2026, 3, 12, 9, tzinfo=UTC)) == 3  # B's 2, 4 and 9 March; A is paused
    set_plan(app, people.plans_a["steg"], activated=True)
    assert check(app, datetime(2026, 3, 12, 9, tzinfo=UTC)) == 0  # A's 2, 4 and 9 March fell in the pause
    assert len(missed_flags(app, people.enrolment_a)) == 2
    assert check(app, datetime(2026, 3, 13, 23, tzinfo=UTC)) == 2  # 11 March closes for both


def test_missed__plan_title_from_an_edited_plan(app, people):
    set_plan(app, people.plans_a["steg"], definition={"title": "Promenader", "fields": []})
    check(app, datetime(2026, 3, 2, 9, tzinfo=UTC))
    assert missed_flags(app, people.enrolment_a)[0].detail == "Promenader: måndag 23 februari 2026 kl. 19.00"


def test_missed__unit_limit(app, people):
    state = app.state.stegvis
    with db(app) as s:
        assert check_missed_registrations(s, state.clock.now(), TZ, unit_id=people.other_unit) == 0
        assert check_missed_registrations(s, state.clock.now(), TZ, unit_id=people.unit) == 4


def test_missed__checked_before_the_overview_and_review(app, people, login_as, clock):
    tove = login_as("tove")
    assert missed_flags(app) == []
    assert "Missad registrering <span class=\"st-flag-count\">2</span>" in tove.get("/personal").text
    assert len(missed_flags(app)) == 4
    clock.set(datetime(2026, 3, 4, 23, 0, tzinfo=UTC))  # Monday 2 March's window has closed
    tove = login_as("tove")
    tove.get("/personal")
    assert len(missed_flags(app)) == 6
    # Within a minute the pages do not run it again (forgetting A's mark would flag A's occasions anew).
    set_plan(app, people.plans_a["steg"], missed_checked_until=None)
    clock.advance(seconds=30)
    review = tove.get(f"/personal/moment/{people.enrolment_a}").text
    assert "måndag 2 mars 2026 kl. 19.00" in review
    assert len(missed_flags(app)) == 6
    clock.advance(seconds=31)
    tove.get(f"/personal/moment/{people.enrolment_a}")
    assert len(missed_flags(app)) == 9
    set_plan(app, people.plans_a["steg"], missed_checked_until=clock.now())
    with db(app) as s:
        s.add(Registration(plan_id=people.plans_b["steg"], occasion_at=datetime(2026, 3, 4, 18, tzinfo=UTC),
                           values={"steg": 1}, registered_at=clock.now()))
    clock.advance(days=2)  # Wednesday 4 March's window closed; B registered it, A did not
    tove = login_as("tove")
    tove.get(f"/personal/moment/{people.enrolment_a}")
    assert [f.enrolment_id for f in missed_flags(app)][-1] == people.enrolment_a
    assert len(missed_flags(app)) == 10


def test_missed__background_job_runs_and_survives(app, people, monkeypatch):
    import threading

    from runtime import jobs

    state = app.state.stegvis
    assert jobs.run_missed_registration_check(state) == 4
    assert jobs.run_missed_registration_check(state) == 0
    ran = threading.Event()
    calls = []

    def flaky(s) -> int:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("databasen startar om")
        ran.set()
        return 0

    monkeypatch.setattr(jobs, "run_missed_registration_check", flaky)
    job = jobs.MissedRegistrationJob(state, interval_seconds=0.01).start()
    assert ran.wait(5), "the job stopped after a failed run"
    job.stop()
    assert len(calls) >= 2


def test_missed__job_interval_setting(app):
    from runtime.jobs import start_jobs
    from runtime.settings import RuntimeSettings

    assert RuntimeSettings().missed_registration_check_minutes == 10
    state = app.state.stegvis
    off = state.settings.model_copy(update={"missed_registration_check_minutes": 0})
    assert start_jobs(replace(state, settings=off)) is None
    with pytest.raises(ValueError):
        RuntimeSettings(missed_registration_check_minutes=-1)


def test_missed__concurrent_checks_flag_once(app, people):
    """Two processes' checks at the same time (threads here): the lock lets one flag, the other finds nothing."""
    import threading

    now = app.state.stegvis.clock.now()
    results: list[int] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        results.append(check(app, now))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == [0, 4]
    assert len(missed_flags(app)) == 4


# --- across the summer-time changes --------------------------------------------------------------

DST_CASES = [
    # (weekday and time, start, window days, expected local text, instant the window closes (UTC))
    ("söndag", "02:30", date(2026, 3, 29), 0, "söndag 29 mars 2026 kl. 03.30", datetime(2026, 3, 29, 22, tzinfo=UTC)),
    ("söndag", "02:30", date(2026, 10, 25), 0, "söndag 25 oktober 2026 kl. 02.30",
     datetime(2026, 10, 25, 23, tzinfo=UTC)),
    ("lördag", "19:00", date(2026, 3, 28), 1, "lördag 28 mars 2026 kl. 19.00", datetime(2026, 3, 29, 22, tzinfo=UTC)),
    ("lördag", "23:30", date(2026, 10, 24), 1, "lördag 24 oktober 2026 kl. 23.30",
     datetime(2026, 10, 25, 23, tzinfo=UTC)),
    ("söndag", "00:00", date(2026, 3, 29), 0, "söndag 29 mars 2026 kl. 00.00", datetime(2026, 3, 29, 22, tzinfo=UTC)),
]


@pytest.mark.parametrize(("day", "hhmm", "start", "window", "text", "closes"), DST_CASES,
                         ids=[f"{c[2]}-{c[1]}-w{c[3]}" for c in DST_CASES])
def test_missed__across_summer_time(app, people, day, hhmm, start, window, text, closes):
    set_plan(app, people.plans_a["steg"], days={day: hhmm}, start_date=start, registration_window_days=window)
    set_plan(app, people.plans_b["steg"], activated=False)
    assert check(app, closes - timedelta(seconds=1)) == 0
    assert check(app, closes) == 1
    assert check(app, closes + timedelta(days=1)) == 0
    assert [f.detail for f in missed_flags(app)] == [f"Antal steg: {text}"]


@PROPERTIES
@given(schedules, st.lists(st.integers(0, 24 * 120), min_size=1, max_size=6), st.sets(st.integers(0, 30)))
def test_missed_occasions__any_cut_into_runs_flags_each_once(schedule, cuts, registered_idx):
    """However the time is cut into runs, each occasion closed unregistered is found exactly once."""
    start = datetime.combine(schedule.start_date, datetime.min.time(), tzinfo=TZ).astimezone(UTC)
    runs = [start + timedelta(hours=h) for h in sorted(set(cuts))]
    everything = []
    for occ in iter_occasions(schedule, TZ):
        if occ.closes_at > runs[-1]:
            break
        everything.append(occ)
    registered = {o.at for i, o in enumerate(everything) if i in registered_idx}
    found, checked = [], None
    for now in runs:
        found += missed_occasions(schedule, TZ, checked, now, registered)
        checked = now
    assert [o.at for o in found] == [o.at for o in everything if o.at not in registered]
    assert len({o.at for o in found}) == len(found)
    assert all(o.closes_at <= runs[-1] for o in found)
