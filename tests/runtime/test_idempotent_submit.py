"""Issue 14: five identical concurrent submissions stored five rows; a submission sent again is stored once.

The same answers to the same form of the same enrolment within RESUBMIT_WINDOW are the
same submission (a double click, a resent request): the second answer is the first row.
Submissions of one enrolment take turns (the enrolment's row is locked on PostgreSQL;
SQLite writes one at a time), so concurrency cannot slip a duplicate past the check.
"""

from __future__ import annotations

import threading

from sqlalchemy import select

from runtime.models import Flag, FormSubmission
from runtime.services.patient import RESUBMIT_WINDOW
from tests.runtime.conftest import Browser

FORM = "/moment/{e}/steg/start/mitt-mal/formular/mal"
ANSWERS = {"_action": "submit", "mal": "Gå en promenad varje dag", "roker": "nej"}


def submissions(app) -> list[FormSubmission]:
    with app.state.stegvis.db.session() as db:
        return list(db.scalars(select(FormSubmission).order_by(FormSubmission.id)))


def test_five_identical_concurrent_submissions__one_row_one_flag(app, people):
    browsers = []
    for _ in range(5):
        b = Browser(app)
        assert b.login("anna").status_code == 303
        browsers.append(b)
    start = threading.Barrier(5)
    answers: list[int] = []

    def submit(b: Browser) -> None:
        start.wait()
        answers.append(b.post(FORM.format(e=people.enrolment_a), ANSWERS).status_code)

    threads = [threading.Thread(target=submit, args=(b,)) for b in browsers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for b in browsers:
        b.close()
    assert answers == [303] * 5  # every sender is told it went through
    assert len(submissions(app)) == 1
    with app.state.stegvis.db.session() as db:
        assert len(db.scalars(select(Flag)).all()) == 1


def test_other_answers_or_later__a_new_submission(app, people, anna, clock):
    e = people.enrolment_a
    assert anna.post(FORM.format(e=e), ANSWERS).status_code == 303
    assert anna.post(FORM.format(e=e), ANSWERS | {"mal": "Cykla till jobbet"}).status_code == 303
    assert anna.post(FORM.format(e=e), ANSWERS | {"mal": "Cykla till jobbet"}).status_code == 303
    assert len(submissions(app)) == 2
    clock.advance(seconds=RESUBMIT_WINDOW.total_seconds() + 1)
    assert anna.post(FORM.format(e=e), ANSWERS | {"mal": "Cykla till jobbet"}).status_code == 303
    assert [s.answers["mal"] for s in submissions(app)] == ["Gå en promenad varje dag", "Cykla till jobbet",
                                                            "Cykla till jobbet"]
