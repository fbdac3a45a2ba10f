"""Issue 14: what an outside security test (OWASP ASVS level 2) found, each with a test.

Every test here failed on the code before its fix. Runs on SQLite and PostgreSQL where
it touches the database.
"""

from __future__ import annotations

import asyncio
import re
import time

import pytest
from fastapi.testclient import TestClient

from conftest import PASSWORD, Browser

HEADERS = ("content-security-policy", "x-content-type-options", "x-frame-options")


# --- bodies, fields and echoed errors -------------------------------------------------------------


def test_body_limits__huge_json_refused_quickly_and_small(app, people):
    client = Browser(app).client
    many = "{" + ",".join(f'"k{i}":1' for i in range(500_000)) + "}"
    assert len(many) > 5_000_000
    started = time.perf_counter()
    answer = client.post("/api/v1/session", content=many, headers={"content-type": "application/json"})
    assert answer.status_code == 413 and len(answer.content) < 1000
    assert time.perf_counter() - started < 1.0
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_body_limits__body_without_length_stops_being_read_at_the_limit(app, people):
    # Straight through ASGI: the test client would read the whole body before sending it.
    read, sent = 0, []

    async def receive():
        nonlocal read
        read += 1
        return {"type": "http.request", "body": b"x" * 1_000_000, "more_body": read < 50}  # 50 MB in all

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/logga-in", "raw_path": b"/logga-in", "query_string": b"",
             "headers": [(b"content-type", b"application/x-www-form-urlencoded"), (b"host", b"testserver")],
             "scheme": "https", "server": ("testserver", 443), "client": ("127.0.0.1", 1), "root_path": "",
             "http_version": "1.1", "asgi": {"version": "3.0"}}
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 413 and read < 5
    assert "för stort" in b"".join(m.get("body", b"") for m in sent[1:]).decode()


def test_body_limits__many_keys_under_the_size_limit_refused_before_validation(app, people):
    client = Browser(app).client
    many = "{" + ",".join(f'"{i}":1' for i in range(5000)) + "}"
    assert len(many) < app.state.stegvis.settings.max_body_bytes
    answer = client.post("/api/v1/session", content=many, headers={"content-type": "application/json"})
    assert answer.status_code == 413 and len(answer.content) < 1000


def test_body_limits__echoed_validation_errors_capped(app, people):
    client = Browser(app).client
    some = {f"k{i}": "x" * 5000 for i in range(150)}
    answer = client.post("/api/v1/session", json=some)
    assert answer.status_code == 422
    assert len(answer.json()["errors"]) <= 21 and len(answer.content) < 20_000


def test_body_limits__ordinary_answers_still_accepted(app, people, anna):
    answer = anna.api("PUT", f"/api/v1/enrolments/{people.enrolment_a}/forms/mal/draft",
                      json={"answers": {"mal": "x" * 9000}})
    assert answer.status_code == 200, answer.text


# --- refusals instead of 500s, with the headers -----------------------------------------------------


def test_csrf__non_ascii_token_refused_not_500(app, people, anna):
    assert anna.client.post(f"/moment/{people.enrolment_a}/meddelanden",
                            data={"_csrf": "åäö", "amne": "x", "text": "y"}).status_code == 403
    assert anna.client.post(f"/api/v1/enrolments/{people.enrolment_a}/threads", json={"subject": "x", "body": "y"},
                            headers={"X-CSRF-Token": "tökén".encode("latin-1")}).status_code == 403


def test_login_csrf__non_ascii_token_refused_not_500(app, people):
    client = Browser(app).client
    client.get("/logga-in")
    answer = client.post("/logga-in", data={"_csrf": "ö" * 20, "username": "anna", "password": PASSWORD})
    assert answer.status_code == 403


@pytest.mark.parametrize("big", [2**63, 2**64, 10**30])
def test_ids__beyond_64_bits_in_urls_are_404(app, people, anna, tove, big):
    for browser, url in ((anna, f"/moment/{big}"), (anna, f"/api/v1/enrolments/{big}"),
                         (anna, f"/moment/{people.enrolment_a}/aktivitetsplaner/{big}"),
                         (tove, f"/personal/moment/{big}"), (tove, f"/api/v1/staff/enrolments/{big}")):
        assert browser.get(url).status_code == 404, url


