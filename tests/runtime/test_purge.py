"""Issue #9, purge (gallring): runtime/purge.py and its page in runtime/staff/admin.py.

Requirements: the data administrator purges ended enrolments of their unit once the
retention of a data category has passed; afterwards no row in any table references
the patient or the enrolment except the access log and the purge receipt, and no
text or JSON column holds the patient's name or personnummer; the access log is
intact; an enrolment that is not due, not ended, or of another unit is never purged;
every other role is refused. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from datetime import date, timedelta

import pytest
from conftest import make_settings
from sqlalchemy import JSON, String, Text, select

from runtime.app import create_app
from runtime.audit import write_access
from runtime.enrolments import create_enrolment
from runtime.models import (
    AccessLogEntry,
    Base,
    Enrolment,
    EnrolmentEvent,
    EnrolmentPlan,
    EnrolmentStatus,
    EventKind,
    Flag,
    FormDraft,
    FormSubmission,
    LocalCredential,
    LoginSession,
    MessageThread,
    NoticeChannel,
    Notification,
    PageComment,
    PurgeReceipt,
    Registration,
    RetentionRule,
    StepSetting,
    Unit,
    User,
    UserKind,
)
from runtime.purge import purge, retention, subject_key
from runtime.settings import RuntimeSettings, read_or_create_secret

PURGE = "/personal/gallring"
FORM = "/moment/{e}/steg/start/mitt-mal/formular/mal"
PLAN = "/moment/{e}/aktivitetsplaner/{p}"
NAME, NUMBER, DASHED = "Anna Test", "191212121212", "19121212-1212"
KEPT = {"access_log", "purge_receipts"}


@pytest.fixture
def app(packages, database_url, clock, tmp_path):
    """The suite's app, with its secret in the test's own folder (never var/ of the working tree)."""
    settings = make_settings(packages, database_url, secret_key_file=tmp_path / "secret.key", secret_key=None)
    application = create_app(settings, clock=clock, migrate=False)
    yield application
    application.state.stegvis.db.dispose()


def secret(app) -> bytes:
    return app.state.stegvis.settings.secret()


def activity(app, people, anna) -> None:
    """Patient A leaves data of every kind, with her name and personnummer in the free text."""
    e = people.enrolment_a
    assert anna.get(f"/moment/{e}/steg/start/mitt-mal").status_code == 200  # step opening
    assert anna.post(FORM.format(e=e), {"_action": "submit", "mal": f"Jag heter {NAME}, {DASHED}",
                                        "roker": "nej"}).status_code == 303
    assert anna.post(FORM.format(e=e) + "/kommentarer", {"body": f"Hälsningar {NAME}"}).status_code == 303
    assert anna.post(PLAN.format(e=e, p=people.plans_a["steg"]) + "/registreringar",
                     {"_occasion": "2026-03-02T18:00:00Z", "steg": "100", "_comment": NUMBER}).status_code == 303
    assert anna.post(f"/moment/{e}/meddelanden", {"subject": f"Från {NAME}",
                                                  "body": f"Mitt nummer är {DASHED}"}).status_code == 303
    now = app.state.stegvis.clock.now()
    with app.state.stegvis.db.session() as s:
        s.add(FormDraft(enrolment_id=e, form_id="mal", answers={"mal": f"utkast av {NAME}"}, updated_at=now))
        s.add(StepSetting(enrolment_id=e, module_id="start", step_id="valkommen", visible=False, changed_at=now,
                          changed_by=people.therapist))
        s.add(EnrolmentEvent(enrolment_id=e, at=now, actor_id=people.therapist, kind=EventKind.customised,
                             detail=f"Anpassat för {NAME}"))
        s.add(Notification(enrolment_id=e, recipient_id=people.patient_a, channel=NoticeChannel.email,
                           subject="Nytt meddelande", created_at=now))
        s.add(Notification(enrolment_id=None, recipient_id=people.patient_a, channel=NoticeChannel.sms,
                           subject="Hej", created_at=now))
        plan = s.get(EnrolmentPlan, people.plans_a["stegmal"])
        plan.definition = {"title": f"Plan för {NAME}", "fields": []}
        enrolment = s.get(Enrolment, e)
        enrolment.welcome_text = f"Välkommen {NAME}"
        s.get(Enrolment, people.enrolment_b).linked_to_id = e  # B links to A: the link goes with A
        s.get(User, people.patient_a).email = "anna@example.invalid"


def end(app, eid: int, days_ago: int, reason: str = f"Klar, {NAME} mår bra") -> None:
    """End an enrolment `days_ago` days before the pinned time (the lifecycle pages do this for real)."""
    now = app.state.stegvis.clock.now()
    with app.state.stegvis.db.session() as s:
        e = s.get(Enrolment, eid)
        e.status, e.ended_at, e.end_reason = EnrolmentStatus.ended, now - timedelta(days=days_ago), reason


def set_rules(app, unit: int, **days: int) -> None:
    with app.state.stegvis.db.session() as s:
        for key, value in days.items():
            s.add(RetentionRule(unit_id=unit, category=key, keep_days=value))


def log_tuples(app) -> list[tuple]:
    with app.state.stegvis.db.session() as s:
        return [(r.id, r.at, r.actor_id, r.unit_id, r.patient_id, r.enrolment_id, r.action, r.target)
                for r in s.scalars(select(AccessLogEntry).order_by(AccessLogEntry.id))]


def count(app, model, *where) -> int:
    with app.state.stegvis.db.session() as s:
        return len(s.scalars(select(model).where(*where)).all())


def references(app, ids: dict[str, set[int]]) -> list[str]:
    """Every (table.column = id) left that points at one of `ids` (table -> ids), the kept tables excepted."""
    found = []
    with app.state.stegvis.db.session() as s:
        for table in Base.metadata.sorted_tables:
            if table.name in KEPT:
                continue
            for column in table.columns:
                targets = {fk.column.table.name for fk in column.foreign_keys}
                if table.name in ids and column.primary_key:
                    targets.add(table.name)
                for target in targets & set(ids):
                    for value in s.scalars(select(column).where(column.in_(ids[target]))):
                        found.append(f"{table.name}.{column.name} = {value} ({target})")
    return found


def texts_with(app, needles: tuple[str, ...]) -> list[str]:
    """Every text or JSON value, outside the kept tables, that contains one of `needles`."""
    found = []
    with app.state.stegvis.db.session() as s:
        for table in Base.metadata.sorted_tables:
            if table.name in KEPT:
                continue
            columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON)
                       or isinstance(getattr(c.type, "impl", None), String | Text | JSON)]
            for column in columns:
                for value in s.scalars(select(column)):
                    text = str(value)
                    found += [f"{table.name}.{column.name}: {needle}" for needle in needles if needle in text]
    return found


# --- the purge -----------------------------------------------------------------------------------


def test_purge__leaves_no_row_about_the_patient_or_the_enrolment(app, people, anna, login_as, tmp_path):
    activity(app, people, anna)
    end(app, people.enrolment_a, days_ago=1)
    with app.state.stegvis.db.session() as s:
        plan_ids = set(s.scalars(select(EnrolmentPlan.id).where(EnrolmentPlan.enrolment_id == people.enrolment_a)))
        thread_ids = set(s.scalars(select(MessageThread.id).where(MessageThread.enrolment_id == people.enrolment_a)))
    assert count(app, FormSubmission) and count(app, PageComment) and count(app, Registration) and thread_ids
    assert count(app, Flag, Flag.enrolment_id == people.enrolment_a) == 3  # form, comment, message
    gone = {"users": {people.patient_a}, "enrolments": {people.enrolment_a}, "enrolment_plans": plan_ids,
            "message_threads": thread_ids}
    assert len(references(app, gone)) > 20 and texts_with(app, (NAME, NUMBER, DASHED))  # there to be found
    dan = login_as("dan")
    page = dan.get(PURGE)
    assert page.status_code == 200
    assert f'name="moment" value="{people.enrolment_a}"' in page.text
    assert f'value="{people.enrolment_b}"' not in page.text  # active: not listed
    log_before = log_tuples(app)
    assert not (tmp_path / "secret.key").exists()

    response = dan.post(PURGE, {"moment": str(people.enrolment_a), "_action": "valda", "bekrafta": "ja"})
    assert response.status_code == 303
    assert response.headers["location"] == f"{PURGE}?gallrat=1&personer=1"
    assert references(app, gone) == []
    assert texts_with(app, (NAME, NUMBER, DASHED, "anna@example.invalid")) == []
    assert count(app, LocalCredential, LocalCredential.username == "anna") == 0
    assert count(app, LoginSession, LoginSession.user_id == people.patient_a) == 0
    assert anna.get("/moment").headers["location"] == "/logga-in"  # her session went with her
    # The other patient, his enrolment and the staff are untouched.
    with app.state.stegvis.db.session() as s:
        assert s.get(Enrolment, people.enrolment_b).linked_to_id is None
        assert s.get(User, people.patient_b).personal_number == "197010632391"
        assert s.get(User, people.therapist) is not None

    log_after = log_tuples(app)
    assert log_after[:len(log_before)] == log_before  # nothing changed or removed
    added = [(row[4], row[5], row[6], row[7]) for row in log_after[len(log_before):]]
    with app.state.stegvis.db.session() as s:
        receipt = s.scalars(select(PurgeReceipt)).one()
        assert stat.S_IMODE(os.stat(tmp_path / "secret.key").st_mode) == 0o600  # made at first use
        assert receipt.subject_key == hmac.new(secret(app), NUMBER.encode(), hashlib.sha256).hexdigest()
        assert (receipt.former_user_id, receipt.unit_id, receipt.purged_by, receipt.enrolments) == (
            people.patient_a, people.unit, people.data_admin, 1)
        assert receipt.purged_at == app.state.stegvis.clock.now()
    assert added == [(people.patient_a, people.enrolment_a, "purge.enrolment", "kategori:moment"),
                     (people.patient_a, None, "purge.person", f"gallringskvitto:{receipt.id}")]
    page = dan.get(response.headers["location"]).text
    assert "Gallringen är klar: 1 moment gallrat, och 1 person utan moment kvar togs bort helt." in page
    assert "Det finns inga avslutade moment på vårdenheten." in page


def test_purge__confirmation_and_a_choice_required(app, people, login_as):
    end(app, people.enrolment_a, days_ago=1)
    dan = login_as("dan")
    unconfirmed = dan.post(PURGE, {"moment": str(people.enrolment_a), "_action": "valda"})
    assert unconfirmed.status_code == 422
    assert '<a href="#bekrafta">Bekräfta att du vill gallra.' in unconfirmed.text
    assert f'value="{people.enrolment_a}" checked' in unconfirmed.text  # the choice is kept
    nothing = dan.post(PURGE, {"_action": "valda", "bekrafta": "ja"})
    assert nothing.status_code == 422 and '<a href="#moment-lista">Välj minst ett moment' in nothing.text
    garbage = dan.post(PURGE, {"moment": "ett", "_action": "valda", "bekrafta": "ja"})
    assert garbage.status_code == 404
    assert count(app, Enrolment, Enrolment.id == people.enrolment_a) == 1


def test_purge__not_yet_due_shown_with_its_date_and_refused(app, people, login_as):
    set_rules(app, people.unit, svar=30, meddelanden=30, moment=30)
    end(app, people.enrolment_a, days_ago=10)
    dan = login_as("dan")
    page = dan.get(PURGE).text
    assert "Gallras 2026-03-22" in page  # ended 20 February + 30 days
    assert f'name="moment" value="{people.enrolment_a}"' not in page and "Inte än" in page
    refused = dan.post(PURGE, {"moment": str(people.enrolment_a), "_action": "valda", "bekrafta": "ja"})
    assert refused.status_code == 422
    assert f"Moment {people.enrolment_a} har inte passerat gallringsfristen" in refused.text
    every = dan.post(PURGE, {"_action": "alla", "bekrafta": "ja"})
    assert every.status_code == 422 and "Inget moment har passerat gallringsfristen." in every.text
    assert count(app, Enrolment, Enrolment.id == people.enrolment_a) == 1
    assert count(app, PurgeReceipt) == 0


def test_purge__only_the_categories_that_are_due(app, people, anna, login_as, clock):
    activity(app, people, anna)
    set_rules(app, people.unit, svar=30, meddelanden=0)
    end(app, people.enrolment_a, days_ago=1)
    dan = login_as("dan")
    page = dan.get(PURGE).text
    assert "Förfallen sedan 2026-03-01 (2 st. kvar)" in page  # the thread and its flag
    response = dan.post(PURGE, {"_action": "alla", "bekrafta": "ja"})
    assert response.status_code == 303 and "personer=0" in response.headers["location"]
    e = people.enrolment_a
    assert count(app, MessageThread, MessageThread.enrolment_id == e) == 0
    assert [f.kind.value for f in _flags(app, e)] == ["form_submitted", "page_comment"]
    assert count(app, FormSubmission, FormSubmission.enrolment_id == e) == 1
    assert count(app, Enrolment, Enrolment.id == e) == 1 and count(app, User, User.id == people.patient_a) == 1
    page = dan.get(PURGE).text
    assert "Inget kvar att gallra" in page and "Gallras 2026-03-31" in page
    # A month later the answers and then the whole enrolment are due.
    clock.advance(days=30)
    dan = login_as("dan")
    assert dan.post(PURGE, {"moment": str(e), "_action": "valda", "bekrafta": "ja"}).status_code == 303
    assert count(app, Enrolment, Enrolment.id == e) == 0 and count(app, User, User.id == people.patient_a) == 0
    actions = [(row[6], row[7]) for row in log_tuples(app) if row[6].startswith("purge.") and row[5] == e]
    assert actions == [("purge.category", "kategori:meddelanden"), ("purge.enrolment", "kategori:moment")]


def _flags(app, eid: int) -> list[Flag]:
    with app.state.stegvis.db.session() as s:
        rows = s.scalars(select(Flag).where(Flag.enrolment_id == eid).order_by(Flag.id)).all()
        s.expunge_all()
    return rows


def test_purge__active_and_maintenance_never_purged_overdue_maintenance_listed(app, people, login_as):
    with app.state.stegvis.db.session() as s:
        b = s.get(Enrolment, people.enrolment_b)
        b.status, b.maintenance_until = EnrolmentStatus.maintenance, date(2026, 2, 20)
    dan = login_as("dan")
    page = dan.get(PURGE).text
    assert "De här momenten är i vidmakthållande och tiden har gått ut." in page  # the heading is always there
    assert f"<tr><th scope=\"row\">Moment {people.enrolment_b}</th><td>Testprogrammet 0.1.0</td><td>2026-02-20</td>" in page
    for eid in (people.enrolment_a, people.enrolment_b):
        assert dan.post(PURGE, {"moment": str(eid), "_action": "valda", "bekrafta": "ja"}).status_code == 404
    assert dan.post(PURGE, {"_action": "alla", "bekrafta": "ja"}).status_code == 422
    # Even called directly, the purge skips what is not ended.
    with app.state.stegvis.db.session() as s:
        report = purge(s, app.state.stegvis.clock.now(), people.unit, retention(s, people.unit), secret(app),
                       lambda *a: None, enrolment_ids=[people.enrolment_a, people.enrolment_b])
    assert report.touched == 0 and set(report.skipped) == {people.enrolment_a, people.enrolment_b}
    assert count(app, Enrolment) == 2


def test_purge__another_units_enrolment_neither_listed_nor_purged(app, people, login_as):
    state = app.state.stegvis
    now = state.clock.now()
    with state.db.session() as s:
        carl = User(kind=UserKind.citizen, display_name="Carl Annan", personal_number="198112189876", created_at=now)
        s.add(carl)
        other = create_enrolment(s, carl, s.get(Unit, people.other_unit), state.store.get("testprogram", "0.1.0"), now)
        other.status, other.ended_at = EnrolmentStatus.ended, now - timedelta(days=400)
        s.flush()
        other_id = other.id
    dan = login_as("dan")
    assert f"Moment {other_id}<" not in dan.get(PURGE).text
    assert dan.post(PURGE, {"moment": str(other_id), "_action": "valda", "bekrafta": "ja"}).status_code == 404
    assert dan.post(PURGE, {"_action": "alla", "bekrafta": "ja"}).status_code == 422  # nothing due in his unit
    assert count(app, Enrolment, Enrolment.id == other_id) == 1
    assert count(app, User, User.display_name == "Carl Annan") == 1


def test_purge__person_kept_while_another_enrolment_remains(app, people, login_as):
    state = app.state.stegvis
    now = state.clock.now()
    with state.db.session() as s:
        second = create_enrolment(s, s.get(User, people.patient_a), s.get(Unit, people.other_unit),
                                  state.store.get("testprogram", "0.1.0"), now)
        s.flush()
        second_id = second.id
    end(app, people.enrolment_a, days_ago=0)
    dan = login_as("dan")
    response = dan.post(PURGE, {"_action": "alla", "bekrafta": "ja"})
    assert response.headers["location"] == f"{PURGE}?gallrat=1&personer=0"
    assert count(app, Enrolment, Enrolment.id == people.enrolment_a) == 0
    assert count(app, Enrolment, Enrolment.id == second_id) == 1
    assert count(app, User, User.id == people.patient_a) == 1 and count(app, PurgeReceipt) == 0


@pytest.mark.parametrize("name", ["tove", "tim", "cissi", "agnes", "olle", "anna"])
def test_purge__refused_for_every_role_but_data_administrator(app, people, login_as, name):
    browser = login_as(name)  # before the end: a patient with only ended programs cannot log in
    end(app, people.enrolment_a, days_ago=5)
    assert browser.get(PURGE).status_code == 403
    assert browser.post(PURGE, {"_action": "alla", "bekrafta": "ja"}).status_code == 403
    assert browser.post(f"{PURGE}/frister", {"dagar_svar": "1", "dagar_meddelanden": "1",
                                            "dagar_moment": "1"}).status_code == 403
    assert count(app, Enrolment, Enrolment.id == people.enrolment_a) == 1
    assert count(app, RetentionRule) == 0
    if name != "anna":
        assert "Bara en dataadministratör kan gallra." in browser.get(PURGE).text


def test_purge__data_administrator_of_another_unit_sees_only_that_unit(app, people, login_as):
    from runtime.models import Role, UnitRole

    with app.state.stegvis.db.session() as s:
        s.add(UnitRole(user_id=people.other_therapist, unit_id=people.other_unit, role=Role.data_admin,
                       granted_at=app.state.stegvis.clock.now()))
    end(app, people.enrolment_a, days_ago=5)
    olle = login_as("olle")
    page = olle.get(PURGE)
    assert page.status_code == 200 and f"Moment {people.enrolment_a}<" not in page.text
    assert olle.post(PURGE, {"moment": str(people.enrolment_a), "_action": "valda",
                             "bekrafta": "ja"}).status_code == 404
    assert count(app, Enrolment, Enrolment.id == people.enrolment_a) == 1


# --- retention -----------------------------------------------------------------------------------


def test_retention__saved_per_category_and_logged(app, people, login_as):
    dan = login_as("dan")
    page = dan.get(PURGE).text
    for label in ("Svar och registreringar, dagar", "Meddelanden, dagar", "Momentet, dagar"):
        assert label in page
    response = dan.post(f"{PURGE}/frister", {"dagar_svar": "30", "dagar_meddelanden": "0", "dagar_moment": "3650"})
    assert response.status_code == 303
    assert "Gallringsfristerna är sparade." in dan.get(response.headers["location"]).text
    with app.state.stegvis.db.session() as s:
        assert retention(s, people.unit) == {"svar": 30, "meddelanden": 0, "moment": 3650}
        assert retention(s, people.other_unit) == {"svar": 0, "meddelanden": 0, "moment": 0}
    assert dan.post(f"{PURGE}/frister", {"dagar_svar": "31", "dagar_meddelanden": "0",
                                        "dagar_moment": "3650"}).status_code == 303
    assert count(app, RetentionRule) == 3  # updated, not added
    logged = [row[7] for row in log_tuples(app) if row[6] == "retention.edit"]
    assert logged == ["svar:0->30,moment:0->3650", "svar:30->31"]


@pytest.mark.parametrize("value", ["-1", "3651", "tio", "", "1.5"])
def test_retention__out_of_range_or_not_a_number_refused(app, people, login_as, value):
    dan = login_as("dan")
    response = dan.post(f"{PURGE}/frister", {"dagar_svar": value, "dagar_meddelanden": "0", "dagar_moment": "0"})
    assert response.status_code == 422
    assert '<a href="#frist-svar">Svar och registreringar: skriv ett helt antal dagar från 0 till 3650.' in response.text
    assert f'value="{value}" aria-describedby="frist-svar-hjalp frist-svar-fel" aria-invalid="true"' in response.text
    assert count(app, RetentionRule) == 0


# --- the function, and the secret ----------------------------------------------------------------


def test_purge_function__usable_outside_a_request(app, people):
    end(app, people.enrolment_b, days_ago=1)
    state = app.state.stegvis
    now = state.clock.now()
    with state.db.session() as s:
        def audit(action, enrolment=None, target=None, patient_id=None):
            write_access(s, now, None, None, action, enrolment, target, patient_id)

        report = purge(s, now, people.unit, retention(s, people.unit), secret(app), audit)
    assert report.enrolments == [people.enrolment_b] and report.people == [people.patient_b]
    with state.db.session() as s:
        receipt = s.scalars(select(PurgeReceipt)).one()
        assert receipt.subject_key == subject_key(secret(app), "197010632391") and receipt.purged_by is None
    rows = [(r[2], r[6]) for r in log_tuples(app)]
    assert rows == [(None, "purge.enrolment"), (None, "purge.person")]


def test_secret_key__made_once_with_mode_0600_and_the_environment_wins(tmp_path, monkeypatch):
    path = tmp_path / "var" / "secret.key"
    first = read_or_create_secret(path)
    assert len(first) == 32 and read_or_create_secret(path) == first
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["secret.key"]  # no temporary file left
    monkeypatch.setenv("STEGVIS_SECRET_KEY", "k" * 40)
    settings = RuntimeSettings(secret_key_file=path)
    assert settings.secret() == b"k" * 40 and "kkkk" not in repr(settings)
    monkeypatch.setenv("STEGVIS_SECRET_KEY", "kort")
    with pytest.raises(ValueError, match="at least 32"):
        RuntimeSettings(secret_key_file=path).secret()
    path.write_bytes(b"short")
    with pytest.raises(ValueError, match="fewer than 32"):
        read_or_create_secret(path)
