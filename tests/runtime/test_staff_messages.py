"""Issue #9: messages with the patient on the staff side — threads, read receipts, "Avisera", refusals.

Runs on SQLite and PostgreSQL, end to end through both sides: what the therapist
writes the patient reads (and the therapist sees it read), what the patient writes
the therapist reads (and the patient sees "Läst av behandlaren").
"""

from __future__ import annotations

import re
import time
from datetime import date

import pytest
from sqlalchemy import func, select

from runtime.models import (
    AccessLogEntry,
    AuthorRole,
    Enrolment,
    EnrolmentEvent,
    EnrolmentStatus,
    EventKind,
    Flag,
    FlagKind,
    Message,
    MessageThread,
    NoticeChannel,
    Notification,
    User,
)
from runtime.services.notify import NO_CONTACT


def base(people) -> str:
    return f"/personal/moment/{people.enrolment_a}/meddelanden"


def db(app):
    return app.state.stegvis.db.session()


def patient_thread(anna, people, subject="Fråga om steg", body="Hur många steg ska jag gå?") -> int:
    response = anna.post(f"/moment/{people.enrolment_a}/meddelanden", {"subject": subject, "body": body})
    assert response.status_code == 303, response.text
    return int(response.headers["location"].split("/meddelanden/")[1].split("?")[0])


def thread_id_of(response) -> int:
    return int(response.headers["location"].split("/meddelanden/")[1].split("?")[0])


def set_contact(app, user_id: int, email: str | None = None, phone: str | None = None) -> None:
    with db(app) as s:
        user = s.get(User, user_id)
        user.email, user.phone = email, phone


def set_status(app, enrolment_id: int, status: EnrolmentStatus) -> None:
    with db(app) as s:
        e = s.get(Enrolment, enrolment_id)
        e.status = status
        if status == EnrolmentStatus.maintenance:
            e.maintenance_until = date(2026, 4, 1)


def messages(app, thread_id: int) -> list[Message]:
    with db(app) as s:
        return list(s.scalars(select(Message).where(Message.thread_id == thread_id).order_by(Message.id)))


def open_flags(app, enrolment_id: int) -> int:
    with db(app) as s:
        return s.scalar(select(func.count()).select_from(Flag).where(
            Flag.enrolment_id == enrolment_id, Flag.kind == FlagKind.message, Flag.hidden_at.is_(None)))


def notifications(app) -> list[Notification]:
    with db(app) as s:
        return list(s.scalars(select(Notification).order_by(Notification.id)))


def logged(app, action: str) -> int:
    with db(app) as s:
        return s.scalar(select(func.count()).select_from(AccessLogEntry).where(AccessLogEntry.action == action))


# --- the list ------------------------------------------------------------------------------------


def test_list__threads_with_unread_counts_from_the_patient__ok(app, people, anna, tove):
    first = patient_thread(anna, people)
    anna.post(f"/moment/{people.enrolment_a}/meddelanden/{first}", {"body": "Och hur ofta?"})
    patient_thread(anna, people, subject="Tack")
    page = tove.get(base(people))
    assert page.status_code == 200
    text = page.text
    assert "<caption>Konversationer med patienten, senaste först</caption>" in text
    assert "3 olästa meddelanden från patienten." in text
    # One row per thread, newest first: subject, who started it, messages, unread from the patient.
    rows = re.findall(r'<a href="/personal/moment/\d+/meddelanden/\d+">([^<]+)</a></th>\s*<td>([^<]+)</td>\s*'
                      r'<td>(\d+)</td>\s*<td><span class="rt-badge">([^<]+)</span></td>', text)
    assert rows == [("Tack", "Patienten", "1", "1 oläst"), ("Fråga om steg", "Patienten", "2", "2 olästa")]
    assert "Avisera till inkorgen" in text
    assert logged(app, "inbox.read") >= 1


