"""Notices by e-mail and SMS: the patient's "Avisera" and staff's event notifications (issue #9).

Input: a request that has decided someone should be told that something new is
waiting. Output: a `Notification` row in the request's own transaction; the outbox
sends it after the commit, from a worker thread, so no request ever holds a database
transaction (or SQLite's write lock) while an SMTP server thinks. Each row ends with
`sent_at` or `error`; a failure is recorded, logged without addresses, and never
raised into a request.

Two kinds of notice, told apart by who receives them:

  patient  "Avisera till inkorgen" on a therapist's message. E-mail when the patient
           has an address, else SMS when they have a mobile number (the SMS gateway
           is a plug-in; `LoggingSms` stands in for it), else a row with the error
           "no contact", so the therapist's page can say so.
  staff    "Ta emot notifieringar" (Min profil): a flagged form, a message, a page
           comment or a missed registration in one of their enrolments. Batched: at
           most one pending notice per person, sent no sooner than
           `staff_notice_minutes` after the previous one, so a burst gives one e-mail.

The texts never hold patient data: no name, no message, not what happened. They say
that something is waiting and where to log in.

Several runtime processes may share one database (`--workers`, several instances behind a
proxy): a worker claims a row with a conditional UPDATE before sending, so each notice is sent
once at most. A staff row is claimed under a per-person lock (a PostgreSQL advisory lock;
SQLite's write lock), and the claim stamps `sent_at` at once: a notice still being sent by
another process counts as sent, so two processes never mail one person twice in a period.

Must not: hold a database transaction while talking to a mail server; raise a send
failure into a request; write e-mail addresses or phone numbers to the log in clear.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Literal, Protocol

from sqlalchemy import event, or_, select, text, update
from sqlalchemy.orm import Session

from runtime.clock import Clock
from runtime.context import Ctx, Waker
from runtime.db import Database
from runtime.i18n import N_, SWEDISH, Catalogues, Language
from runtime.models import Enrolment, EventKind, NoticeChannel, Notification, User, UserKind
from runtime.packages import PackageStore
from runtime.services.events import record
from runtime.settings import RuntimeSettings

log = logging.getLogger("stegvis.notify")

#: How often the worker looks for due notices when nothing wakes it (batched staff notices fall due this way).
POLL_SECONDS = 30.0
#: Put in `error` while a worker is sending a row: other workers leave it alone.
CLAIMED = "Skickas…"
#: First key of the PostgreSQL advisory lock taken per staff recipient while a staff row is claimed.
_STAFF_NOTICE_LOCK = 0x5356_4E4F
NO_CONTACT = "Patienten har ingen e-postadress och inget mobilnummer i tjänsten."
NO_NOTICES = "Patienten har valt att inte få aviseringar (Mina uppgifter)."
ERROR_MAX = 300

#: What may cause a staff notification (the flag kinds).
StaffEvent = Literal["form_submitted", "message", "page_comment", "missed_registration"]
STAFF_EVENTS = ("form_submitted", "message", "page_comment", "missed_registration")

PATIENT_SUBJECT = N_("Nytt meddelande från din behandlare")
STAFF_SUBJECT = "Nya händelser att granska i Stegvis"


@dataclass(frozen=True)
class Notice:
    """One notice to send: where, and what it says (never patient data)."""

    channel: NoticeChannel
    to: str
    subject: str
    body: str
    ref: int | None = None  # the Notification row's id, for the log


class NoticeFailed(Exception):
    """A notice could not be handed over to the mail server or gateway; the message is recorded.

    `kind` names the failure without addresses (for the application log).
    """

    def __init__(self, message: str, kind: str = "") -> None:
        super().__init__(message)
        self.kind = kind or "NoticeFailed"


class Notifier(Protocol):
    """Hands a notice to a channel (e-mail or SMS); raises NoticeFailed when that fails."""

    def send(self, notice: Notice) -> None: ...


class SmsSender(Notifier, Protocol):
    """An SMS gateway. The only implementation so far logs; a real gateway is a later plug-in."""


def mask_email(address: str) -> str:
    """"a…@region.se": enough to tell addresses apart in a log, not enough to read one."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}…@{domain}" if domain else "…"


def normalise_phone(number: str) -> str | None:
    """A mobile number in E.164 (+46701234567) from Swedish national or international form; None if not one."""
    digits = re.sub(r"[\s\-().]", "", number or "")
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    elif digits.startswith("0"):
        digits = "+46" + digits[1:]
    if not re.fullmatch(r"\+\d{8,15}", digits):
        return None
    return digits


def mask_phone(number: str) -> str:
    """"+4670…67": the country and operator prefix and the last two digits."""
    e164 = normalise_phone(number) or number
    return f"{e164[:5]}…{e164[-2:]}" if len(e164) > 7 else "…"


