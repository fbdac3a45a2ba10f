"""Issue #9: the role × action × unit matrix, through the real routes (on SQLite; see `database_url`).

Every case logs in as one person, does one thing to patient A's enrolment (or a unit
tool), and asserts the answer: allowed (200, or 303 to the next page), refused for the
role (403), or not found (404: another unit's staff, and staff whose roles have no
business with enrolments, learn nothing from an id). A refused POST must change
nothing; an allowed POST must change what it says.

People (tests/runtime/conftest.py): tove is the therapist of A (and access admin),
tim a therapist of the same unit with no enrolments of his own, cissi a citizen
admin, agnes an access admin, dan a data admin, olle a therapist of another unit,
anna the patient herself.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from runtime.models import Enrolment, Flag, FlagKind, Message, MessageThread, UnitRole

PEOPLE = ("tove", "tim", "cissi", "agnes", "dan", "olle", "anna")
OK, FORBIDDEN, HIDDEN = "ok", 403, 404


def expect(tove, tim, cissi, agnes, dan, olle, anna=FORBIDDEN) -> dict[str, object]:
    return dict(zip(PEOPLE, (tove, tim, cissi, agnes, dan, olle, anna), strict=True))


READ = expect(OK, OK, OK, HIDDEN, HIDDEN, HIDDEN)  # the unit's therapists and citizen admins read
OWN = expect(OK, FORBIDDEN, OK, HIDDEN, HIDDEN, HIDDEN)  # the patient's therapist, or a citizen admin, changes
ADMIN_ONLY = expect(FORBIDDEN, FORBIDDEN, OK, HIDDEN, HIDDEN, HIDDEN)  # citizen admins only

# (case, method, path, form body, expectations). {e} = A's enrolment, {f} = an open flag of A,
# {t} = a thread of A, {tim} = tim's user id, {other} = the other unit's id, {p} = A's "steg" plan.
CASES = [
    ("overview", "GET", "/personal", None, expect(OK, OK, OK, OK, OK, OK)),
    ("start page", "GET", "/personal/moment/nytt", None, expect(OK, OK, OK, FORBIDDEN, FORBIDDEN, OK)),
    ("review", "GET", "/personal/moment/{e}", None, READ),
    ("timeline", "GET", "/personal/moment/{e}/tidslinje", None, READ),
    ("summary", "GET", "/personal/moment/{e}/sammanfattning", None, READ),
    ("customise page", "GET", "/personal/moment/{e}/anpassa", None, READ),
    ("preview", "GET", "/personal/moment/{e}/forhandsvisning", None, READ),
    ("plans", "GET", "/personal/moment/{e}/aktivitetsplaner", None, READ),
    ("messages", "GET", "/personal/moment/{e}/meddelanden", None, READ),
    ("manage page", "GET", "/personal/moment/{e}/hantera", None, READ),
    ("customise", "POST", "/personal/moment/{e}/anpassa",
     {"_section": "valkomst", "welcome_text": "Ny välkomsttext."}, OWN),
    ("plan settings", "POST", "/personal/moment/{e}/aktivitetsplaner/{p}/installningar",
     {"start_date": "2026-03-02", "repeat_every_weeks": "1", "day-0": "ja", "time-0": "08:00",
      "registration_window_days": "1", "activated": "ja"}, OWN),
    ("hide flag", "POST", "/personal/moment/{e}/flaggor/{f}/dolj", {}, OWN),
    ("message", "POST", "/personal/moment/{e}/meddelanden", {"subject": "Hej", "body": "Hur går det?"},
     expect(OK, FORBIDDEN, FORBIDDEN, HIDDEN, HIDDEN, HIDDEN)),
    ("reply", "POST", "/personal/moment/{e}/meddelanden/{t}", {"body": "Svar."},
     expect(OK, FORBIDDEN, FORBIDDEN, HIDDEN, HIDDEN, HIDDEN)),
    ("maintenance", "POST", "/personal/moment/{e}/vidmakthall", {"dagar": "30", "moduler": "start", "bekrafta": "ja"}, OWN),
    ("end", "POST", "/personal/moment/{e}/avsluta", {"orsak": "genomford", "bekrafta": "ja"}, OWN),
    ("change therapist", "POST", "/personal/moment/{e}/behandlare", {"behandlare": "{tim}"}, ADMIN_ONLY),
    ("hand over", "POST", "/personal/moment/{e}/overlamna", {"enhet": "{other}", "bekrafta": "ja"}, ADMIN_ONLY),
    ("roles page", "GET", "/personal/behorigheter", None,
     expect(OK, FORBIDDEN, FORBIDDEN, OK, FORBIDDEN, FORBIDDEN)),
    ("grant role", "POST", "/personal/behorigheter", {"_action": "ge", "person": "{tim}", "role": "citizen_admin"},
     expect(OK, FORBIDDEN, FORBIDDEN, OK, FORBIDDEN, FORBIDDEN)),
    ("purge page", "GET", "/personal/gallring", None,
     expect(FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK, FORBIDDEN)),
    ("log extract", "POST", "/personal/loggutdrag", {"personnummer": "19121212-1212"},
     expect(FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK, FORBIDDEN)),
]


def state(app, people) -> tuple:
    """What the POST cases change, as one comparable value."""
    with app.state.stegvis.db.session() as db:
        e = db.get(Enrolment, people.enrolment_a)
        plans = tuple((p.id, p.start_date, p.activated, tuple(sorted(p.days.items()))) for p in e.plans)
        open_flags = db.scalar(select(func.count()).select_from(Flag).where(
            Flag.enrolment_id == e.id, Flag.hidden_at.is_(None)))
        messages = db.scalar(select(func.count()).select_from(Message).join(MessageThread).where(
            MessageThread.enrolment_id == e.id))
        roles = db.scalar(select(func.count()).select_from(UnitRole).where(UnitRole.revoked_at.is_(None)))
        return (e.status, e.therapist_id, e.unit_id, e.welcome_text, plans, open_flags, messages, roles)


def prepare(app, people) -> dict[str, int]:
    """An open flag and a thread in A's enrolment; ids for the paths."""
    now = app.state.stegvis.clock.now()
    with app.state.stegvis.db.session() as db:
        thread = MessageThread(enrolment_id=people.enrolment_a, subject="Fråga", created_by=people.patient_a,
                               created_at=now, last_message_at=now)
        db.add(thread)
        db.flush()
        message = Message(thread_id=thread.id, sender_id=people.patient_a, sender_role="patient", body="Hej!",
                          created_at=now)
        db.add(message)
        db.flush()
        flag = Flag(enrolment_id=people.enrolment_a, kind=FlagKind.message, ref_type="message", ref_id=message.id,
                    detail="Fråga", created_at=now)
        db.add(flag)
        db.flush()
        return {"e": people.enrolment_a, "f": flag.id, "t": thread.id, "tim": people.colleague,
                "other": people.other_unit, "p": people.plans_a["steg"]}