def test_list__who_may_read__and_who_may_not_write(app, people, login_as):
    assert login_as("olle").get(base(people)).status_code == 404
    assert login_as("dan").get(base(people)).status_code == 404
    assert login_as("anna").get(base(people)).status_code == 403
    for name in ("tim", "cissi"):
        page = login_as(name).get(base(people))
        assert page.status_code == 200
        assert "Bara patientens behandlare skriver till patienten." in page.text
        assert 'name="subject"' not in page.text


# --- reading a thread ----------------------------------------------------------------------------


def test_thread__the_therapist_opening_it_marks_read_and_hides_its_message_flags(app, people, anna, tove):
    tid = patient_thread(anna, people)
    other = patient_thread(anna, people, subject="Annat")
    assert open_flags(app, people.enrolment_a) == 2
    page = tove.get(f"{base(people)}/{tid}")
    assert page.status_code == 200
    assert "Hur många steg ska jag gå?" in page.text and "Anna Test" in page.text
    assert '<span class="rt-tag">Nytt</span>' in page.text
    assert all(m.read_at is not None for m in messages(app, tid))
    assert open_flags(app, people.enrolment_a) == 1  # the other thread's flag stays
    with db(app) as s:
        flag = s.scalar(select(Flag).where(Flag.ref_id == messages(app, tid)[0].id))
        assert flag.hidden_by == people.therapist
    assert messages(app, other)[0].read_at is None
    assert logged(app, "thread.read") == 1 and logged(app, "flag.hide") == 1
    # The second visit shows nothing as new.
    assert '<span class="rt-tag">Nytt</span>' not in tove.get(f"{base(people)}/{tid}").text
    # The patient sees that the therapist has read it.
    patient_page = anna.get(f"/moment/{people.enrolment_a}/meddelanden/{tid}").text
    assert "Läst av behandlaren" in patient_page
    assert "Inte läst än" in anna.get(f"/moment/{people.enrolment_a}/meddelanden/{other}").text


@pytest.mark.parametrize("name", ["cissi", "tim"])
def test_thread__someone_else_reading__marks_nothing_and_says_so(app, people, anna, login_as, name):
    tid = patient_thread(anna, people)
    page = login_as(name).get(f"{base(people)}/{tid}")
    assert page.status_code == 200 and "Hur många steg ska jag gå?" in page.text
    assert "Du är inte patientens behandlare" in page.text
    assert messages(app, tid)[0].read_at is None and open_flags(app, people.enrolment_a) == 1
    assert logged(app, "thread.read") == 1  # the read is logged all the same


def test_thread__of_another_enrolment_or_unit__not_found(app, people, bertil, login_as):
    response = bertil.post(f"/moment/{people.enrolment_b}/meddelanden", {"subject": "B", "body": "Bertils"})
    b_thread = thread_id_of(response)
    tove = login_as("tove")
    assert tove.get(f"{base(people)}/{b_thread}").status_code == 404
    assert tove.post(f"{base(people)}/{b_thread}", {"body": "x"}).status_code == 404
    assert tove.get(f"{base(people)}/999999").status_code == 404
    assert login_as("olle").get(f"/personal/moment/{people.enrolment_b}/meddelanden/{b_thread}").status_code == 404
    assert len(messages(app, b_thread)) == 1


# --- writing -------------------------------------------------------------------------------------


