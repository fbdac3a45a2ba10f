"""Issue #9: the notifier — e-mail through a real local SMTP server (aiosmtpd), SMS to the log, the outbox.

What is checked: an "Avisera" notice reaches the patient's address with the right
subject and a text without patient data; a failing server (refused connection, no
STARTTLS, wrong login) leaves the error on the row and the message saved; notices
go out after the commit, from the worker thread; a burst of events gives staff one
e-mail per period; a notice is sent once even if two workers look at it. Runs on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import email
import logging
import socket
import time
from datetime import timedelta
from email import policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from conftest import PASSWORD, Browser, make_settings, seed
from sqlalchemy import select, update

from runtime.app import create_app
from runtime.models import Enrolment, NoticeChannel, Notification, User
from runtime.services.notify import (
    CLAIMED,
    PATIENT_SUBJECT,
    STAFF_SUBJECT,
    Notice,
    SmtpEmail,
    mask_email,
    mask_phone,
    normalise_phone,
    queue_staff_notice,
)

PUBLIC_URL = "https://stegvis.example"
MESSAGE = "Ditt blodtryck var högt i går, ring mig."


class Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self) -> None:
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.envelopes.append(envelope)
        return "250 OK"

    def messages(self) -> list[email.message.EmailMessage]:
        return [email.message_from_bytes(e.content, policy=policy.default) for e in self.envelopes]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Logins:
    """An aiosmtpd authenticator that accepts one user and records attempts."""

    def __init__(self) -> None:
        self.seen = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        self.seen.append(auth_data.login)
        ok = auth_data.login == b"stegvis" and auth_data.password == b"hemligt"
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535 itself


@pytest.fixture
def smtp():
    """A local SMTP server on a free port, without TLS but with optional AUTH."""
    inbox, logins = Inbox(), Logins()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), authenticator=logins,
                            auth_require_tls=False)
    controller.start()
    inbox.port, inbox.logins = controller.port, logins
    yield inbox
    controller.stop()


@pytest.fixture
def make(packages, database_url, clock):
    """A factory of apps with notice settings (the worker off unless asked), seeded, with closers."""
    made = []

    def build(**extra):
        extra.setdefault("notify_worker", False)
        extra.setdefault("public_url", PUBLIC_URL)
        app = create_app(make_settings(packages, database_url, **extra), clock=clock, migrate=False)
        people = seed(app)
        made.append(app)
        return app, people

    yield build
    for app in made:
        app.state.stegvis.db.dispose()


@pytest.fixture
def browsers():
    opened = []

    def login(app, name: str) -> Browser:
        b = Browser(app)
        assert b.login(name, PASSWORD).status_code == 303
        opened.append(b)
        return b

    yield login
    for b in opened:
        b.close()


def set_user(app, user_id: int, **values) -> None:
    with app.state.stegvis.db.session() as s:
        user = s.get(User, user_id)
        for k, v in values.items():
            setattr(user, k, v)


def notifications(app) -> list[Notification]:
    with app.state.stegvis.db.session() as s:
        return list(s.scalars(select(Notification).order_by(Notification.id)))


def send_message(tove: Browser, people, notify: bool = True):
    data = {"subject": "Blodtryck", "body": MESSAGE}
    if notify:
        data["notify"] = "ja"
    response = tove.post(f"/personal/moment/{people.enrolment_a}/meddelanden", data)
    assert response.status_code == 303, response.text
    return response


# --- the patient's notice ------------------------------------------------------------------------


def test_avisera__in_the_language_of_the_enrolment__ok(make, browsers, smtp):
    """Issue 18: the patient who reads the program in Finnish gets the notice in Finnish."""
    app, people = make(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls=False)
    set_user(app, people.patient_a, email="anna@example.se")
    with app.state.stegvis.db.session() as s:
        s.execute(update(Enrolment).where(Enrolment.id == people.enrolment_a).values(language="fi"))
    send_message(browsers(app, "tove"), people)
    assert app.state.outbox.drain() == 1
    (msg,) = smtp.messages()
    assert msg["Subject"] == "Uusi viesti ammattilaiselta"
    body = msg.get_content()
    assert "Sinulle on uusi viesti ammattilaiselta ohjelmassa Testprogrammet." in body
    assert f"Kirjaudu osoitteessa {PUBLIC_URL}, niin voit lukea sen." in body and "Du har" not in body


def test_avisera__email_reaches_the_patient_without_patient_data__ok(make, browsers, smtp):
    app, people = make(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls=False,
                       mail_from="FRAMÅT <no-reply@region.example>")
    set_user(app, people.patient_a, email="anna@example.se")
    send_message(browsers(app, "tove"), people)
    assert smtp.envelopes == []  # nothing is sent inside the request
    assert app.state.outbox.drain() == 1
    (envelope,) = smtp.envelopes
    assert envelope.rcpt_tos == ["anna@example.se"] and envelope.mail_from == "no-reply@region.example"
    (msg,) = smtp.messages()
    assert msg["Subject"] == PATIENT_SUBJECT and msg["To"] == "anna@example.se"
    assert msg["Date"] and msg["Message-ID"]
    body = msg.get_content()
    assert "Du har ett nytt meddelande från din behandlare i Testprogrammet." in body
    assert f"Logga in på {PUBLIC_URL} för att läsa det." in body
    for secret in (MESSAGE, "Blodtryck", "Anna", "191212121212", "Tove"):
        assert secret not in body and secret not in msg["Subject"]
    (row,) = notifications(app)
    assert row.sent_at == app.state.stegvis.clock.now() and row.error is None
    assert app.state.outbox.drain() == 0  # sent once


def test_avisera__refused_connection__error_recorded_and_message_kept(make, browsers):
    app, people = make(smtp_host="127.0.0.1", smtp_port=free_port(), smtp_starttls=False, smtp_timeout=2)
    set_user(app, people.patient_a, email="anna@example.se")
    tove = browsers(app, "tove")
    response = send_message(tove, people)
    app.state.outbox.drain()
    (row,) = notifications(app)
    assert row.sent_at is None
    assert row.error.startswith("E-posten kunde inte skickas: ConnectionRefusedError")
    page = tove.get(response.headers["location"]).text
    assert MESSAGE in page  # the message is saved all the same
    assert "Aviseringen med e-post kunde inte skickas. Meddelandet finns ändå i patientens inkorg." in page
    assert app.state.outbox.drain() == 0  # a failed notice is not retried on its own


def test_avisera__starttls_required_but_not_offered__nothing_sent_in_clear(make, browsers, smtp):
    app, people = make(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls=True)
    set_user(app, people.patient_a, email="anna@example.se")
    send_message(browsers(app, "tove"), people)
    app.state.outbox.drain()
    assert smtp.envelopes == []
    assert "SMTPNotSupportedError" in notifications(app)[0].error


@pytest.mark.parametrize(("password", "delivered"), [("hemligt", True), ("fel", False)])
def test_avisera__smtp_login(make, browsers, smtp, password, delivered):
    app, people = make(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls=False, smtp_username="stegvis",
                       smtp_password=password)
    set_user(app, people.patient_a, email="anna@example.se")
    send_message(browsers(app, "tove"), people)
    app.state.outbox.drain()
    assert set(smtp.logins.seen) == {b"stegvis"}  # smtplib tries each mechanism the server offers
    assert bool(smtp.envelopes) is delivered
    row = notifications(app)[0]
    assert (row.sent_at is not None) is delivered
    if not delivered:
        assert "SMTPAuthenticationError" in row.error


def test_avisera__the_worker_sends_after_the_commit(make, browsers, smtp):
    app, people = make(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls=False, notify_worker=True)
    set_user(app, people.patient_a, email="anna@example.se")
    tove = browsers(app, "tove")  # entering the client starts the app, and its outbox thread
    send_message(tove, people)
    for _ in range(100):
        if smtp.envelopes and notifications(app)[0].sent_at is not None:
            break
        time.sleep(0.05)
    assert len(smtp.envelopes) == 1 and notifications(app)[0].sent_at is not None
    tove.close()
    assert app.state.outbox._thread is None  # stopped with the app


def test_avisera__sms_is_logged_with_the_number_masked(make, browsers, caplog):
    app, people = make()
    set_user(app, people.patient_a, phone="070-123 45 67")
    send_message(browsers(app, "tove"), people)
    with caplog.at_level(logging.INFO, logger="stegvis.notify"):
        app.state.outbox.drain()
    (row,) = notifications(app)
    assert row.channel == NoticeChannel.sms and row.sent_at is not None
    assert "SMS till +4670…67: Du har ett nytt meddelande från din behandlare i Testprogrammet." in caplog.text
    assert "1234567" not in caplog.text and "123 45" not in caplog.text


def test_outbox__a_row_another_worker_claimed__is_not_sent_again(make, browsers, smtp):
    app, people = make(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls=False)
    set_user(app, people.patient_a, email="anna@example.se")
    send_message(browsers(app, "tove"), people)
    with app.state.stegvis.db.session() as s:
        s.execute(update(Notification).values(error=CLAIMED))
    assert app.state.outbox.drain() == 0 and smtp.envelopes == []


# --- staff notifications -------------------------------------------------------------------------


FORM = "/moment/{e}/steg/start/mitt-mal/formular/mal"


def test_staff__a_burst_of_events_gives_one_email_per_period(make, browsers, smtp, clock):
    app, people = make(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls=False)
    set_user(app, people.therapist, email="tove@region.example", notify_events=True)
    anna = browsers(app, "anna")
    e = people.enrolment_a
    first = anna.post(f"/moment/{e}/meddelanden", {"subject": "Ont i knät", "body": "Det gör ont."})
    tid = first.headers["location"].split("/meddelanden/")[1].split("?")[0]
    anna.post(f"/moment/{e}/meddelanden/{tid}", {"body": "Mer ont nu."})
    submitted = anna.post(FORM.format(e=e), {"_action": "submit", "mal": "Gå mer", "roker": "nej"})
    assert submitted.status_code == 303  # a form that raises a flag
    anna.post(FORM.format(e=e) + "/kommentarer", {"body": "En kommentar"})
    assert len(notifications(app)) == 1  # one pending notice covers them all
    assert app.state.outbox.drain() == 1
    (msg,) = smtp.messages()
    assert msg["To"] == "tove@region.example" and msg["Subject"] == STAFF_SUBJECT
    body = msg.get_content()
    assert "Det finns nya händelser att granska i dina moment." in body and PUBLIC_URL in body
    for secret in ("Anna", "knät", "ont", "Gå mer", "Testprogrammet", "191212121212"):
        assert secret not in body
    # Another event within the period waits; after it, it goes out.
    clock.advance(minutes=5)
    anna.post(f"/moment/{e}/meddelanden/{tid}", {"body": "Och nu?"})
    assert app.state.outbox.drain() == 0 and len(smtp.envelopes) == 1
    clock.advance(minutes=10)
    assert app.state.outbox.drain() == 1 and len(smtp.envelopes) == 2
    assert [n.sent_at is not None for n in notifications(app)] == [True, True]


@pytest.mark.parametrize("values", [{"email": "tove@region.example", "notify_events": False},
                                    {"email": None, "notify_events": True}])
def test_staff__no_notice_without_the_choice_or_an_address(make, browsers, values):
    app, people = make()
    set_user(app, people.therapist, **values)
    anna = browsers(app, "anna")
    anna.post(f"/moment/{people.enrolment_a}/meddelanden", {"subject": "Hej", "body": "Hej"})
    assert notifications(app) == []


def test_staff__missed_registration_hook_for_the_review_area(make, smtp):
    app, people = make(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls=False)
    set_user(app, people.therapist, email="tove@region.example", notify_events=True)
    now = app.state.stegvis.clock.now()
    with app.state.stegvis.db.session() as s:
        enrolment = s.get(Enrolment, people.enrolment_a)
        row = queue_staff_notice(s, now, enrolment, "missed_registration")
        assert row is not None and row.recipient_id == people.therapist
        assert queue_staff_notice(s, now, enrolment, "missed_registration").id == row.id  # batched
        with pytest.raises(ValueError):
            queue_staff_notice(s, now, enrolment, "något annat")
    app.state.outbox.drain()
    assert len(smtp.envelopes) == 1


# --- parts ---------------------------------------------------------------------------------------


def test_smtp_email__a_plain_utf8_message_with_headers():
    sender = SmtpEmail("localhost", 25, "Stegvis <no-reply@region.example>")
    msg = sender.message(Notice(NoticeChannel.email, "a@example.se", "Ämne", "Åäö text"))
    assert msg["From"] == "Stegvis <no-reply@region.example>" and msg["To"] == "a@example.se"
    assert msg.get_content_type() == "text/plain" and msg.get_content_charset() == "utf-8"
    assert msg["Message-ID"].endswith("@region.example>")
    assert msg.get_content().strip() == "Åäö text"


@pytest.mark.parametrize(("raw", "e164"), [("070-123 45 67", "+46701234567"), ("+46 70 123 45 67", "+46701234567"),
                                          ("0046701234567", "+46701234567"), ("ring mig", None), ("07", None)])
def test_phone_numbers__normalised_and_masked(raw, e164):
    assert normalise_phone(raw) == e164
    if e164:
        assert mask_phone(raw) == "+4670…67"


def test_email_addresses__masked_in_logs():
    assert mask_email("anna.andersson@example.se") == "a…@example.se"
    assert mask_email("inte-en-adress") == "…"


def test_settings__the_smtp_password_stays_out_of_reprs(packages, sqlite_url):
    settings = make_settings(packages, sqlite_url, smtp_password="hemligt-lösen")
    assert "hemligt" not in repr(settings) and "hemligt" not in str(settings)


def test_staff_notice_period__setting_respected(make, smtp, clock):
    app, people = make(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls=False, staff_notice_minutes=60)
    set_user(app, people.therapist, email="tove@region.example", notify_events=True)
    for minutes in (0, 30, 30):
        clock.advance(minutes=minutes)
        with app.state.stegvis.db.session() as s:
            queue_staff_notice(s, clock.now(), s.get(Enrolment, people.enrolment_a), "message")
        app.state.outbox.drain()
    assert len(smtp.envelopes) == 2  # at 0 and at 60 minutes, not at 30
    sent = [n.sent_at for n in notifications(app)]
    assert sent[1] - sent[0] == timedelta(minutes=60)
