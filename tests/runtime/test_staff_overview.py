"""Issue #9: the staff start page ("Mina", "Alla", "Vidmakthållna"), on SQLite and PostgreSQL.

The seeded unit has patients A and B, both with Tove as therapist, both in the test
program, with the "steg" plan activated since 23 February and flagging missed
registrations: by the pinned Monday 2 March two occasions (23 and 25 February) have
closed unregistered, so each enrolment starts with two missed-registration flags.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event, select

from runtime.enrolments import create_enrolment
from runtime.models import (
    AccessLogEntry,
    Enrolment,
    EnrolmentStatus,
    Flag,
    FlagKind,
    Unit,
    User,
    UserKind,
)


def db(app):
    """A session on the app's database (commits on leaving the block)."""
    return app.state.stegvis.db.session()


def add_flag(app, enrolment_id: int, kind: FlagKind = FlagKind.form_submitted, hidden: bool = False) -> int:
    now = app.state.stegvis.clock.now()
    with db(app) as s:
        flag = Flag(enrolment_id=enrolment_id, kind=kind, ref_type="form_submission", ref_id=1, detail="Mitt mål",
                    created_at=now, hidden_at=now if hidden else None)
        s.add(flag)
        s.flush()
        return flag.id


def set_enrolment(app, eid: int, **values) -> None:
    with db(app) as s:
        e = s.get(Enrolment, eid)
        for key, value in values.items():
            setattr(e, key, value)


def row_of(page: str, name: str) -> str:
    """The table row (<tr>…</tr>) that names a patient."""
    match = re.search(r"<tr[^>]*>(?:(?!</tr>).)*" + re.escape(name) + r".*?</tr>", page, re.S)
    assert match, name
    return match.group(0)


def test_mine__own_enrolments_per_program_with_dates_and_links(app, people, login_as):
    page = login_as("tove").get("/personal")
    assert page.status_code == 200
    text = page.text
    assert '<h2 id="program-1">Testprogrammet</h2>' in text
    assert 'href="/personal/mina" aria-current="page">Mina' in text
    for name, eid in (("Anna Test", people.enrolment_a), ("Bertil Test", people.enrolment_b)):
        row = row_of(text, name)
        assert f'href="/personal/moment/{eid}">{name}</a>' in row
        assert "<td>2 mars 2026</td>" in row  # start date
        assert "<td>Aldrig</td>" in row  # last login
        assert "<td>Pågående</td>" in row
    assert "<caption>Pågående moment i Testprogrammet (2)</caption>" in text
    assert '<th scope="col">Behandlare</th>' not in text  # only "Alla" names the therapist


def test_mine__last_login_and_last_activity_shown(app, people, login_as, anna):
    anna.get(f"/moment/{people.enrolment_a}/steg/start/valkommen")
    row = row_of(login_as("tove").get("/personal").text, "Anna Test")
    assert row.count("2 mars 2026 kl. 10.00") == 2  # logged in and active at 09:00 UTC
    assert "Aldrig" not in row


def test_mine__only_where_i_am_therapist(app, people, login_as):
    page = login_as("tim").get("/personal")
    assert page.status_code == 200
    assert "Anna Test" not in page.text and "Bertil Test" not in page.text
    assert "Du är inte behandlare för något pågående moment." in page.text
    assert 'Se fliken <a href="/personal/alla">Alla</a>.' in page.text  # the tab link itself is always there


def test_all__every_ongoing_enrolment_of_the_unit_with_therapist(app, people, login_as):
    page = login_as("tim").get("/personal/alla")
    assert page.status_code == 200
    assert 'href="/personal/alla" aria-current="page">Alla' in page.text
    for name in ("Anna Test", "Bertil Test"):
        assert "<td>Tove Test</td>" in row_of(page.text, name)