class SmtpEmail:
    """E-mail over SMTP (smtplib): STARTTLS or SSL, optional login, a timeout at every step."""

    def __init__(self, host: str, port: int, mail_from: str, starttls: bool = True, use_ssl: bool = False,
                 username: str | None = None, password: str | None = None, timeout: float = 10.0) -> None:
        self.host, self.port, self.mail_from = host, port, mail_from
        self.starttls, self.use_ssl = starttls, use_ssl
        self.username, self.password, self.timeout = username, password, timeout

    def message(self, notice: Notice) -> EmailMessage:
        """The e-mail of a notice: plain text, UTF-8, with Date and Message-ID."""
        msg = EmailMessage()
        msg["From"] = self.mail_from
        msg["To"] = notice.to
        msg["Subject"] = notice.subject
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain=self.mail_from.rpartition("@")[2].strip("> ") or "localhost")
        msg.set_content(notice.body)
        return msg

    def send(self, notice: Notice) -> None:
        """Deliver to the SMTP server; any failure becomes NoticeFailed with a short reason."""
        context = ssl.create_default_context()
        try:
            if self.use_ssl:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with smtp:
                if self.starttls and not self.use_ssl:
                    smtp.starttls(context=context)  # refuses (SMTPNotSupportedError) rather than send in clear
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(self.message(notice))
        except (OSError, smtplib.SMTPException) as exc:
            raise NoticeFailed(f"E-posten kunde inte skickas: {type(exc).__name__}: {exc}"[:ERROR_MAX],
                               type(exc).__name__) from exc


class LoggingEmail:
    """E-mail turned off (no smtp_host): the notice is written to the log instead, address masked."""

    def send(self, notice: Notice) -> None:
        """Log the notice (its text holds no patient data)."""
        log.info("E-post (ingen SMTP-server inställd) till %s: %s – %s", mask_email(notice.to), notice.subject,
                 notice.body)


class LoggingSms:
    """SMS stand-in until a gateway is plugged in: logs "SMS till +4670…67: text"."""

    def send(self, notice: Notice) -> None:
        """Log the SMS with the number masked."""
        if normalise_phone(notice.to) is None:
            raise NoticeFailed("Mobilnumret går inte att skicka SMS till.")
        log.info("SMS till %s: %s", mask_phone(notice.to), notice.body)


def make_email(settings: RuntimeSettings) -> Notifier:
    """The e-mail channel the settings ask for."""
    if not settings.smtp_host:
        return LoggingEmail()
    return SmtpEmail(settings.smtp_host, settings.smtp_port, settings.mail_from, starttls=settings.smtp_starttls,
                     use_ssl=settings.smtp_ssl, username=settings.smtp_username, password=settings.smtp_password,
                     timeout=settings.smtp_timeout)


def make_sms(settings: RuntimeSettings) -> SmsSender:
    """The SMS channel the settings ask for (only "log" exists so far)."""
    return LoggingSms()


# --- texts ---------------------------------------------------------------------------------------


def _login_line(settings: RuntimeSettings, what: str) -> str:
    return f"Logga in på {settings.public_url} {what}." if settings.public_url else f"Logga in i tjänsten {what}."


def patient_text(settings: RuntimeSettings, program_title: str | None,
                 language: Language = SWEDISH) -> tuple[str, str]:
    """(subject, body) of a patient's message notice: that a message waits, never what it says.

    In `language` (runtime.i18n): the outbox passes the enrolment's.
    """
    login = (language.gettext("Logga in på %(address)s för att läsa det.", address=settings.public_url)
             if settings.public_url else language.gettext("Logga in i tjänsten för att läsa det."))
    body = "\n\n".join((
        (language.gettext("Du har ett nytt meddelande från din behandlare i %(program)s.", program=program_title)
         if program_title else language.gettext("Du har ett nytt meddelande från din behandlare i ditt program."))
        + " " + login,
        language.gettext("Det går inte att svara på det här meddelandet.")))
    return str(language.gettext(PATIENT_SUBJECT)), body


def staff_text(settings: RuntimeSettings) -> tuple[str, str]:
    """(subject, body) of a staff notification: that something waits, never whom or what."""
    body = (f"Det finns nya händelser att granska i dina moment. {_login_line(settings, 'för att se dem')}\n\n"
            "Av sekretesskäl står det inte här vad som har hänt eller vem det gäller. Du får högst ett sådant "
            f"meddelande per {settings.staff_notice_minutes} minuter. Du stänger av notifieringarna under Min profil.")
    return STAFF_SUBJECT, body


# --- queueing (in the request's transaction) -----------------------------------------------------


