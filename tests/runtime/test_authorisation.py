"""Issue #8: per-record authorisation, on SQLite and PostgreSQL.

Patient A tries every patient route with patient B's ids (B's enrolment, and B's
plan and thread under A's own enrolment) and must get 404, the same answer as for
an id that does not exist, with nothing written. The matrix is checked against the
app's route table, so a new route without a case here fails the suite.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from runtime.models import (
    AuthorRole,
    Base,
    Enrolment,
    EnrolmentStatus,
    Message,
    MessageThread,
)

# (method, path, body): "page" = form fields with the CSRF token, a dict = the API call's JSON body.
MATRIX = [
    ("GET", "/moment/{e}", None),
    ("GET", "/moment/{e}/steg/start/valkommen", None),
    ("POST", "/moment/{e}/steg/start/mitt-mal", "page"),
    ("POST", "/moment/{e}/steg/start/mitt-mal/formular/mal", "page"),
    ("POST", "/moment/{e}/steg/start/mitt-mal/formular/mal/kommentarer", "page"),
    ("GET", "/moment/{e}/aktivitetsplaner/{p}", None),
    ("POST", "/moment/{e}/aktivitetsplaner/{p}/registreringar", "page"),
    ("GET", "/moment/{e}/meddelanden", None),
    ("GET", "/moment/{e}/meddelanden/nytt", None),
    ("POST", "/moment/{e}/meddelanden", "page"),
    ("GET", "/moment/{e}/meddelanden/{t}", None),
    ("POST", "/moment/{e}/meddelanden/{t}", "page"),
    ("GET", "/moment/{e}/filer/assets/stegvis.css", None),
    ("GET", "/moment/{e}/sprak/fi/assets/stegvis.css", None),
    ("GET", "/api/v1/enrolments/{e}", None),
    ("GET", "/api/v1/enrolments/{e}/steps/start/valkommen", None),
    ("POST", "/api/v1/enrolments/{e}/steps/start/valkommen/open", {}),
    ("GET", "/api/v1/enrolments/{e}/forms/mal", None),
    ("PUT", "/api/v1/enrolments/{e}/forms/mal/draft", {"answers": {"mal": "x"}}),
    ("POST", "/api/v1/enrolments/{e}/forms/mal/submissions", {"answers": {"mal": "x"}}),
    ("POST", "/api/v1/enrolments/{e}/forms/mal/comments", {"body": "x"}),
    ("GET", "/api/v1/enrolments/{e}/plans", None),
    ("GET", "/api/v1/enrolments/{e}/plans/{p}", None),
    ("POST", "/api/v1/enrolments/{e}/plans/{p}/registrations",
     {"occasion_at": "2026-03-02T18:00:00Z", "values": {"steg": 1}}),
    ("GET", "/api/v1/enrolments/{e}/threads", None),
    ("POST", "/api/v1/enrolments/{e}/threads", {"subject": "x", "body": "x"}),
    ("GET", "/api/v1/enrolments/{e}/threads/{t}", None),
    ("POST", "/api/v1/enrolments/{e}/threads/{t}/messages", {"body": "x"}),
]

PAGE_BODY = {"_action": "submit", "_form": "mal", "mal": "x", "body": "x", "subject": "x", "_occasion": "2026-03-02T18:00:00Z",
             "steg": "1"}


def thread_for(app, enrolment_id: int, therapist_id: int) -> int:
    """A thread with one message from the therapist in an enrolment."""
    now = app.state.stegvis.clock.now()
    with app.state.stegvis.db.session() as db:
        thread = MessageThread(enrolment_id=enrolment_id, subject="Hej", created_by=therapist_id, created_at=now,
                               last_message_at=now)
        db.add(thread)
        db.flush()
        db.add(Message(thread_id=thread.id, sender_id=therapist_id, sender_role=AuthorRole.therapist, body="Hej!",
                       created_at=now))
        return thread.id


def counts(app) -> dict[str, int]:
    """Rows per table, except the access log and sessions (which a refused request may touch)."""
    with app.state.stegvis.db.session() as db:
        return {t.name: db.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables
                if t.name not in ("access_log", "sessions")}


def call(browser, method: str, path: str, kind: str | dict | None):
    if kind == "page":
        return browser.post(path, PAGE_BODY)
    if isinstance(kind, dict):
        return browser.api(method, path, kind or None)
    return browser.get(path)


def test_matrix_covers_every_enrolment_route(app):
    from conftest import app_routes

    routes = {(m, r.path) for r in app_routes() if "{eid}" in r.path and not r.path.startswith(("/api/v1/staff", "/personal"))
              for m in r.methods - {"HEAD"}}
    assert len(routes) >= 20
    covered = set()
    for method, path, _ in MATRIX:
        template = path.replace("{e}", "{eid}").replace("{p}", "{plan_pk}").replace("{t}", "{thread_id}")
        for route_method, route_path in routes:
            import re

            pattern = "^" + re.sub(r"\{[a-z_]+(:path)?\}", lambda m: ".+" if m.group(1) else "[^/]+", route_path) + "$"
            if route_method == method and re.match(pattern, template.replace("{eid}", "1").replace(
                    "{plan_pk}", "1").replace("{thread_id}", "1")):
                covered.add((route_method, route_path))
    assert routes - covered == set()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared(request, tmp_path_factory, built_packages, sqlite_template):
    """One app per backend for the whole matrix: refused requests write nothing, so it can be shared."""
    import shutil

    from conftest import NOW, ROOT, Browser, build_package, make_settings, seed

    from runtime.app import create_app
    from runtime.clock import FixedClock

    folder = tmp_path_factory.mktemp("matrix")
    if request.param == "sqlite":
        shutil.copyfile(sqlite_template, folder / "db.sqlite3")
        url = f"sqlite:///{folder / 'db.sqlite3'}"
    else:
        server = request.getfixturevalue("postgres")
        if server is None:
            pytest.skip("no PostgreSQL server configured: set STEGVIS_TEST_POSTGRES_URL (.ci/run does)")
        server.reset()
        url = server.url
    # With the Finnish translation, so that its files (/moment/<e>/sprak/fi/…) are in the matrix too (issue 18).
    packages = folder / "packages"
    shutil.copytree(built_packages, packages)
    build_package(ROOT / "tests" / "fixtures" / "minimal-fi", packages)
    application = create_app(make_settings(packages, url), clock=FixedClock(NOW), migrate=False)
    people = seed(application)
    threads = (thread_for(application, people.enrolment_a, people.therapist),
               thread_for(application, people.enrolment_b, people.therapist))
    patient = Browser(application)
    assert patient.login("anna").status_code == 303
    yield application, people, patient, threads
    patient.close()
    application.state.stegvis.db.dispose()


@pytest.mark.parametrize(("method", "path", "kind"), MATRIX, ids=[f"{m} {p}" for m, p, _ in MATRIX])
def test_other_patients_enrolment__not_found_and_nothing_written(shared, method, path, kind):
    app, people, anna, (_, thread_b) = shared
    before = counts(app)
    response = call(anna, method, path.format(e=people.enrolment_b, p=people.plans_b["steg"], t=thread_b), kind)
    assert response.status_code == 404, response.text[:300]
    assert counts(app) == before


SUB_RESOURCES = [(m, p, k) for m, p, k in MATRIX if "{p}" in p or "{t}" in p]


@pytest.mark.parametrize(("method", "path", "kind"), SUB_RESOURCES, ids=[f"{m} {p}" for m, p, _ in SUB_RESOURCES])
def test_other_patients_plan_or_thread_under_own_enrolment__not_found(shared, method, path, kind):
    app, people, anna, (_, thread_b) = shared
    before = counts(app)
    response = call(anna, method, path.format(e=people.enrolment_a, p=people.plans_b["steg"], t=thread_b), kind)
    assert response.status_code == 404
    assert counts(app) == before


def test_own_ids__allowed(shared):
    app, people, anna, (thread_a, _) = shared
    for method, path, kind in MATRIX:
        if method != "GET":
            continue
        response = call(anna, method, path.format(e=people.enrolment_a, p=people.plans_a["steg"], t=thread_a), kind)
        assert response.status_code == 200, (path, response.status_code)


def test_unknown_ids__same_answer_as_someone_elses(app, people, anna):
    assert anna.get("/moment/999").status_code == 404
    assert anna.get("/api/v1/enrolments/999").status_code == 404
    assert anna.get(f"/moment/{people.enrolment_a}/aktivitetsplaner/999").status_code == 404
    assert anna.get("/moment/abc").status_code == 404


def test_not_logged_in__login_page_or_401(app, people):
    from fastapi.testclient import TestClient

    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    page = client.get(f"/moment/{people.enrolment_a}")
    assert page.status_code == 303 and page.headers["location"] == "/logga-in"
    assert client.get(f"/api/v1/enrolments/{people.enrolment_a}").status_code == 401
    assert client.get(f"/moment/{people.enrolment_a}/filer/assets/stegvis.css").status_code == 303


def test_staff__not_on_the_patient_routes(app, people, tove):
    assert tove.get(f"/moment/{people.enrolment_a}").status_code == 403
    assert tove.get(f"/api/v1/enrolments/{people.enrolment_a}").status_code == 403


def test_ended_enrolment__no_access_for_its_patient(app, people, anna):
    with app.state.stegvis.db.session() as db:
        db.get(Enrolment, people.enrolment_a).status = EnrolmentStatus.ended
    response = anna.get(f"/moment/{people.enrolment_a}")
    assert response.status_code == 403 and "avslutat" in response.text


def test_maintenance__reading_allowed_writing_refused(app, people, anna):
    from datetime import date

    with app.state.stegvis.db.session() as db:
        e = db.get(Enrolment, people.enrolment_a)
        e.status, e.maintenance_until = EnrolmentStatus.maintenance, date(2026, 4, 1)
    assert anna.get(f"/moment/{people.enrolment_a}/steg/start/mitt-mal").status_code == 200
    refused = anna.post(f"/moment/{people.enrolment_a}/steg/start/mitt-mal/formular/mal", PAGE_BODY)
    assert refused.status_code == 403 and "vidmakthållande" in refused.text
    assert anna.api("POST", f"/api/v1/enrolments/{people.enrolment_a}/threads",
                    {"subject": "x", "body": "x"}).status_code == 403


# --- staff calls ---------------------------------------------------------------------------------


def test_staff_api__start_and_customise_an_enrolment(app, people, tove):
    created = tove.api("POST", "/api/v1/staff/enrolments",
                       {"personal_number": "19810101-0101", "display_name": "Cecilia Ny", "program_id": "testprogram"})
    assert created.status_code == 422 and "giltigt personnummer" in created.json()["detail"]
    created = tove.api("POST", "/api/v1/staff/enrolments",
                       {"personal_number": "198112189876", "display_name": "Cecilia Ny", "program_id": "testprogram"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["modules"] == {"start": "current", "fordjupning": "upcoming"}
    assert body["hidden_steps"] == ["fordjupning/mer"]
    eid = body["id"]
    changed = tove.api("PATCH", f"/api/v1/staff/enrolments/{eid}",
                       {"welcome_text": "Hej Cecilia!", "modules": {"fordjupning": "current"},
                        "steps": {"fordjupning/mer": True, "start/valkommen": False}})
    assert changed.status_code == 200
    assert changed.json()["hidden_steps"] == ["start/valkommen"]
    plan = body["plans"][0]
    refused = tove.api("PUT", f"/api/v1/staff/enrolments/{eid}/plans/{plan['id']}",
                       {"days": {"måndag": "25:00"}, "activated": True, "start_date": "2026-03-02"})
    assert refused.status_code == 422
    saved = tove.api("PUT", f"/api/v1/staff/enrolments/{eid}/plans/{plan['id']}",
                     {"days": {"måndag": "8:30", "torsdag": "18:00"}, "repeat_every_weeks": 2,
                      "registration_window_days": 1, "activated": True, "start_date": "2026-03-02",
                      "allow_comments": True})
    assert saved.status_code == 200 and saved.json()["days"] == {"måndag": "08:30", "torsdag": "18:00"}


def test_staff_api__other_units_enrolment_not_found(app, people):
    from conftest import Browser

    olle = Browser(app)
    assert olle.login("olle").status_code == 303
    assert olle.get(f"/api/v1/staff/enrolments/{people.enrolment_a}").status_code == 404
    assert olle.api("PATCH", f"/api/v1/staff/enrolments/{people.enrolment_a}",
                    {"welcome_text": "x"}).status_code == 404
    olle.close()


def test_staff_api__patients_cannot_use_it(app, people, anna):
    assert anna.get(f"/api/v1/staff/enrolments/{people.enrolment_a}").status_code == 403
    assert anna.api("POST", "/api/v1/admin/packages/rescan").status_code == 403
