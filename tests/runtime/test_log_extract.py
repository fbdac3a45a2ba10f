"""Issue #9, access-log extracts (loggutdrag): runtime/staff/logextract.py and runtime/audit.log_extract.

Requirements: the data administrator gets every access-log row about a person from
their personnummer, also after the person was purged (through the purge receipt), in
time order with who, unit, what in Swedish words and on what, as a table and as CSV
for Excel; the patient gets their own; taking an extract is logged; a user id given
anew after a purge never mixes two people's logs; only data administrators (and the
patient, for their own) get one. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from conftest import PASSWORD, Browser
from sqlalchemy import select

from runtime.enrolments import create_enrolment
from runtime.models import AccessLogEntry, Enrolment, EnrolmentStatus, PurgeReceipt, Unit, User, UserKind

EXTRACT = "/personal/loggutdrag"
OWN = "/mina-uppgifter/logg"
FORM = "/moment/{e}/steg/start/mitt-mal/formular/mal"
ROW = re.compile(r"<tr><td><time datetime=\"[^\"]+\">([^<]+)</time></td><td>([^<]*)</td><td>([^<]*)</td>"
                 r"<td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>")


@pytest.fixture
def app(packages, database_url, clock, tmp_path):
    """The suite's app, with its secret in the test's own folder (never var/ of the working tree)."""
    from conftest import make_settings

    from runtime.app import create_app

    settings = make_settings(packages, database_url, secret_key_file=tmp_path / "secret.key", secret_key=None)
    application = create_app(settings, clock=clock, migrate=False)
    yield application
    application.state.stegvis.db.dispose()


LINE = re.compile(r'<li><time datetime="[^"]+" class="rt-meta">([^<]+)</time><p>([^<]*)</p></li>')


def sentences(html: str) -> list[str]:
    """The patient's own log: its sentences, newest first (issue 15)."""
    return [s for _, s in LINE.findall(html)]


def table(html: str) -> list[tuple[str, ...]]:
    """The extract's rows: (when, who, role, unit, what, about)."""
    return ROW.findall(html)


def extract_rows(app, action: str = "log.extract") -> list[AccessLogEntry]:
    with app.state.stegvis.db.session() as s:
        rows = s.scalars(select(AccessLogEntry).where(AccessLogEntry.action == action)
                         .order_by(AccessLogEntry.id)).all()
        s.expunge_all()
    return rows


def end_and_purge(app, login_as, eid: int) -> None:
    now = app.state.stegvis.clock.now()
    with app.state.stegvis.db.session() as s:
        e = s.get(Enrolment, eid)
        e.status, e.ended_at = EnrolmentStatus.ended, now - timedelta(days=1)
    dan = login_as("dan")
    assert dan.post("/personal/gallring", {"moment": str(eid), "_action": "valda", "bekrafta": "ja"}).status_code == 303


def test_extract__every_row_about_the_person_in_time_order(app, people, anna, bertil, login_as, clock):
    e = people.enrolment_a
    anna.get(f"/moment/{e}")
    anna.post(FORM.format(e=e), {"_action": "submit", "mal": "Gå mer", "roker": "nej"})
    bertil.get(f"/moment/{people.enrolment_b}")
    clock.advance(minutes=1)
    tove = login_as("tove")
    assert tove.get(f"/api/v1/staff/enrolments/{e}").status_code == 200
    clock.advance(minutes=1)
    dan = login_as("dan")
    page = dan.post(EXTRACT, {"personnummer": "191212121212"})
    assert page.status_code == 200
    assert "Loggutdrag för 19121212-1212" in page.text and "Namn: Anna Test" in page.text
    rows = table(page.text)
    assert rows == [
        ("2026-03-02 10:00:00", "Patienten själv", "Patient", "Hälsocentralen Test", "Läste momentet", f"Moment {e}"),
        ("2026-03-02 10:00:00", "Patienten själv", "Patient", "Hälsocentralen Test", "Skickade formulär",
         f"Moment {e}, formulär mal"),
        ("2026-03-02 10:01:00", "Tove Test", "Vårdpersonal", "Hälsocentralen Test", "Läste momentet", f"Moment {e}"),
        ("2026-03-02 10:02:00", "Dan Data", "Vårdpersonal", "Hälsocentralen Test", "Tog ut ett loggutdrag",
         "Loggutdrag som tabell"),
    ]
    assert "<caption>Loggrader om personen, äldst först (4 st.)</caption>" in page.text
    [logged] = extract_rows(app)
    assert (logged.actor_id, logged.patient_id, logged.unit_id) == (people.data_admin, people.patient_a, people.unit)