def test_new_thread__the_patient_reads_it_and_the_therapist_sees_the_receipt(app, people, anna, tove, clock):
    response = tove.post(base(people), {"subject": "Välkommen", "body": "Hej Anna! Börja med modul 1."})
    assert response.status_code == 303
    tid = thread_id_of(response)
    with db(app) as s:
        thread = s.get(MessageThread, tid)
        assert thread.enrolment_id == people.enrolment_a and thread.created_by == people.therapist
    (m,) = messages(app, tid)
    assert m.sender_role == AuthorRole.therapist and m.notify is False and m.read_at is None
    sent = tove.get(response.headers["location"]).text
    assert "Ditt meddelande är skickat." in sent and "Inte läst än" in sent
    assert logged(app, "message.create") == 1
    # The patient: unread in the inbox, then read.
    inbox = anna.get(f"/moment/{people.enrolment_a}/meddelanden").text
    assert "Välkommen" in inbox and "1 oläst" in inbox
    clock.advance(minutes=25)  # 10.25 in Stockholm (the sessions stay alive)
    thread_page = anna.get(f"/moment/{people.enrolment_a}/meddelanden/{tid}").text
    assert "Hej Anna! Börja med modul 1." in thread_page and "Din behandlare" in thread_page
    receipt = tove.get(f"{base(people)}/{tid}").text
    assert "Läst av patienten 2 mars 2026 kl. 10.25" in receipt
    assert "Inte läst än" not in receipt
    # Vården started it ("Vården" alone would match "Vårdenhet" in the header).
    assert re.search(r'>Välkommen</a></th>\s*<td>Vården</td>', tove.get(base(people)).text)


def test_reply__stored_in_the_thread_and_shown_to_the_patient(app, people, anna, tove):
    tid = patient_thread(anna, people)
    response = tove.post(f"{base(people)}/{tid}", {"body": "Sikta på 7 000 om dagen."})
    assert response.status_code == 303 and response.headers["location"].endswith("?skickat=1#senaste")
    assert [m.sender_role for m in messages(app, tid)] == [AuthorRole.patient, AuthorRole.therapist]
    assert "Sikta på 7 000 om dagen." in anna.get(f"/moment/{people.enrolment_a}/meddelanden/{tid}").text


@pytest.mark.parametrize(("form", "message", "anchor"), [
    ({"subject": "", "body": "Text"}, "Skriv ett ämne.", "amne"),
    ({"subject": "Ämne", "body": "  \r\n "}, "Skriv ett meddelande.", "meddelande"),
    ({"subject": "x" * 201, "body": "Text"}, "Ämnet får vara högst 200 tecken.", "amne"),
    ({"subject": "Ämne", "body": "x" * 10001}, "Meddelandet är för långt: högst 10000 tecken", "meddelande"),
])
def test_new_thread__bad_input__refused_with_a_linked_message_and_nothing_stored(app, people, tove, form, message,
                                                                                anchor):
    response = tove.post(base(people), {**form, "notify": "ja"})
    assert response.status_code == 422
    assert message in response.text and f'href="#{anchor}"' in response.text and f'id="{anchor}"' in response.text
    assert "<title>Fel: " in response.text and 'name="notify" value="ja" aria-describedby="avisera-hjalp" checked' \
        in response.text
    with db(app) as s:
        assert s.scalar(select(func.count()).select_from(MessageThread)) == 0
    assert notifications(app) == []


def test_reply__empty__refused_with_the_thread_still_shown(app, people, anna, tove):
    tid = patient_thread(anna, people)
    response = tove.post(f"{base(people)}/{tid}", {"body": ""})
    assert response.status_code == 422 and "Skriv ett meddelande." in response.text and 'href="#svar"' in response.text
    assert "Hur många steg ska jag gå?" in response.text
    assert len(messages(app, tid)) == 1


@pytest.mark.parametrize("name", ["tim", "cissi"])
def test_writing__only_the_patients_therapist(app, people, anna, login_as, name):
    tid = patient_thread(anna, people)
    someone = login_as(name)
    refused = someone.post(base(people), {"subject": "Hej", "body": "Hej"})
    assert refused.status_code == 403 and "Bara patientens behandlare skriver till patienten." in refused.text
    assert someone.post(f"{base(people)}/{tid}", {"body": "Hej"}).status_code == 403
    assert len(messages(app, tid)) == 1


@pytest.mark.parametrize(("status", "word"), [(EnrolmentStatus.maintenance, "vidmakthållande"),
                                              (EnrolmentStatus.ended, "avslutat")])
