"""Messages with the patient, on the staff side (issue #9): threads, read receipts, "Avisera till inkorgen".

Routes (policy in runtime.services.access; the work in runtime.services.messages):

  GET   /personal/moment/{eid}/meddelanden              enrolment_read  threads, unread counts
  POST  /personal/moment/{eid}/meddelanden              message_write   a new thread
  GET   /personal/moment/{eid}/meddelanden/{thread_id}  enrolment_read  the thread, read receipts
  POST  /personal/moment/{eid}/meddelanden/{thread_id}  message_write   a reply

Decisions:
- Reading marks read only for the patient's own therapist (whoever `message_write`
  allows). When they open a thread, the patient's messages in it get `read_at` (the
  patient sees "Läst av behandlaren"), and the enrolment's open `message` flags for
  those messages are hidden: the therapist has seen what the flag pointed at. A
  citizen administrator or a colleague may read the thread, but that is not the
  patient's therapist reading it, so nothing is marked and no flag is hidden (the
  page says so).
- The therapist's messages show "Läst av patienten <time>" or "Inte läst än", in text.
- "Avisera till inkorgen" (Message.notify) queues a notice to the patient through
  runtime.services.notify (e-mail, else SMS); the notice says only that a message waits.
- Writing is refused while the enrolment is in maintenance or ended (the server
  answers 403; the page says why instead of showing the form).

Must not: show one enrolment's threads under another (threads are looked up within the enrolment).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import APIRouter
from fastapi.responses import Response

from runtime.models import (
    AuthorRole,
    Enrolment,
    MessageThread,
    Notification,
)
from runtime.packages import Package
from runtime.services.access import Action, allowed, enrolment_package, unit_enrolment
from runtime.services.messages import (
    SUBJECT_MAX,
    enrolment_thread,
    has_contact,
    mark_read,
    message_errors,
    patient_notices,
    reply,
    require_open,
    start_thread,
    threads_with_counts,
    write_refusal,
)
from runtime.services.notify import NO_CONTACT, NO_NOTICES
from runtime.staff.common import render_staff
from runtime.views import time_text
from runtime.web import CsrfForm, Ctx, StaffDep, first, redirect

router = APIRouter(include_in_schema=False)

def _load(ctx: Ctx, eid: int, action: Action) -> tuple[Enrolment, Package]:
    enrolment = unit_enrolment(ctx, eid, action)
    return enrolment, enrolment_package(ctx, enrolment)


# --- checking what was written -------------------------------------------------------------------


@dataclass
class Compose:
    """A message being written: the values and their errors (by field name)."""

    subject: str = ""
    body: str = ""
    notify: bool = False
    errors: dict[str, str] = field(default_factory=dict)

    def anchors(self, body_id: str) -> list[tuple[str, str]]:
        """(field id, message) for the error summary."""
        ids = {"subject": "amne", "body": body_id}
        return [(ids[k], v) for k, v in self.errors.items() if k in ids]


def read_compose(ctx: Ctx, form: dict[str, list[str]], with_subject: bool) -> Compose:
    """The posted message, checked (`runtime.services.messages.message_errors`)."""
    limit = ctx.app.settings.max_text_length
    out = Compose(" ".join(first(form, "subject").split())[:SUBJECT_MAX + 100],
                  first(form, "body").replace("\r\n", "\n").strip()[:limit + 1000],
                  first(form, "notify") == "ja")
    out.errors = message_errors(ctx, out.subject, out.body, with_subject)
    return out


# --- the thread list -----------------------------------------------------------------------------


@dataclass
class ThreadRow:
    """A thread in the list."""

    id: int
    subject: str
    started_by: str
    count: int
    unread: int
    last: str


def thread_rows(ctx: Ctx, enrolment: Enrolment) -> list[ThreadRow]:
    """The enrolment's threads, newest activity first, with the patient's messages not yet read."""
    tz = ctx.app.tz
    return [ThreadRow(t.id, t.subject, "Patienten" if t.created_by == enrolment.patient_id else "Vården", total,
                      unread, time_text(t.last_message_at, tz))
            for t, total, unread in threads_with_counts(ctx, enrolment)]


def _render_list(ctx: Ctx, enrolment: Enrolment, package: Package, compose: Compose, status: int = 200,
                 notice: str | None = None) -> Response:
    rows = thread_rows(ctx, enrolment)
    return render_staff(ctx, "staff/messages.html", status=status,
                        title=f"{'Fel: ' if compose.errors else ''}Meddelanden – {enrolment.patient.display_name}",
                        enrolment=enrolment, package=package, tab="meddelanden", threads=rows,
                        unread=sum(r.unread for r in rows), compose=compose,
                        anchors=compose.anchors("meddelande"), refusal=write_refusal(ctx, enrolment),
                        has_contact=has_contact(enrolment), notice=notice)


@router.get("/personal/moment/{eid}/meddelanden")
def messages_page(eid: int, ctx: StaffDep) -> Response:
    """Threads with the patient, unread counts, and the form for a new message."""
    enrolment, package = _load(ctx, eid, Action.enrolment_read)
    ctx.audit("inbox.read", enrolment)
    return _render_list(ctx, enrolment, package, Compose())


@router.post("/personal/moment/{eid}/meddelanden")
def new_thread_post(eid: int, ctx: StaffDep, form: CsrfForm) -> Response:
    """Start a thread with the patient (optionally with a notice to them)."""
    enrolment, package = _load(ctx, eid, Action.message_write)
    require_open(enrolment)
    compose = read_compose(ctx, form, with_subject=True)
    if compose.errors:
        ctx.audit("inbox.read", enrolment)
        return _render_list(ctx, enrolment, package, compose, status=422)
    thread = start_thread(ctx, enrolment, compose.subject, compose.body, compose.notify)
    if first(form, "_tillbaka") == "granska":  # written in the review page's side panel (issue #15)
        return redirect(f"/personal/moment/{enrolment.id}?svarat=1#panel-trad-{thread.id}")
    return redirect(f"/personal/moment/{enrolment.id}/meddelanden/{thread.id}?skickat=1#senaste")


# --- one thread ----------------------------------------------------------------------------------


@dataclass
class MessageView:
    """A message as the staff page shows it."""

    id: int
    mine: bool  # written by care staff
    author: str
    when: str
    body: str
    receipt: str | None  # the therapist's messages: read by the patient or not
    new: bool  # the patient's messages: unread until this page opened them
    notice: str | None  # "Avisera": how the notice fared


def notice_text(row: Notification | None, tz) -> str:
    """How an "Avisera" notice fared, in words."""
    if row is None:
        return "Avisering begärd."
    how = "e-post" if row.channel.value == "email" else "SMS"
    if row.sent_at is not None:
        return f"Aviserad med {how} {time_text(row.sent_at, tz)}."
    if row.error in (NO_CONTACT, NO_NOTICES):
        return "Ingen avisering: " + row.error
    if row.error and not row.error.startswith("Skickas"):
        return f"Aviseringen med {how} kunde inte skickas. Meddelandet finns ändå i patientens inkorg."
    return f"Avisering med {how} skickas."


def message_views(ctx: Ctx, enrolment: Enrolment, thread: MessageThread, unread_before: set[int]) -> list[MessageView]:
    """The thread's messages with authors, read receipts and notice states."""
    tz = ctx.app.tz
    notices = patient_notices(ctx, enrolment, thread)
    out = []
    for m in thread.messages:
        mine = m.sender_role == AuthorRole.therapist
        receipt = None
        if mine:
            receipt = f"Läst av patienten {time_text(m.read_at, tz)}" if m.read_at else "Inte läst än"
        author = ("Du" if m.sender_id == ctx.user.id else "Behandlaren") if mine else enrolment.patient.display_name
        out.append(MessageView(m.id, mine, author, time_text(m.created_at, tz), m.body, receipt,
                               m.id in unread_before, notice_text(notices.get(m.created_at), tz) if m.notify else None))
    return out


