"""API fuzzing (issue 14): Schemathesis against /api/openapi.json, anonymous, as a patient and as staff.

Every operation of the JSON API gets generated requests (valid and invalid bodies, path
parameters and query strings) from its OpenAPI description, and every response must be
no server error (500), carry a status the operation declares, with the declared content
type, and match the declared schema for that status (error bodies included: runtime/api.py
ERRORS). Half of the examples aim the path's ids at real rows (the patient's enrolment,
plan, form, step, thread; the staff's enrolment and plan) and put real names into the
body (question ids, a valid personnummer, the test program), so generated values reach
the services and not only the 404 or the 422 of the request's form. The stateful test
follows the links Schemathesis infers from the schema (an enrolment's plans, a plan's
registrations, a thread's messages) as the patient.

Budget: the fuzz suite runs in well under a minute on a 2-core machine; examples are few,
the seed is fixed (derandomised, same requests every run), the deadline is off, and the
module has one database (tests/runtime/fuzzing.py). Issue 14's findings (ids from 2^63,
non-ASCII CSRF tokens, unbounded dates) are fixed; the fuzzers meet them like any other
input, and tests at the end pin them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from conftest import make_settings
from fuzzing import SEED, FuzzWorld, make_world
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from runtime.app import create_app
from runtime.models import MessageThread

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FUZZ = settings(max_examples=15, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))
CONFIG = f"""
seed = {SEED}
[generation]
mode = "all"
[phases.coverage]
enabled = false
"""
#: Ids from 2^63 up overflow the database's integers (a 500): one of issue 14's findings, fixed on
#: the security branch and pinned by test_huge_id__not_found below; the fuzzers stay below it.
MAX_ID = 2**63 - 1
#: Question ids of the test program's form "mal" (tests/fixtures/minimal/forms/mal.yaml).
QUESTIONS = ("namn", "mal", "roker", "antal", "hinder", "viktigt", "start")
#: Valid personnummer (check digits right) of people the seed does not know, and anna's.
PERSONAL_NUMBERS = ("191212121212", "194107086995", "200001012384")


def _openapi() -> dict:
    """The app's OpenAPI document (the same for every app: it depends on the routes only).

    Loaded at import, not from a fixture: schemathesis.pytest.from_fixture needs pytest's
    private `Item._nodeid`, which pytest 9 no longer has. The requests still go to the
    module's app (`app=` on each call), through Schemathesis' ASGI transport.
    """
    unused = Path(tempfile.gettempdir()) / "stegvis-fuzz-openapi"
    app = create_app(make_settings(unused / "packages", f"sqlite:///{unused}/never-opened.sqlite3"), migrate=False,
                     scan=False)
    document = app.openapi()
    app.state.stegvis.db.dispose()
    return document


schema = schemathesis.openapi.from_dict(_openapi(), config=schemathesis.Config.from_str(CONFIG))


@pytest.fixture(scope="module")
def world(built_packages, sqlite_template, tmp_path_factory) -> Iterator[FuzzWorld]:
    """The module's app: anna (patient A) and tove (her therapist) logged in, one thread started."""
    w = make_world(built_packages, sqlite_template, tmp_path_factory.mktemp("fuzz-api"), ("anna", "tove"))
    made = w.browsers["anna"].api("POST", f"/api/v1/enrolments/{w.people.enrolment_a}/threads",
                                  json={"subject": "Hej", "body": "Fråga"})
    assert made.status_code == 201, made.text
    yield w
    w.close()


def _auth(world: FuzzWorld, name: str) -> dict[str, str]:
    b = world.browsers[name]
    cookie = world.app.state.stegvis.session_cookie
    return {"Cookie": f"{cookie}={b.client.cookies.get(cookie)}", "X-CSRF-Token": b.csrf}


def _real_ids(world: FuzzWorld) -> dict[str, tuple]:
    """Path parameter → the ids of real rows (anna's enrolment A, which tove is the therapist of)."""
    p = world.people
    with world.app.state.stegvis.db.session() as db:
        threads = tuple(db.scalars(select(MessageThread.id).where(MessageThread.enrolment_id == p.enrolment_a)))
    return {"eid": (p.enrolment_a,), "plan_pk": tuple(sorted(p.plans_a.values())), "form_id": ("mal",),
            "module_id": ("start",), "step_id": ("mitt-mal",), "thread_id": threads}


def _occasion(world: FuzzWorld, plan_pk: object) -> str:
    """An occasion of the plan open now (or, when none is, one already registered, or the first in its schedule)."""
    answer = world.browsers["anna"].api("GET", f"/api/v1/enrolments/{world.people.enrolment_a}/plans/{plan_pk}")
    plan = answer.json() if answer.status_code == 200 else {}
    keys = [o["occasion_at"] for o in plan.get("open_occasions", [])]
    keys += [r["occasion_at"] for r in plan.get("registrations", [])]
    return keys[0] if keys else "2026-03-02T18:00:00Z"