def test_extract__actions_and_targets_in_words_unknown_ones_as_logged(app, people, login_as):
    now = app.state.stegvis.clock.now()
    e = people.enrolment_a
    with app.state.stegvis.db.session() as s:
        for action, target in (("enrolment.therapist_change", f"user:{people.colleague}"),
                               ("enrolment.handover", f"unit:{people.other_unit}"),
                               ("enrolment.link", f"enrolment:{people.enrolment_b}"),
                               ("something.new", "okänt:1")):
            s.add(AccessLogEntry(at=now, actor_id=people.citizen_admin, actor_role="staff", unit_id=people.unit,
                                 patient_id=people.patient_a, enrolment_id=e, action=action, target=target))
    rows = table(login_as("dan").post(EXTRACT, {"personnummer": "19121212-1212"}).text)
    assert [r[1:] for r in rows[:4]] == [
        ("Cissi Invånaradmin", "Vårdpersonal", "Hälsocentralen Test", "Bytte behandlare", f"Moment {e}, Tim Kollega"),
        ("Cissi Invånaradmin", "Vårdpersonal", "Hälsocentralen Test",
         "Lämnade över momentet till en annan vårdenhet", f"Moment {e}, Annan enhet"),
        ("Cissi Invånaradmin", "Vårdpersonal", "Hälsocentralen Test", "Länkade ihop två moment",
         f"Moment {e}, moment {people.enrolment_b}"),
        ("Cissi Invånaradmin", "Vårdpersonal", "Hälsocentralen Test", "something.new", f"Moment {e}, okänt:1"),
    ]