def test_security_headers__on_a_500_too(app, people):
    def boom():
        raise RuntimeError("a bug")

    app.add_api_route("/api/v1/boom", boom)
    app.add_api_route("/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as client:
        for url in ("/boom", "/api/v1/boom"):
            answer = client.get(url)
            assert answer.status_code == 500
            for name in HEADERS:
                assert name in answer.headers, (url, name)
            assert answer.headers["cache-control"] == "no-store"


# --- dates --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("start", ["9999-12-31", "0001-01-01", "1850-06-01"])
def test_dates__plan_start_out_of_range_refused_on_page_and_api(app, people, tove, start):
    from test_staff_plans import settings_form

    url = f"/personal/moment/{people.enrolment_a}/aktivitetsplaner/{people.plans_a['steg']}/installningar"
    page = tove.post(url, settings_form(start_date=start))
    assert page.status_code == 422 and "Startdatumet ska ligga mellan 2000-01-01 och 2099-12-31" in page.text
    api = tove.api("PUT", f"/api/v1/staff/enrolments/{people.enrolment_a}/plans/{people.plans_a['steg']}",
                   {"start_date": start, "repeat_every_weeks": 1, "days": {"måndag": "19:00"},
                    "registration_window_days": 0, "activated": True})
    assert api.status_code == 422 and "start_date" in api.json()["errors"]
    assert tove.get("/personal").status_code == 200


def test_dates__plan_stored_out_of_range_before_the_fix_breaks_no_page(app, people, tove, anna):
    from runtime.models import EnrolmentPlan

    with app.state.stegvis.db.session() as s:
        s.get(EnrolmentPlan, people.plans_a["steg"]).start_date = __import__("datetime").date(9999, 12, 31)
    for url in ("/personal", f"/personal/moment/{people.enrolment_a}/aktivitetsplaner",
                f"/personal/moment/{people.enrolment_a}"):
        assert tove.get(url).status_code == 200, url
    assert anna.get(f"/moment/{people.enrolment_a}").status_code == 200


@pytest.mark.parametrize("occasion", ["9999-12-29T18:00:00Z", "9999-12-31T18:00:00Z", "0001-01-01T18:00:00Z"])
def test_dates__registration_occasion_out_of_range_refused(app, people, anna, occasion):
    e, p = people.enrolment_a, people.plans_a["steg"]
    page = anna.post(f"/moment/{e}/aktivitetsplaner/{p}/registreringar", {"_occasion": occasion, "steg": "100"})
    assert page.status_code == 422 and "Välj ett tillfälle i schemat." in page.text
    api = anna.api("POST", f"/api/v1/enrolments/{e}/plans/{p}/registrations",
                   {"occasion_at": occasion, "values": {"steg": 1}})
    assert api.status_code == 422


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1899-12-31"])
def test_dates__date_answer_out_of_range_refused_with_a_swedish_message(app, people, anna, day):
    from runtime.forms import check_answers

    checked = check_answers([{"id": "start", "type": "date", "label": "När?"}], {"start": [day]})
    assert not checked.ok and checked.errors["start"] == "Skriv ett datum mellan 1900-01-01 och 2100-12-31."
    answer = anna.api("POST", f"/api/v1/enrolments/{people.enrolment_a}/forms/mal/submissions",
                      json={"answers": {"mal": "Gå mer", "start": day}})
    assert answer.status_code == 422 and "start" in answer.json()["errors"]
    assert check_answers([{"id": "start", "type": "date", "label": "När?"}], {"start": ["1950-05-17"]}).ok


def test_missed_check__survives_one_unreadable_plan(app, people, caplog):
    from runtime.jobs import run_missed_registration_check
    from runtime.models import EnrolmentPlan, Flag

    with app.state.stegvis.db.session() as s:
        s.get(EnrolmentPlan, people.plans_a["steg"]).days = {"måndag": "kl 19"}  # stored by hand, unreadable
    assert run_missed_registration_check(app.state.stegvis) == 2  # B's two missed occasions
    with app.state.stegvis.db.session() as s:
        assert {f.enrolment_id for f in s.query(Flag)} == {people.enrolment_b}
    assert any(f"Aktivitetsplan {people.plans_a['steg']}" in r.getMessage() for r in caplog.records)


# --- personnummer, logs, hosts ------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["181212121212", "18121212-1212", "188912319999"])
def test_personnummer__born_before_1890_refused_with_a_swedish_message(number):
    from runtime.identity import InvalidPersonalNumber, parse_personal_number

    with pytest.raises(InvalidPersonalNumber, match="födelseåret 18.. är för tidigt"):
        parse_personal_number(number)


def test_personnummer__born_1812_creates_no_patient(app, people, tove):
    from runtime.models import User

    answer = tove.api("POST", "/api/v1/staff/enrolments", {"personal_number": "181212121212",
                                                           "display_name": "Gammal Person", "program_id": "testprogram"})
    assert answer.status_code == 422
    with app.state.stegvis.db.session() as s:
        assert s.query(User).filter_by(display_name="Gammal Person").count() == 0


def test_log_redaction__exception_text_masked(app, caplog):
    import logging

    log = logging.getLogger("stegvis.runtime")
    try:
        raise ValueError("ingen patient 19121212-1212 hittades")
    except ValueError:
        log.exception("Det gick fel")
    assert "19121212" not in caplog.text and "[personnummer]" in caplog.text
    assert "ValueError" in caplog.text  # the traceback itself stays


def test_log_redaction__a_route_bug_with_a_personnummer_logs_it_masked(app, people, caplog):
    def boom():
        raise RuntimeError("trasig rad för 197010632391")

    app.add_api_route("/api/v1/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/api/v1/boom").status_code == 500
    assert "RuntimeError" in caplog.text and "197010632391" not in caplog.text


@pytest.mark.parametrize("url", ["/personal/", "/moment/1/", "/logga-in/", "/api/v1/session/"])
def test_redirects__never_carry_the_host_header(app, people, url):
    client = Browser(app).client
    answer = client.get(url, headers={"host": "evil.example"})
    location = answer.headers.get("location", "")
    assert "evil.example" not in location and location.startswith("/")


def test_allowed_hosts__other_host_refused(packages, sqlite_url, clock):
    from conftest import make_settings
    from runtime.app import create_app

    app = create_app(make_settings(packages, sqlite_url, allowed_hosts=("stegvis.example",)), clock=clock,
                     migrate=False)
    with TestClient(app, base_url="https://stegvis.example", follow_redirects=False) as client:
        assert client.get("/logga-in").status_code == 200
        refused = client.get("/logga-in", headers={"host": "evil.example"})
        assert refused.status_code == 400 and "content-security-policy" in refused.headers


# --- access-log extracts scoped to the administrator's unit ---------------------------------------------


def _other_unit_patient(app, people) -> int:
    """A patient enrolled only in the other unit, read there by Olle (a logged row of that unit)."""
    from runtime.enrolments import create_enrolment
    from runtime.models import AccessLogEntry, Unit, User, UserKind

    state = app.state.stegvis
    now = state.clock.now()
    with state.db.session() as s:
        cecilia = User(kind=UserKind.citizen, display_name="Cecilia Annanstans", personal_number="198112189876",
                       created_at=now)
        s.add(cecilia)
        s.flush()
        e = create_enrolment(s, cecilia, s.get(Unit, people.other_unit), state.store.get("testprogram", "0.1.0"), now,
                             therapist=s.get(User, people.other_therapist), started_by=s.get(User, people.other_therapist))
        s.flush()
        for patient, enrolment in ((cecilia.id, e.id), (people.patient_a, None)):
            s.add(AccessLogEntry(at=now, actor_id=people.other_therapist, actor_role="staff", unit_id=people.other_unit,
                                 patient_id=patient, enrolment_id=enrolment, action="enrolment.read", target=None))
        return cecilia.id


def test_log_extract__scoped_to_the_administrators_unit(app, people, anna, login_as):
    _other_unit_patient(app, people)
    anna.get(f"/moment/{people.enrolment_a}")
    dan = login_as("dan")
    other = dan.post("/personal/loggutdrag", {"personnummer": "19811218-9876"})
    unknown = dan.post("/personal/loggutdrag", {"personnummer": "19790101-0004"})  # valid, no such person
    assert other.status_code == unknown.status_code == 200
    for page in (other, unknown):
        assert "Cecilia" not in page.text and "Olle Annan" not in page.text and "Annan enhet" not in page.text
    assert other.text.replace("19811218-9876", "N") == unknown.text.replace("19790101-0004", "N")
    own = dan.post("/personal/loggutdrag", {"personnummer": "19121212-1212"})
    assert "Anna Test" in own.text and "Olle Annan" not in own.text and "Annan enhet" not in own.text
    assert re.search(r"<td>Patienten själv</td>", own.text)  # Anna's own rows on her enrolment are there


# --- starting an enrolment: no existence oracle; notice contacts kept by one unit ------------------------


def test_start__known_and_unknown_numbers_get_the_same_answer_and_the_lookup_is_logged(app, people, login_as):
    from runtime.models import AccessLogEntry

    olle = login_as("olle")  # the other unit: Anna (19121212-1212) is a patient of Tove's unit only
    answers = []
    for number in ("19121212-1212", "19790101-0004"):
        page = olle.post("/personal/moment/nytt", {"personal_number": number, "display_name": "",
                                                   "package": "testprogram/0.1.0"})
        answers.append((page.status_code, page.text.replace(f'value="{number}"', 'value="N"')))
        api = olle.api("POST", "/api/v1/staff/enrolments", {"personal_number": number, "program_id": "testprogram"})
        answers.append((api.status_code, api.text))
    assert answers[0] == answers[2] and answers[1] == answers[3]
    assert "Anna Test" not in answers[0][1] and "Anna Test" not in answers[1][1]
    with app.state.stegvis.db.session() as s:
        logged = s.query(AccessLogEntry).filter_by(action="enrolment.lookup", patient_id=people.patient_a).all()
        assert len(logged) == 2 and {r.unit_id for r in logged} == {people.other_unit}


def test_notice_contacts__another_unit_cannot_change_them(app, people, login_as):
    from runtime.models import User

    olle = login_as("olle")
    started = olle.api("POST", "/api/v1/staff/enrolments", {
        "personal_number": "191212121212", "display_name": "Anna", "program_id": "testprogram",
        "email": "olles@example.org", "phone": "0701234567"})
    assert started.status_code == 201
    with app.state.stegvis.db.session() as s:
        s.get(User, people.patient_a).email = "anna@example.org"
    eid = started.json()["id"]
    refused = olle.post(f"/personal/moment/{eid}/anpassa", {"_section": "avisering",
                                                           "patient_email": "olle@example.org", "patient_phone": ""})
    assert refused.status_code == 403
    with app.state.stegvis.db.session() as s:
        anna = s.get(User, people.patient_a)
        assert anna.email == "anna@example.org"
    tove = login_as("tove")  # the unit of Anna's oldest ongoing enrolment keeps them
    ok = tove.post(f"/personal/moment/{people.enrolment_a}/anpassa", {"_section": "avisering",
                                                                     "patient_email": "ny@example.org",
                                                                     "patient_phone": ""})
    assert ok.status_code == 303
    with app.state.stegvis.db.session() as s:
        assert s.get(User, people.patient_a).email == "ny@example.org"


# --- roles ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["ge", "lagg-till"])
def test_roles__no_role_granted_to_oneself_and_the_try_logged(app, people, login_as, how):
    from runtime.models import AccessLogEntry, Role, UnitRole

    agnes = login_as("agnes")
    form = {"_action": "ge", "person": str(people.access_admin), "role": "citizen_admin"} if how == "ge" else \
        {"_action": "lagg-till", "identifier": "agnes", "role": "citizen_admin"}
    refused = agnes.post("/personal/behorigheter", form)
    assert refused.status_code == 403 and "Du kan inte ge dig själv en roll" in refused.text
    with app.state.stegvis.db.session() as s:
        assert s.query(UnitRole).filter_by(user_id=people.access_admin, role=Role.citizen_admin).count() == 0
        assert s.query(AccessLogEntry).filter_by(action="role.grant.refused", actor_id=people.access_admin).count() == 1
    assert agnes.get(f"/personal/moment/{people.enrolment_a}").status_code in (403, 404)
    tove = login_as("tove")  # another access administrator may
    assert tove.post("/personal/behorigheter", {"_action": "ge", "person": str(people.access_admin),
                                                "role": "citizen_admin"}).status_code == 303