CASE_IDS = [(case, who) for case, *_ in CASES for who in PEOPLE]


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """SQLite only: the policy is the same code on every backend, and each area's own tests (which
    run on PostgreSQL too) cover the queries behind these routes."""
    return sqlite_url


def test_matrix_has_at_least_forty_cases():
    assert len(CASE_IDS) >= 40


@pytest.mark.parametrize(("case", "who"), CASE_IDS, ids=[f"{c}-{w}" for c, w in CASE_IDS])
def test_role_action_unit(app, people, login_as, case, who):
    _, method, path, body, expected = next(c for c in CASES if c[0] == case)
    ids = prepare(app, people)
    url = path.format(**ids)
    data = {k: v.format(**ids) for k, v in (body or {}).items()}
    browser = login_as(who)
    before = state(app, people)
    response = browser.get(url) if method == "GET" else browser.post(url, data)
    after = state(app, people)
    want = expected[who]
    if want == OK:
        # A page (and the log extract, which answers with its table) is 200; any other POST redirects.
        ok = 200 if method == "GET" or case == "log extract" else 303
        assert response.status_code == ok, (case, who, response.status_code, response.text[:500])
        if ok == 303:
            assert "/logga-in" not in response.headers["location"]
        if method == "POST" and case != "log extract":  # an extract only reads (and is logged)
            assert after != before, f"{case} by {who} was allowed but changed nothing"
    else:
        assert response.status_code == want, (case, who, response.status_code, response.text[:300])
        assert after == before, f"{case} by {who} was refused but changed something"
    if case == "log extract" and want == OK:
        assert "<table" in response.text
    if case == "overview" and who in ("agnes", "dan"):
        assert "Anna Test" not in response.text  # their start page points to their tools, no patients
    if want == HIDDEN or who == "olle":
        assert "Anna Test" not in response.text  # nothing of another unit's patients