def _wake_after_commit(db: Session, outbox: Waker | None) -> None:
    """Wake the outbox once the request's transaction is committed (not before: the row must be there)."""
    if outbox is None or db.info.get("stegvis_outbox_wake"):
        return
    db.info["stegvis_outbox_wake"] = True

    def wake(session: Session) -> None:
        session.info.pop("stegvis_outbox_wake", None)
        outbox.wake()

    event.listen(db, "after_commit", wake, once=True)


def outbox_of(ctx: Ctx) -> Waker | None:
    """The app's outbox (None for an app without one)."""
    return ctx.app.outbox


def patient_channel(patient: User) -> tuple[NoticeChannel, str] | None:
    """The channel the patient chose (issue 15), when its address is there; without a choice e-mail when
    the patient has an address, else SMS to a usable mobile number; else (or for "none") None."""
    wanted = patient.notice_channel
    if wanted == "none":
        return None
    if patient.email and wanted in (None, "email"):
        return NoticeChannel.email, patient.email
    if patient.phone and normalise_phone(patient.phone) and wanted in (None, "sms"):
        return NoticeChannel.sms, patient.phone
    return None


def notify_patient(ctx: Ctx, enrolment: Enrolment) -> Notification:
    """Queue the "new message" notice to the enrolment's patient (Avisera till inkorgen); also a timeline event.

    A patient with no e-mail address and no mobile number gets a row with that error,
    so the therapist's page can say why no notice went out.
    """
    patient = ctx.db.get(User, enrolment.patient_id)
    found = patient_channel(patient)
    subject, _ = patient_text(ctx.app.settings, "")
    row = Notification(enrolment_id=enrolment.id, recipient_id=patient.id, created_at=ctx.now, subject=subject,
                       channel=found[0] if found else NoticeChannel.email,
                       error=None if found else NO_NOTICES if patient.notice_channel == "none" else NO_CONTACT)
    ctx.db.add(row)
    ctx.db.flush()
    if found:
        how = "e-post" if found[0] == NoticeChannel.email else "SMS"
        record(ctx, enrolment, EventKind.notified, f"Avisering om nytt meddelande till patienten med {how}.")
        _wake_after_commit(ctx.db, outbox_of(ctx))
    else:
        record(ctx, enrolment, EventKind.notified, "Ingen avisering: " + row.error)
    ctx.audit("notice.create", enrolment, f"notification:{row.id}")
    return row


def queue_staff_notice(db: Session, now: datetime, enrolment: Enrolment, what: str,
                       outbox: Waker | None = None) -> Notification | None:
    """Queue an event notification to the enrolment's therapist, if they want one; None when not.

    At most one is pending per person: a pending one covers every event until it is sent.
    For callers without a request (a scheduled check of missed registrations).
    """
    if what not in STAFF_EVENTS:
        raise ValueError(f"unknown staff event {what!r}")
    if enrolment.therapist_id is None:
        return None
    therapist = db.get(User, enrolment.therapist_id)
    if therapist is None or therapist.kind != UserKind.staff or not therapist.notify_events or not therapist.email \
            or therapist.disabled_at is not None:
        return None
    pending = db.scalar(select(Notification).where(Notification.recipient_id == therapist.id,
                                                   Notification.enrolment_id.is_(None),
                                                   Notification.sent_at.is_(None), Notification.error.is_(None))
                        .limit(1))
    if pending is not None:
        return pending
    row = Notification(enrolment_id=None, recipient_id=therapist.id, channel=NoticeChannel.email,
                       subject=STAFF_SUBJECT, created_at=now)
    db.add(row)
    db.flush()
    _wake_after_commit(db, outbox)
    return row


def notify_therapist(ctx: Ctx, enrolment: Enrolment, what: StaffEvent) -> Notification | None:
    """Tell the enrolment's therapist that something happened (if they asked to be told); batched.

    `what` is one of STAFF_EVENTS ("form_submitted", "message", "page_comment",
    "missed_registration"); the notice itself does not say which. Call it where the flag is raised.
    """
    return queue_staff_notice(ctx.db, ctx.now, enrolment, what, outbox_of(ctx))


# --- the outbox (after the commit, in a worker thread) -------------------------------------------


@dataclass(frozen=True)
class Pending:
    """What the worker needs of a pending row."""

    id: int
    recipient_id: int
    enrolment_id: int | None
    channel: NoticeChannel


