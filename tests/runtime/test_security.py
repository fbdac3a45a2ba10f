"""Issue #8: sessions, CSRF, headers, the access log and personnummer (OWASP ASVS level 2).

CSRF is checked for every state-changing route the app has, found from its route
table: without the token, with a wrong one, and from another site. Runs on SQLite
and PostgreSQL where it touches the database.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import text

from runtime.identity import InvalidPersonalNumber, parse_personal_number, redact
from runtime.models import AccessLogEntry

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
IDS = {"eid": "{e}", "plan_pk": "{p}", "thread_id": "{t}", "module_id": "start", "step_id": "mitt-mal",
       "form_id": "mal", "flag_id": "1"}


def unsafe_routes(app) -> list[tuple[str, str]]:
    """(method, path template) of every state-changing route."""
    from conftest import app_routes

    out = []
    for route in app_routes():
        for method in sorted(getattr(route, "methods", set()) & UNSAFE):
            out.append((method, route.path))
    return out


def concrete(path: str, people, thread_id: int) -> str:
    for name, value in IDS.items():
        path = path.replace("{" + name + "}", value)
    return path.format(e=people.enrolment_a, p=people.plans_a["steg"], t=thread_id)


@pytest.fixture
def thread_a(app, people):
    from test_authorisation import thread_for

    return thread_for(app, people.enrolment_a, people.therapist)


def test_every_unsafe_route__refused_without_token_with_wrong_token_and_cross_site(app, people, anna, tove, thread_a):
    routes = unsafe_routes(app)
    assert len(routes) >= 20
    for method, template in routes:
        path = concrete(template, people, thread_a)
        who = tove if "/staff/" in path or "/admin/" in path or path.startswith("/personal") else anna
        if method == "POST" and path in ("/logga-in", "/api/v1/session"):
            continue  # no session yet: the login's own checks are tested below
        if path.startswith("/api/"):
            for headers in ({}, {"X-CSRF-Token": "fel"}, {"X-CSRF-Token": who.csrf, "Origin": "https://ond.example"},
                            {"X-CSRF-Token": who.csrf, "Sec-Fetch-Site": "cross-site"}):
                response = who.client.request(method, path, json={}, headers=headers)
                assert response.status_code == 403, (method, path, headers, response.status_code)
        else:
            for data, headers in (({}, {}), ({"_csrf": "fel"}, {}),
                                  ({"_csrf": who.csrf}, {"Origin": "https://ond.example"})):
                response = who.client.request(method, path, data=data, headers=headers)
                assert response.status_code == 403, (method, path, data, headers, response.status_code)


def test_login_form__double_submit_cookie_required(app, people):
    from fastapi.testclient import TestClient

    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    page = client.get("/logga-in")
    token = re.search(r'name="_csrf" value="([^"]+)"', page.text).group(1)
    assert client.post("/logga-in", data={"username": "anna", "password": "x"}).status_code == 403
    assert client.post("/logga-in", data={"_csrf": "fel", "username": "anna", "password": "x"}).status_code == 403
    other = TestClient(app, base_url="https://testserver", follow_redirects=False)
    assert other.post("/logga-in", data={"_csrf": token, "username": "anna"}).status_code == 403  # no cookie
    assert client.post("/logga-in", data={"_csrf": token, "username": "anna", "password": "fel"}).status_code == 401


def test_api_login__json_only(app, people):
    from fastapi.testclient import TestClient

    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    form = client.post("/api/v1/session", data={"username": "anna", "password": "losen-ord-123"})
    assert form.status_code == 422
    cross = client.post("/api/v1/session", json={"username": "anna", "password": "losen-ord-123"},
                        headers={"Origin": "https://ond.example"})
    assert cross.status_code == 403
    assert client.post("/api/v1/session", json={"username": "anna", "password": "losen-ord-123"}).status_code == 200


def test_session_cookie__httponly_secure_samesite_host_prefix_and_fresh_at_login(app, people):
    from conftest import Browser

    b = Browser(app)
    page = b.get("/logga-in")
    login_cookie = page.headers["set-cookie"]
    assert "HttpOnly" in login_cookie and "Secure" in login_cookie and "SameSite=strict" in login_cookie
    response = b.login("anna")
    cookie = response.headers.get_list("set-cookie")[0]
    assert cookie.startswith("__Host-stegvis=") and "HttpOnly" in cookie and "Secure" in cookie
    assert "SameSite=lax" in cookie and "Path=/" in cookie and "Domain" not in cookie
    first = b.client.cookies.get("__Host-stegvis")
    with app.state.stegvis.db.session() as db:
        stored = db.execute(text("SELECT token_hash FROM sessions")).scalars().all()
    assert first not in stored and len(stored) == 1  # only the hash is stored
    planted = Browser(app)
    planted.client.cookies.set("__Host-stegvis", "planterad-av-angripare")
    fresh = planted.login("anna").headers.get_list("set-cookie")[0].split(";")[0].split("=", 1)[1]
    assert fresh not in ("planterad-av-angripare", first)
    planted.close()
    b.close()


def test_session__ends_after_idle_time_and_absolute_limit(app, people, anna, clock):
    e = people.enrolment_a
    clock.advance(minutes=29)
    assert anna.get(f"/moment/{e}").status_code == 200
    clock.advance(minutes=29)  # still within 30 minutes of the last request
    assert anna.get(f"/moment/{e}").status_code == 200
    clock.advance(minutes=31)
    assert anna.get(f"/moment/{e}").status_code == 303
    anna.login("anna")
    for _ in range(28):  # 11 hours 40 minutes of activity, never idle for 30 minutes
        clock.advance(minutes=25)
        assert anna.get(f"/moment/{e}").status_code == 200
    clock.advance(minutes=25)  # 12 hours and 5 minutes after login
    assert anna.get(f"/moment/{e}").status_code == 303


def test_login__slowed_after_repeated_failures_never_locked(app, people, clock):
    # Issue #13 replaced the 15-minute lock; tests/runtime/test_accounts.py has the details.
    from conftest import Browser

    b = Browser(app)
    for _ in range(5):
        assert b.login("anna", "fel").status_code == 401
    slowed = b.login("anna")
    assert slowed.status_code == 429 and "Vänta 1 sekund" in slowed.text
    clock.advance(seconds=1)
    assert b.login("anna").status_code == 303
    b.close()


def test_security_headers__csp_and_friends_on_pages_and_api(app, people, anna):
    for url in ("/logga-in", f"/moment/{people.enrolment_a}", f"/api/v1/enrolments/{people.enrolment_a}"):
        headers = anna.get(url).headers
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff" and headers["cache-control"] == "no-store"
        assert headers["referrer-policy"] == "same-origin"


def test_errors__swedish_page_or_json_never_a_traceback(app, people, anna):
    page = anna.get("/finns-inte")
    assert page.status_code == 404 and "Sidan finns inte" in page.text and "Traceback" not in page.text
    api = anna.get("/api/v1/finns-inte")
    assert api.status_code == 404 and api.json() == {"detail": "Sidan finns inte, eller så har du inte tillgång till den."}
    assert "/docs" not in [getattr(r, "path", "") for r in app.routes]


def test_access_log__append_only(app, people, anna):
    anna.get(f"/moment/{people.enrolment_a}")
    db = app.state.stegvis.db
    for statement in ("UPDATE access_log SET action = 'x'", "DELETE FROM access_log"):
        with pytest.raises(Exception, match="append-only"):
            with db.session() as s:
                s.execute(text(statement))
    with db.session() as s:
        assert s.query(AccessLogEntry).count() == 1  # the start page, untouched


def test_access_log__survives_a_purge_of_the_enrolment(app, people, anna):
    from runtime.audit import log_extract
    from runtime.models import Enrolment

    anna.get(f"/moment/{people.enrolment_a}")
    with app.state.stegvis.db.session() as s:
        s.delete(s.get(Enrolment, people.enrolment_a))
    with app.state.stegvis.db.session() as s:
        extract = log_extract(s, people.patient_a)
    assert [r.action for r in extract][-1] == "enrolment.read"


def test_personnummer__validated_with_stdnum_and_samordningsnummer():
    assert str(parse_personal_number("19121212-1212")) == "19121212-1212"
    assert parse_personal_number("121212-1212").digits == "201212121212"
    assert parse_personal_number("197010632391").kind == "samordningsnummer"
    for bad in ("19121212-1213", "19701363-2391", "1912121212", "abc", "19130230-1234"):
        with pytest.raises(InvalidPersonalNumber):
            parse_personal_number(bad)


def test_personnummer__never_in_application_logs(app, people, tove, caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("stegvis.test").warning("Patient %s loggade in", "19121212-1212")
    tove.api("POST", "/api/v1/staff/enrolments", {"personal_number": "19121212-1213", "program_id": "testprogram"})
    tove.api("POST", "/api/v1/staff/enrolments", {"personal_number": "198112189876", "display_name": "Ny Person",
                                                  "program_id": "testprogram"})
    text_logged = "\n".join(r.getMessage() for r in caplog.records)
    for number in ("19121212-1212", "191212121212", "198112189876", "19121212-1213"):
        assert number not in text_logged
    assert "[personnummer]" in text_logged
    assert redact("pnr 811218-9876 och 20121212+1212") == "pnr [personnummer] och [personnummer]"


def test_staff_enrolment__access_logged_with_unit_and_patient(app, people, tove):
    tove.get(f"/api/v1/staff/enrolments/{people.enrolment_a}")
    with app.state.stegvis.db.session() as s:
        row = s.query(AccessLogEntry).order_by(AccessLogEntry.id.desc()).first()
    assert (row.actor_id, row.actor_role, row.unit_id, row.patient_id, row.action) == (
        people.therapist, "staff", people.unit, people.patient_a, "enrolment.read")


def test_idle_session_row__deleted_when_met(app, people, anna, clock):
    clock.advance(hours=1)
    anna.get(f"/moment/{people.enrolment_a}")
    with app.state.stegvis.db.session() as s:
        assert s.execute(text("SELECT count(*) FROM sessions")).scalar() == 0
    _ = timedelta