def test_citizen_admin__start_page_is_all(app, people, login_as):
    page = login_as("cissi").get("/personal")
    assert page.status_code == 200
    assert 'aria-current="page">Alla' in page.text and "Anna Test" in page.text
    mine = login_as("cissi").get("/personal/mina")
    assert "Du är inte behandlare på den här vårdenheten." in mine.text and "Anna Test" not in mine.text


def test_other_unit__sees_nothing_of_this_unit(app, people, login_as):
    olle = login_as("olle")
    for url in ("/personal", "/personal/alla"):
        page = olle.get(url)
        assert page.status_code == 200
        assert "Anna Test" not in page.text and "Bertil Test" not in page.text


@pytest.mark.parametrize(("name", "tool"), [("agnes", "Behörigheter"), ("dan", "Gallring")])
def test_admins_without_overview__pointed_to_their_tools(app, people, login_as, name, tool):
    browser = login_as(name)
    for url in ("/personal", "/personal/alla", "/personal/mina"):
        page = browser.get(url)
        assert page.status_code == 200
        assert "Anna Test" not in page.text
        assert "är till för behandlare och invånaradministratörer" in page.text
        assert re.search(r"<li><a href=\"/personal/[a-z]+\">" + tool + "</a></li>", page.text)
    with db(app) as s:
        assert s.scalar(select(AccessLogEntry).where(AccessLogEntry.actor_id == getattr(people, {
            "agnes": "access_admin", "dan": "data_admin"}[name]), AccessLogEntry.action == "overview.list")) is None


def test_patient_and_anonymous__refused(app, people, anna):
    assert anna.get("/personal").status_code == 403
    assert anna.get("/personal/alla").status_code == 403
    from fastapi.testclient import TestClient

    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    assert client.get("/personal").headers["location"] == "/logga-in"


def test_flags__counted_per_kind_with_explanations_on_hover_and_focus(app, people, login_as):
    add_flag(app, people.enrolment_a)
    add_flag(app, people.enrolment_a)
    add_flag(app, people.enrolment_a, FlagKind.message)
    add_flag(app, people.enrolment_a, FlagKind.page_comment, hidden=True)  # hidden: not counted
    page = login_as("tove").get("/personal").text
    row = row_of(page, "Anna Test")
    ea = people.enrolment_a
    form = re.search(r'<a class="st-flag" href="/personal/moment/(\d+)#handelser" aria-describedby="([^"]+)">'
                     r'<span aria-hidden="true">[^<]+</span> Formulär <span class="st-flag-count">(\d+)</span></a>', row)
    assert form and form.group(1) == str(ea) and form.group(3) == "2"
    tip = re.search(r'<span class="st-flag-tip" role="tooltip" id="' + form.group(2) + r'">([^<]+)</span>', row)
    assert tip and "skickat in ett formulär" in tip.group(1) and "2 flaggor att granska" in tip.group(1)
    assert "Meddelande <span class=\"st-flag-count\">1</span>" in row
    assert "Missad registrering <span class=\"st-flag-count\">2</span>" in row  # 23 and 25 February
    assert "Sidkommentar" not in row
    # Hover and focus both reveal the tooltip (CSS, no JavaScript).
    from runtime.settings import TEMPLATES

    staff_css = (TEMPLATES / "static" / "staff.css").read_text()
    assert ".st-flag-item:hover .st-flag-tip" in staff_css and ".st-flag-item:focus-within .st-flag-tip" in staff_css


def test_flags__hidden_flag_no_longer_counted(app, people, login_as):
    flag = add_flag(app, people.enrolment_b)
    tove = login_as("tove")
    assert "Formulär <span" in row_of(tove.get("/personal").text, "Bertil Test")
    assert tove.post(f"/personal/moment/{people.enrolment_b}/flaggor/{flag}/dolj").status_code == 303
    assert "Formulär <span" not in row_of(tove.get("/personal").text, "Bertil Test")