def test_extract__csv_for_excel_with_formulas_defused(app, people, anna, login_as):
    anna.get(f"/moment/{people.enrolment_a}")
    with app.state.stegvis.db.session() as s:
        s.get(User, people.data_admin).display_name = '=HYPERLINK("https://ond.example","Klicka")'
    dan = login_as("dan")
    response = dan.post(f"{EXTRACT}?format=csv", {"personnummer": "19121212-1212"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="loggutdrag-2026-03-02.csv"'
    assert response.content.startswith(b"\xef\xbb\xbf")
    lines = response.content.decode("utf-8-sig").split("\r\n")
    assert lines[0] == "Tidpunkt;Vem;Roll;Vårdenhet;Vad;Gällde"
    assert lines[1] == f"2026-03-02 10:00:00;Patienten själv;Patient;Hälsocentralen Test;Läste momentet;" \
                       f"Moment {people.enrolment_a}"
    assert lines[2] == ("2026-03-02 10:00:00;\"'=HYPERLINK(\"\"https://ond.example\"\",\"\"Klicka\"\")\";"
                        "Vårdpersonal;Hälsocentralen Test;Tog ut ett loggutdrag;Loggutdrag som CSV-fil")
    assert lines[3] == ""
    assert "191212121212" not in response.text and "19121212-1212" not in response.text


@pytest.mark.parametrize("number", ["19121212-1213", "19121312-1212", "abc", ""])
def test_extract__invalid_personnummer_refused_with_a_swedish_message(app, people, login_as, number):
    from markupsafe import escape

    from runtime.identity import InvalidPersonalNumber, parse_personal_number

    with pytest.raises(InvalidPersonalNumber) as refused:  # identity.py owns the wording: check date, digit…
        parse_personal_number(number)
    response = login_as("dan").post(EXTRACT, {"personnummer": number})
    assert response.status_code == 422
    assert f'<a href="#personnummer">{escape(str(refused.value))}</a>' in response.text
    assert '<a href="#personnummer">' in response.text and 'aria-invalid="true"' in response.text
    assert extract_rows(app) == []


def test_extract__valid_number_without_rows(app, people, login_as):
    response = login_as("dan").post(EXTRACT, {"personnummer": "198112189876"})
    assert response.status_code == 200
    assert "Det finns inga loggrader om någon med det numret." in response.text
    assert extract_rows(app) == []


def test_extract__after_a_purge_found_through_the_receipt(app, people, anna, login_as, clock):
    e = people.enrolment_a
    anna.get(f"/moment/{e}")
    end_and_purge(app, login_as, e)
    with app.state.stegvis.db.session() as s:
        receipt_id = s.scalars(select(PurgeReceipt.id)).one()
        assert s.get(User, people.patient_a) is None
    clock.advance(minutes=5)
    dan = login_as("dan")
    page = dan.post(EXTRACT, {"personnummer": "19121212-1212"}).text
    assert "Personen finns inte längre i registret: uppgifterna är gallrade." in page
    assert "Gallrad 2026-03-02 (1 moment)" in page
    rows = table(page)
    assert [r[1:] for r in rows] == [
        ("Patienten själv", "Patient", "Hälsocentralen Test", "Läste momentet", f"Moment {e}"),
        ("Dan Data", "Vårdpersonal", "Hälsocentralen Test", "Gallrade momentet", f"Moment {e}, uppgifterna i "
                                                                               "kategorin moment"),
        ("Dan Data", "Vårdpersonal", "Hälsocentralen Test", "Gallrade personuppgifterna",
         f"Gallringskvitto {receipt_id}"),
        ("Dan Data", "Vårdpersonal", "Hälsocentralen Test", "Tog ut ett loggutdrag", f"Gallringskvitto {receipt_id}"),
    ]
    [logged] = extract_rows(app)
    assert logged.patient_id is None and logged.target == f"gallringskvitto:{receipt_id}"
    # A second extract shows the first one.
    again = table(dan.post(EXTRACT, {"personnummer": "191212121212"}).text)
    assert [r[4] for r in again].count("Tog ut ett loggutdrag") == 2


def test_extract__a_reused_user_id_never_mixes_two_people(app, people, login_as, clock):
    state = app.state.stegvis
    package = state.store.get("testprogram", "0.1.0")

    def new_patient(name: str, number: str, username: str) -> tuple[int, int]:
        now = state.clock.now()
        with state.db.session() as s:
            user = User(kind=UserKind.citizen, display_name=name, personal_number=number, created_at=now)
            s.add(user)
            s.flush()
            state.local_accounts.set_password(s, user, username, PASSWORD, now)
            enrolment = create_enrolment(s, user, s.get(Unit, people.unit), package, now)
            return user.id, enrolment.id

    carl_id, carl_enrolment = new_patient("Carl Först", "198112189876", "carl")
    carl = Browser(app)
    assert carl.login("carl").status_code == 303
    carl.get(f"/moment/{carl_enrolment}")
    carl.close()
    clock.advance(minutes=1)
    end_and_purge(app, login_as, carl_enrolment)
    clock.advance(minutes=1)
    dora_id, dora_enrolment = new_patient("Dora Sedan", "199001012385", "dora")
    if state.db.engine.dialect.name == "sqlite":
        assert dora_id == carl_id  # SQLite gives the highest rowid anew: the case this guards against
    dora = Browser(app)
    try:
        assert dora.login("dora").status_code == 303
        dora.get(f"/moment/{dora_enrolment}")
        own = sentences(dora.get(OWN).text)
    finally:
        dora.close()
    assert own == ["Du tittade på den här loggen.", "Du öppnade startsidan i ditt program."]
    carls = table(login_as("dan").post(EXTRACT, {"personnummer": "198112189876"}).text)
    assert [r[4] for r in carls] == ["Läste momentet", "Gallrade momentet", "Gallrade personuppgifterna",
                                     "Tog ut ett loggutdrag"]
    assert [r[0] for r in carls][:3] == ["2026-03-02 10:00:00", "2026-03-02 10:01:00", "2026-03-02 10:01:00"]


def test_own_extract__the_patient_sees_their_rows(app, people, anna, bertil, login_as, clock, tmp_path):
    anna.get(f"/moment/{people.enrolment_a}")
    bertil.get(f"/moment/{people.enrolment_b}")
    clock.advance(minutes=1)
    login_as("tove").get(f"/api/v1/staff/enrolments/{people.enrolment_a}")
    clock.advance(minutes=1)
    page = anna.get(OWN)
    assert page.status_code == 200
    assert "<h1>Vem har läst dina uppgifter</h1>" in page.text
    assert sentences(page.text) == ["Du tittade på den här loggen.", "Tove Test, behandlare, läste ditt program.",
                                    "Du öppnade startsidan i ditt program."]
    csv = anna.get(f"{OWN}?format=csv")
    assert csv.status_code == 200 and csv.content.startswith(b"\xef\xbb\xbf")
    assert csv.content.decode("utf-8-sig").count("\r\n") == 1 + 4  # header, and the rows above plus this extract
    logged = extract_rows(app)
    assert [(r.patient_id, r.target) for r in logged] == [(people.patient_a, "loggutdrag:tabell"),
                                                          (people.patient_a, "loggutdrag:csv")]
    assert not (tmp_path / "secret.key").exists()  # nobody purged yet: the secret is not needed


def test_own_extract__for_patients_only(app, people, login_as):
    assert login_as("tove").get(OWN).status_code == 403
    assert login_as("dan").get(OWN).status_code == 403
    browser = Browser(app)
    try:
        assert browser.get(OWN).headers["location"] == "/logga-in"
    finally:
        browser.close()


def test_enrolment_list__links_to_the_patients_extract(app, people, anna):
    state = app.state.stegvis
    with state.db.session() as s:
        create_enrolment(s, s.get(User, people.patient_a), s.get(Unit, people.unit),
                         state.store.get("testprogram", "0.1.0"), state.clock.now())
    page = anna.get("/moment")
    assert page.status_code == 200
    assert '<a href="/mina-uppgifter/logg">Se vem som har läst och ändrat dina uppgifter</a>' in page.text


@pytest.mark.parametrize("name", ["tove", "tim", "cissi", "agnes", "olle", "anna"])
def test_extract__refused_for_everyone_but_data_administrators(app, people, login_as, name):
    browser = login_as(name)
    assert browser.get(EXTRACT).status_code == 403
    response = browser.post(EXTRACT, {"personnummer": "19121212-1212"})
    assert response.status_code == 403
    assert "Anna Test" not in response.text
    assert extract_rows(app) == []
