"""Issue 14 (ASVS 7.2.2): refused requests of logged-in people are logged where the data administrator sees them.

The outside test's 447 refused attempts left no trace. Now a 403 or 404 that a logged-in
person gets from a route writes an `access.refused` row in its own transaction (the
request's own is rolled back), with the unit to tell: the session's (staff) or the unit of
the enrolment a patient's path names. The unit's data administrator reads them on the
log-extract page. At most REFUSALS_LOGGED_PER_MINUTE rows per person and minute.
"""

from __future__ import annotations

from sqlalchemy import select

from runtime.models import AccessLogEntry
from runtime.web import REFUSALS_LOGGED_PER_MINUTE


def refusals(app) -> list[AccessLogEntry]:
    with app.state.stegvis.db.session() as db:
        return list(db.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "access.refused")
                               .order_by(AccessLogEntry.id)))


def test_patient_asking_for_another_patients_enrolment__refused_and_logged_for_that_unit(app, people, anna):
    assert anna.get(f"/moment/{people.enrolment_b}").status_code == 404
    assert anna.api("GET", f"/api/v1/enrolments/{people.enrolment_b}").status_code == 404
    rows = refusals(app)
    assert [(r.actor_id, r.actor_role, r.unit_id, r.target) for r in rows] == [
        (people.patient_a, "patient", people.unit, f"GET /moment/{people.enrolment_b}"),
        (people.patient_a, "patient", people.unit, f"GET /api/v1/enrolments/{people.enrolment_b}")]
    assert all(r.patient_id is None and r.enrolment_id is None for r in rows)  # nothing of Bertil's is named


def test_staff_of_another_unit__refused_and_logged_in_their_unit(app, people, login_as):
    olle = login_as("olle")
    assert olle.get(f"/personal/moment/{people.enrolment_a}").status_code == 404
    [row] = refusals(app)
    assert (row.actor_id, row.actor_role, row.unit_id) == (people.other_therapist, "staff", people.other_unit)


def test_data_administrator__sees_the_units_refusals_and_the_reading_is_logged(app, people, anna, login_as):
    anna.get(f"/moment/{people.enrolment_b}/filer/program.json")
    page = login_as("dan").get("/personal/loggutdrag")
    assert page.status_code == 200 and "Nekade åtkomstförsök i vårdenheten" in page.text
    assert f"GET /moment/{people.enrolment_b}/filer/program.json" in page.text and "Anna Test" in page.text
    with app.state.stegvis.db.session() as db:
        assert db.scalar(select(AccessLogEntry).where(AccessLogEntry.action == "access.refused.read")) is not None


def test_refusals__at_most_the_limit_per_person_and_minute(app, people, anna):
    for _ in range(REFUSALS_LOGGED_PER_MINUTE + 10):
        assert anna.get(f"/moment/{people.enrolment_b}").status_code == 404
    assert len(refusals(app)) == REFUSALS_LOGGED_PER_MINUTE


def test_anonymous_and_allowed_requests__no_refusal_rows(app, people, anna):
    from fastapi.testclient import TestClient

    with TestClient(app, base_url="https://testserver", follow_redirects=False) as nobody:
        assert nobody.get(f"/moment/{people.enrolment_a}").status_code in (302, 303, 307)
    assert anna.get(f"/moment/{people.enrolment_a}").status_code == 200
    assert refusals(app) == []