def test_maintenance__separate_list_with_days_left(app, people, login_as):
    today = date(2026, 3, 2)
    tove = login_as("tove")
    set_enrolment(app, people.enrolment_b, status=EnrolmentStatus.maintenance,
                  maintenance_until=today + timedelta(days=5))
    page = tove.get("/personal").text
    assert "<summary>Vidmakthållna (1)</summary>" in page
    assert '<details class="st-maintained">' in page  # closed: nothing has run out
    maintained = page.split("<summary>Vidmakthållna")[1]
    assert "Bertil Test" in maintained and "Anna Test" not in maintained
    assert "5 dagar kvar, till och med lördag 7 mars 2026" in maintained
    assert "Bertil Test" not in page.split("<summary>Vidmakthållna")[0]
    set_enrolment(app, people.enrolment_b, maintenance_until=today + timedelta(days=1))
    assert "1 dag kvar, till och med tisdag 3 mars 2026" in tove.get("/personal").text
    set_enrolment(app, people.enrolment_b, maintenance_until=today)
    assert "Sista dagen i dag" in tove.get("/personal").text
    set_enrolment(app, people.enrolment_b, maintenance_until=today - timedelta(days=1))
    page = tove.get("/personal").text
    assert "Har gått ut (söndag 1 mars 2026)" in page
    assert '<details class="st-maintained" open>' in page  # something to act on: opened


def test_maintenance__day_boundary_in_local_time(app, people, login_as, clock):
    set_enrolment(app, people.enrolment_b, status=EnrolmentStatus.maintenance, maintenance_until=date(2026, 3, 2))
    clock.set(datetime(2026, 3, 2, 22, 59, tzinfo=UTC))  # 23.59 in Stockholm: still the last day
    assert "Sista dagen i dag" in login_as("tove").get("/personal").text
    clock.set(datetime(2026, 3, 2, 23, 0, tzinfo=UTC))  # midnight in Stockholm
    assert "Har gått ut" in login_as("tove").get("/personal").text


def test_linked_and_ended__marked_and_left_out(app, people, login_as):
    set_enrolment(app, people.enrolment_a, linked_to_id=people.enrolment_b)
    page = login_as("tove").get("/personal").text
    for name in ("Anna Test", "Bertil Test"):  # both ends of the link
        assert "Länkat" in row_of(page, name)
    set_enrolment(app, people.enrolment_a, status=EnrolmentStatus.ended, linked_to_id=None)
    page = login_as("tove").get("/personal/alla").text
    assert "Anna Test" not in page and "Länkat" not in page


def test_access_log__one_row_per_listed_enrolment(app, people, login_as):
    login_as("tove").get("/personal")
    with db(app) as s:
        rows = list(s.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "overview.list")))
    assert sorted((r.enrolment_id, r.patient_id, r.actor_id, r.unit_id) for r in rows) == sorted([
        (people.enrolment_a, people.patient_a, people.therapist, people.unit),
        (people.enrolment_b, people.patient_b, people.therapist, people.unit)])


def test_queries__same_number_for_two_or_twelve_enrolments(app, people, login_as):
    state = app.state.stegvis
    tove = login_as("tove")

    def statements() -> int:
        tove.get("/personal")  # warm: the missed-registration check ran at the first view
        seen = []

        def count(*_args) -> None:
            seen.append(1)

        engines = {state.db.engine, state.db.read_engine}
        for engine in engines:
            event.listen(engine, "before_cursor_execute", count)
        try:
            assert tove.get("/personal").status_code == 200
        finally:
            for engine in engines:
                event.remove(engine, "before_cursor_execute", count)
        return len(seen)

    two = statements()
    package = state.store.get("testprogram", "0.1.0")
    now = state.clock.now()
    with db(app) as s:
        unit, therapist = s.get(Unit, people.unit), s.get(User, people.therapist)
        for i in range(10):
            patient = User(kind=UserKind.citizen, display_name=f"Patient {i}", personal_number=f"1990010{i:04d}"[:12],
                           created_at=now)
            s.add(patient)
            s.flush()
            create_enrolment(s, patient, unit, package, now, therapist=therapist)
    assert statements() == two
    assert "Patient 9" in tove.get("/personal").text
