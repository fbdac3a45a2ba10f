"""Issue 16: the step page's hot path keeps its guarantees while doing less.

- One transaction per request: the step's opened mark, the access-log row and the
  session's touch are committed together, before the page is sent.
- The step page checks its patient in the route's own thread; the answers are the
  guard's (login redirect, staff refused, one-time password to change first).
- Templates are compiled once in production; development reloads them.
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from runtime.models import AccessLogEntry, LoginSession, StepOpening
from runtime.server import settings_from_args
from runtime.settings import RuntimeSettings
from runtime.web import make_templates


def test_step_page__one_commit_with_mark_log_and_session_touch(app, people, anna, clock):
    e = people.enrolment_a
    assert anna.get(f"/moment/{e}/steg/start/valkommen").status_code == 200
    clock.advance(minutes=2)  # the session's last-seen time is due for its update
    state = app.state.stegvis
    commits = []
    listener = lambda connection: commits.append(connection)  # noqa: E731
    event.listen(state.db.engine, "commit", listener)
    try:
        page = anna.get(f"/moment/{e}/steg/start/valkommen")
    finally:
        event.remove(state.db.engine, "commit", listener)
    assert page.status_code == 200
    assert len(commits) == 1
    with state.db.session() as db:
        assert db.scalar(select(StepOpening.times).where(StepOpening.enrolment_id == e,
                                                         StepOpening.step_id == "valkommen")) == 2
        assert db.scalar(select(func.max(LoginSession.last_seen_at))) == clock.now()
        assert db.scalar(select(func.count()).select_from(AccessLogEntry).where(
            AccessLogEntry.action == "step.open", AccessLogEntry.at == clock.now())) == 1


def test_step_page__the_patient_guard_in_the_route(app, people, login_as):
    url = f"/moment/{people.enrolment_a}/steg/start/valkommen"
    anonymous = TestClient(app, base_url="https://testserver", follow_redirects=False)
    page = anonymous.get(url)
    assert page.status_code == 303 and page.headers["location"] == "/logga-in"
    refused = login_as("tove").get(url)
    assert refused.status_code == 403 and "för patienter" in refused.text
    assert login_as("bertil").get(url).status_code == 404  # another patient's enrolment


def test_templates__compiled_once_unless_reloading_is_asked_for(packages, sqlite_url):
    assert RuntimeSettings(packages=packages, database_url=sqlite_url).reload_templates is False
    assert make_templates(False).auto_reload is False
    assert make_templates(True).auto_reload is True
    assert settings_from_args(packages, sqlite_url, None, False, reload_templates=True).reload_templates is True