def _render_thread(ctx: Ctx, enrolment: Enrolment, package: Package, thread: MessageThread, compose: Compose,
                   unread_before: set[int], marks: bool, status: int = 200, notice: str | None = None) -> Response:
    return render_staff(ctx, "staff/thread.html", status=status,
                        title=f"{'Fel: ' if compose.errors else ''}{thread.subject} – {enrolment.patient.display_name}",
                        enrolment=enrolment, package=package, tab="meddelanden", thread=thread,
                        messages=message_views(ctx, enrolment, thread, unread_before), compose=compose,
                        anchors=compose.anchors("svar"), refusal=write_refusal(ctx, enrolment), marks=marks,
                        has_contact=has_contact(enrolment), notice=notice)


@router.get("/personal/moment/{eid}/meddelanden/{thread_id}")
def thread_page(eid: int, thread_id: int, ctx: StaffDep) -> Response:
    """A thread; the patient's therapist opening it marks the patient's messages read and hides their flags."""
    enrolment, package = _load(ctx, eid, Action.enrolment_read)
    thread = enrolment_thread(ctx, enrolment, thread_id)
    marks = allowed(ctx, Action.message_write, enrolment)
    unread = mark_read(ctx, enrolment, thread) if marks else set()
    ctx.audit("thread.read", enrolment, f"thread:{thread.id}")
    notice = "Ditt meddelande är skickat." if "skickat" in ctx.request.query_params else None
    return _render_thread(ctx, enrolment, package, thread, Compose(), unread, marks, notice=notice)


@router.post("/personal/moment/{eid}/meddelanden/{thread_id}")
def reply_post(eid: int, thread_id: int, ctx: StaffDep, form: CsrfForm) -> Response:
    """Answer in a thread (optionally with a notice to the patient)."""
    enrolment, package = _load(ctx, eid, Action.message_write)
    thread = enrolment_thread(ctx, enrolment, thread_id)
    require_open(enrolment)
    compose = read_compose(ctx, form, with_subject=False)
    if compose.errors:
        ctx.audit("thread.read", enrolment, f"thread:{thread.id}")
        return _render_thread(ctx, enrolment, package, thread, compose, set(), True, status=422)
    reply(ctx, enrolment, thread, compose.body, compose.notify)
    if first(form, "_tillbaka") == "granska":
        # Answered in the review page's side panel (issue #15): the therapist has read the thread there.
        mark_read(ctx, enrolment, thread)
        return redirect(f"/personal/moment/{enrolment.id}?svarat=1#panel-trad-{thread.id}")
    return redirect(f"/personal/moment/{enrolment.id}/meddelanden/{thread.id}?skickat=1#senaste")