def _real_body(world: FuzzWorld, body: dict, path: dict) -> dict:
    """The generated body with real names where the API expects them (values stay generated)."""
    body = dict(body)
    if isinstance(body.get("answers"), dict):
        body["answers"] = dict(zip(QUESTIONS, body["answers"].values(), strict=False))
    if "personal_number" in body:
        body["personal_number"] = PERSONAL_NUMBERS[len(str(body["personal_number"])) % len(PERSONAL_NUMBERS)]
        body.update(program_id="testprogram", version=None, email=None, phone=None)
        if body.get("therapist_id") is not None:
            body["therapist_id"] = world.people.therapist
    if "occasion_at" in body:
        body["occasion_at"] = _occasion(world, path.get("plan_pk"))
    return body


def _aim(case, data, world: FuzzWorld) -> None:
    """Half of the time, point the path's ids at real rows and put real names in the body."""
    if data.draw(st.booleans(), label="real ids and names"):
        real = _real_ids(world)
        if case.path_parameters:
            case.path_parameters = {k: (real[k][0] if real.get(k) else v) for k, v in case.path_parameters.items()}
        if isinstance(case.body, dict):
            case.body = _real_body(world, case.body, case.path_parameters or {})


def _call(case, world: FuzzWorld, name: str | None):
    return case.call_and_validate(headers=_auth(world, name) if name else None, checks=CHECKS, app=world.app)


@schema.include(tag=["patient", "session"]).exclude(method="DELETE", path="/api/v1/session").parametrize()
@schema.given(data=st.data())
@FUZZ
def test_api_as_patient__no_server_error_and_conforming(case, data, world):
    _aim(case, data, world)
    _call(case, world, "anna")


@schema.include(tag=["staff", "session"]).exclude(method="DELETE", path="/api/v1/session").parametrize()
@schema.given(data=st.data())
@FUZZ
def test_api_as_staff__no_server_error_and_conforming(case, data, world):
    _aim(case, data, world)
    _call(case, world, "tove")


@schema.parametrize()
@schema.given(data=st.data())
@settings(FUZZ, max_examples=3)
def test_api_wrong_kind_or_anonymous__no_server_error_and_conforming(case, data, world):
    # The patient on the staff's calls, the staff on the patient's, and nobody on all of them.
    _aim(case, data, world)
    tags = case.operation.definition.raw.get("tags", [])
    _call(case, world, "tove" if "patient" in tags else "anna" if "staff" in tags else None)
    _call(case, world, None)


def test_api_stateful_as_patient__no_server_error_and_conforming(world):
    machine = schema.include(tag=["patient"]).as_state_machine()

    class Patient(machine):
        def before_call(self, case):
            # Links carry ids from earlier responses; ids the patient has no row for are made real.
            real = _real_ids(world)
            if case.path_parameters:
                case.path_parameters = {k: (v if not real.get(k) or v in real[k] else real[k][0])
                                        for k, v in case.path_parameters.items()}
            if isinstance(case.body, dict):
                case.body = _real_body(world, case.body, case.path_parameters or {})

        def get_call_kwargs(self, case):
            return {"headers": _auth(world, "anna"), "app": world.app}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)

    Patient.run(settings=settings(FUZZ, max_examples=10, stateful_step_count=8))


# --- issue 14's known findings (fixed): the fuzzers reach them too, these pin them -------------------


def test_huge_id__not_found(app, people, anna):
    assert anna.api("GET", f"/api/v1/enrolments/{2**63}").status_code == 404


def test_non_ascii_csrf_token__forbidden(app, people, anna):
    answer = anna.client.request("POST", f"/api/v1/enrolments/{people.enrolment_a}/threads",
                                 json={"subject": "Hej", "body": "Fråga"}, headers={"X-CSRF-Token": "åäö".encode()})
    assert answer.status_code == 403


def test_plan_start_in_year_9999__no_server_error(app, people, anna, tove):
    e, p = people.enrolment_a, people.plans_a["steg"]
    tove.api("PUT", f"/api/v1/staff/enrolments/{e}/plans/{p}",
             json={"start_date": "9999-12-31", "days": {"måndag": "19:00"}, "activated": True})
    assert anna.api("GET", f"/api/v1/enrolments/{e}/plans/{p}").status_code < 500


def test_openapi_declares_error_bodies__every_operation():
    # Before issue 14 the document promised FastAPI's validation list for 422 and nothing for
    # 401/403/404, while the API answers {"detail": "…", "errors": {…}} for all of them.
    document = _openapi()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status in ("400", "401", "403", "404", "422"):
                content = operation["responses"][status]["content"]["application/json"]
                assert content["schema"] == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, status)
    assert "HTTPValidationError" not in document["components"]["schemas"]