def test_writing__closed_in_maintenance_and_after_the_end(app, people, anna, tove, status, word):
    tid = patient_thread(anna, people)
    set_status(app, people.enrolment_a, status)
    page = tove.get(base(people))
    assert page.status_code == 200 and word in page.text and 'name="subject"' not in page.text
    thread_page = tove.get(f"{base(people)}/{tid}")
    assert word in thread_page.text and 'name="body"' not in thread_page.text
    for url, form in ((base(people), {"subject": "Hej", "body": "Hej", "notify": "ja"}),
                      (f"{base(people)}/{tid}", {"body": "Hej", "notify": "ja"})):
        refused = tove.post(url, form)
        assert refused.status_code == 403 and word in refused.text
    assert len(messages(app, tid)) == 1 and notifications(app) == []


# --- Avisera -------------------------------------------------------------------------------------


def test_notify__ticked__queues_a_notice_by_email_and_a_timeline_event(app, people, anna, tove):
    set_contact(app, people.patient_a, email="anna@example.se", phone="070-123 45 67")
    response = tove.post(base(people), {"subject": "Nytt steg", "body": "Läs steg 2.", "notify": "ja"})
    tid = thread_id_of(response)
    (m,) = messages(app, tid)
    assert m.notify is True
    (n,) = notifications(app)
    assert n.recipient_id == people.patient_a and n.enrolment_id == people.enrolment_a
    assert n.channel == NoticeChannel.email and n.created_at == m.created_at
    with db(app) as s:
        (event,) = s.scalars(select(EnrolmentEvent).where(EnrolmentEvent.kind == EventKind.notified))
        assert "e-post" in event.detail and "Läs steg 2." not in event.detail
    # E-mail is off in these tests: the notice goes to the log (the outbox thread may have got there first).
    for _ in range(100):
        app.state.outbox.drain()
        if notifications(app)[0].sent_at is not None:
            break
        time.sleep(0.05)
    assert notifications(app)[0].sent_at is not None
    page = tove.get(f"{base(people)}/{tid}").text
    assert "Aviserad med e-post 2 mars 2026 kl. 10.00." in page
    # Without the tick: no notice.
    tove.post(f"{base(people)}/{tid}", {"body": "Och steg 3."})
    assert len(notifications(app)) == 1


def test_notify__patient_with_only_a_phone__gets_an_sms(app, people, tove):
    set_contact(app, people.patient_a, phone="070-123 45 67")
    tove.post(base(people), {"subject": "Hej", "body": "Hej", "notify": "ja"})
    (n,) = notifications(app)
    assert n.channel == NoticeChannel.sms


def test_notify__patient_without_contact__message_saved_and_the_page_says_why(app, people, tove):
    page = tove.get(base(people)).text
    assert "Patienten har ingen e-postadress eller inget mobilnummer i tjänsten" in page
    response = tove.post(base(people), {"subject": "Hej", "body": "Hej", "notify": "ja"})
    assert response.status_code == 303
    tid = thread_id_of(response)
    assert len(messages(app, tid)) == 1
    (n,) = notifications(app)
    assert n.error == NO_CONTACT and n.sent_at is None
    assert "Ingen avisering: " + NO_CONTACT in tove.get(f"{base(people)}/{tid}").text


def test_patient_message__raises_a_flag_that_the_therapists_page_clears(app, people, anna, tove):
    """End to end: the patient writes, the flag appears, the therapist reads, answers, the patient reads."""
    tid = patient_thread(anna, people, body="Jag har ont i knät.")
    with db(app) as s:
        flag = s.scalar(select(Flag).where(Flag.enrolment_id == people.enrolment_a))
        assert flag.kind == FlagKind.message and flag.hidden_at is None
    tove.get(f"{base(people)}/{tid}")
    tove.post(f"{base(people)}/{tid}", {"body": "Vila knät några dagar."})
    patient = anna.get(f"/moment/{people.enrolment_a}/meddelanden/{tid}").text
    assert "Vila knät några dagar." in patient and "Läst av behandlaren" in patient
    assert open_flags(app, people.enrolment_a) == 0
    assert "Läst av patienten" in tove.get(f"{base(people)}/{tid}").text