class Outbox:
    """Sends pending Notification rows: woken after a commit, and every POLL_SECONDS for batched ones."""

    def __init__(self, settings: RuntimeSettings, db: Database, clock: Clock, store: PackageStore,
                 email: Notifier | None = None, sms: SmsSender | None = None,
                 catalogues: Catalogues | None = None) -> None:
        self.settings, self.db, self.clock, self.store = settings, db, clock, store
        #: The patient's notice is written in the enrolment's language (issue 18); without catalogues, Swedish.
        self.catalogues = catalogues or Catalogues()
        self.email = email or make_email(settings)
        self.sms = sms or make_sms(settings)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._drain_lock = threading.Lock()

    # -- thread --

    def start(self) -> None:
        """Start the worker thread (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="stegvis-outbox", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the worker thread after the notice it is sending, if any."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wake(self) -> None:
        """Something was queued and committed: look now."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.drain()
            except Exception:  # noqa: BLE001 - the worker must outlive a database hiccup; the row stays pending
                log.exception("Utkorgen för aviseringar kunde inte gås igenom; nytt försök om en stund.")
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()

    # -- sending --

    def drain(self) -> int:
        """Send every due notice now; returns how many were handed over or failed (not those left waiting)."""
        with self._drain_lock:
            done = 0
            for item in self._pending():
                if self._send_one(item):
                    done += 1
            return done

    def _pending(self) -> list[Pending]:
        with self.db.reads() as reads:
            rows = reads.execute(select(Notification.id, Notification.recipient_id, Notification.enrolment_id,
                                        Notification.channel)
                                 .where(Notification.sent_at.is_(None), Notification.error.is_(None))
                                 .order_by(Notification.id))
            return [Pending(*row) for row in rows]

    def _staff_due(self, s: Session, item: Pending, now: datetime) -> bool:
        # Sent, or being sent by another process right now (claimed: `sent_at` is the claim's time).
        last = s.scalar(select(Notification.sent_at).where(Notification.recipient_id == item.recipient_id,
                                                           Notification.enrolment_id.is_(None),
                                                           Notification.sent_at.is_not(None),
                                                           or_(Notification.error.is_(None),
                                                               Notification.error == CLAIMED))
                        .order_by(Notification.sent_at.desc()).limit(1))
        return last is None or now - last >= timedelta(minutes=self.settings.staff_notice_minutes)

    def _send_one(self, item: Pending) -> bool:
        now = self.clock.now()
        with self.db.session() as s:
            staff = item.enrolment_id is None
            if staff and self.db.backend == "postgresql":
                # One process at a time decides about one person's staff notices (until this commit);
                # SQLite's write lock does the same for every transaction.
                s.execute(text("SELECT pg_advisory_xact_lock(CAST(:kind AS integer), CAST(:who AS integer))"),
                          {"kind": _STAFF_NOTICE_LOCK, "who": item.recipient_id})
            recipient = s.get(User, item.recipient_id)
            if staff and not self._staff_due(s, item, now):
                return False  # batched: it goes out when the previous one (sent or being sent) is old enough
            claimed = s.execute(update(Notification).where(Notification.id == item.id,
                                                           Notification.sent_at.is_(None),
                                                           Notification.error.is_(None))
                                .values(error=CLAIMED, sent_at=now if staff else None)).rowcount
            if not claimed:
                return False  # another worker has it
            notice, problem = self._notice(s, item, recipient)
        error, kind = problem, "ingen mottagare"
        if notice is not None:
            channel = self.email if notice.channel == NoticeChannel.email else self.sms
            try:
                channel.send(notice)
            except NoticeFailed as exc:
                error, kind = str(exc)[:ERROR_MAX], exc.kind
        with self.db.session() as s:
            if error is None:
                sent = self.clock.now()
                s.execute(update(Notification).where(Notification.id == item.id).values(sent_at=sent, error=None))
                if item.enrolment_id is None:
                    # Two requests at once may each have queued one; this e-mail covers both.
                    s.execute(update(Notification).where(Notification.recipient_id == item.recipient_id,
                                                         Notification.enrolment_id.is_(None),
                                                         Notification.sent_at.is_(None),
                                                         Notification.error.is_(None),
                                                         Notification.created_at <= now).values(sent_at=sent))
            else:
                log.warning("Avisering %s kunde inte skickas (%s).", item.id, kind)
                s.execute(update(Notification).where(Notification.id == item.id).values(error=error, sent_at=None))
        return True

    def _notice(self, s: Session, item: Pending, recipient: User | None) -> tuple[Notice | None, str | None]:
        """The notice for a row, or (None, reason) when there is no one to send it to."""
        if recipient is None:
            return None, "Mottagaren finns inte längre."
        if item.enrolment_id is None:
            if not recipient.email:
                return None, "Mottagaren har ingen e-postadress."
            subject, body = staff_text(self.settings)
            return Notice(NoticeChannel.email, recipient.email, subject, body, item.id), None
        enrolment = s.get(Enrolment, item.enrolment_id)
        package = self.store.get(enrolment.program_id, enrolment.program_version) if enrolment else None
        language = self.catalogues.language(enrolment.language if enrolment is not None else None)
        subject, body = patient_text(self.settings, package.title if package else None, language)
        to = recipient.email if item.channel == NoticeChannel.email else recipient.phone
        if not to:
            return None, NO_CONTACT
        return Notice(item.channel, to, subject, body, item.id), None
