"""Messages with the patient, on the staff side: checking, writing, reading and read receipts.

Input: a staff context whose access the route has checked (`runtime.services.access`)
and a thread of the enrolment. Output: threads and messages written in the unit of work,
with access-log rows; with "Avisera till inkorgen", a notice to the patient through
`runtime.services.notify`. The patient's side is `runtime.services.patient`.

- Reading marks read only for the patient's own therapist (whoever `message_write`
  allows): the patient's messages get `read_at`, and the enrolment's open `message`
  flags for them are hidden (`mark_read`).
- Writing is refused while the enrolment is in maintenance or ended (403).

The therapist's page comments under a form (`add_therapist_comment`) are written here too.

Must not: import FastAPI or the staff pages; find a thread outside its enrolment.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update

from runtime.context import AppError, Ctx, not_found
from runtime.enrolments import patient_access
from runtime.models import (
    AuthorRole,
    Enrolment,
    EnrolmentStatus,
    Flag,
    FlagKind,
    Message,
    MessageThread,
    Notification,
    PageComment,
)
from runtime.services.access import POLICY, Action, allowed
from runtime.services.notify import notify_patient, patient_channel

SUBJECT_MAX = 200


def closed_reason(enrolment: Enrolment) -> str | None:
    """Why no messages can be written in the enrolment now (None when they can)."""
    if enrolment.status == EnrolmentStatus.maintenance:
        return ("Momentet är i vidmakthållande. Meddelanden är stängda: patienten kan läsa det som finns, men "
                "varken du eller patienten kan skriva nya meddelanden.")
    if enrolment.status == EnrolmentStatus.ended:
        return "Momentet är avslutat. Det går inte att skicka meddelanden."
    return None


def write_refusal(ctx: Ctx, enrolment: Enrolment) -> str | None:
    """Why this member of staff cannot write here (the enrolment's state, or their role)."""
    return closed_reason(enrolment) or (None if allowed(ctx, Action.message_write, enrolment)
                                        else POLICY[Action.message_write].refusal)


def require_open(enrolment: Enrolment) -> None:
    """Refuse (403) writing in an enrolment in maintenance or ended."""
    reason = closed_reason(enrolment)
    if reason:
        raise AppError(403, reason, title="Meddelanden är stängda")


def enrolment_thread(ctx: Ctx, enrolment: Enrolment, thread_id: int) -> MessageThread:
    """A thread of the enrolment; 404 for any other."""
    thread = ctx.db.get(MessageThread, thread_id)
    if thread is None or thread.enrolment_id != enrolment.id:
        raise not_found()
    return thread


def has_contact(enrolment: Enrolment) -> bool:
    """Whether a notice can reach the patient (an e-mail address or a mobile number)."""
    return patient_channel(enrolment.patient) is not None


def message_errors(ctx: Ctx, subject: str, body: str, with_subject: bool) -> dict[str, str]:
    """What is wrong with a message being written (subject for a new thread, body), by field; empty when fine."""
    limit = ctx.app.settings.max_text_length
    errors = {}
    if with_subject:
        if not subject:
            errors["subject"] = "Skriv ett ämne."
        elif len(subject) > SUBJECT_MAX:
            errors["subject"] = f"Ämnet får vara högst {SUBJECT_MAX} tecken."
    if not body:
        errors["body"] = "Skriv ett meddelande."
    elif len(body) > limit:
        errors["body"] = f"Meddelandet är för långt: högst {limit} tecken, du har skrivit {len(body)}."
    return errors


def add_message(ctx: Ctx, enrolment: Enrolment, thread: MessageThread, body: str, notify: bool) -> Message:
    """The therapist's message in a thread; with `notify`, the patient gets a notice."""
    message = Message(thread_id=thread.id, sender_id=ctx.user.id, sender_role=AuthorRole.therapist,
                      body=body, notify=notify, created_at=ctx.now)
    ctx.db.add(message)
    thread.last_message_at = ctx.now
    ctx.db.flush()
    if notify:
        notify_patient(ctx, enrolment)
    return message


def start_thread(ctx: Ctx, enrolment: Enrolment, subject: str, body: str, notify: bool) -> MessageThread:
    """A new thread with the patient (checked by `message_errors` first), with its first message."""
    require_open(enrolment)
    thread = MessageThread(enrolment_id=enrolment.id, subject=subject, created_by=ctx.user.id,
                           created_at=ctx.now, last_message_at=ctx.now)
    ctx.db.add(thread)
    ctx.db.flush()
    add_message(ctx, enrolment, thread, body, notify)
    ctx.audit("message.create", enrolment, f"thread:{thread.id}")
    return thread


def reply(ctx: Ctx, enrolment: Enrolment, thread: MessageThread, body: str, notify: bool) -> Message:
    """The therapist's answer in a thread (checked by `message_errors` first)."""
    require_open(enrolment)
    message = add_message(ctx, enrolment, thread, body, notify)
    ctx.audit("message.create", enrolment, f"thread:{thread.id}")
    return message


def threads_with_counts(ctx: Ctx, enrolment: Enrolment) -> list[tuple[MessageThread, int, int]]:
    """The enrolment's threads, newest activity first, with (messages, the patient's messages not yet read)."""
    threads = list(ctx.db.scalars(select(MessageThread).where(MessageThread.enrolment_id == enrolment.id)
                                  .order_by(MessageThread.last_message_at.desc(), MessageThread.id.desc())))
    stats = {tid: (total, unread) for tid, total, unread in ctx.db.execute(
        select(Message.thread_id, func.count(),
               func.count().filter((Message.sender_role == AuthorRole.patient) & Message.read_at.is_(None)))
        .join(MessageThread).where(MessageThread.enrolment_id == enrolment.id).group_by(Message.thread_id))}
    return [(t, *stats.get(t.id, (0, 0))) for t in threads]


def patient_notices(ctx: Ctx, enrolment: Enrolment, thread: MessageThread) -> dict[datetime, Notification]:
    """The patient notices of the thread's "Avisera" messages, by creation time (made with their message)."""
    times = [m.created_at for m in thread.messages if m.notify]
    if not times:
        return {}
    rows = ctx.db.scalars(select(Notification).where(Notification.enrolment_id == enrolment.id,
                                                     Notification.recipient_id == enrolment.patient_id,
                                                     Notification.created_at.in_(times)))
    return {n.created_at: n for n in rows}


def mark_read(ctx: Ctx, enrolment: Enrolment, thread: MessageThread) -> set[int]:
    """The therapist opened the thread: the patient's messages are read, their message flags hidden.

    Returns the ids that were unread until now (the page marks them "Nytt").
    """
    unread = [m.id for m in thread.messages if m.sender_role == AuthorRole.patient and m.read_at is None]
    if unread:
        ctx.db.execute(update(Message).where(Message.id.in_(unread), Message.read_at.is_(None))
                       .values(read_at=ctx.now))
    ids = [m.id for m in thread.messages if m.sender_role == AuthorRole.patient]
    if ids:
        hidden = ctx.db.execute(update(Flag).where(Flag.enrolment_id == enrolment.id, Flag.kind == FlagKind.message,
                                                   Flag.ref_type == "message", Flag.ref_id.in_(ids),
                                                   Flag.hidden_at.is_(None))
                                .values(hidden_at=ctx.now, hidden_by=ctx.user.id)).rowcount
        if hidden:
            ctx.audit("flag.hide", enrolment, f"thread:{thread.id}")
    ctx.db.expire(thread)
    return set(unread)


# --- the therapist's page comments ----------------------------------------------------------------


def comment_closed_reason(ctx: Ctx, enrolment: Enrolment) -> str | None:
    """Why nothing can be written to the patient now (None when the enrolment is active)."""
    if patient_access(enrolment, ctx.now.astimezone(ctx.app.tz).date()).write:
        return None
    if enrolment.status == EnrolmentStatus.maintenance:
        return "Momentet är i vidmakthållande: meddelanden, sidkommentarer och formulär är stängda."
    return "Momentet är avslutat: det går inte att skriva till patienten."


def add_therapist_comment(ctx: Ctx, enrolment: Enrolment, form_id: str, text: str) -> PageComment:
    """The therapist's page comment under a form that has page comments (the patient sees it on the step page).

    Refused with 403 when nothing can be written to the patient, 422 for an empty or too long text.
    """
    closed = comment_closed_reason(ctx, enrolment)
    if closed is not None:
        raise AppError(403, closed, title="Stängt")
    limit = ctx.app.settings.max_text_length
    if not text:
        raise AppError(422, "Skriv en kommentar först.")
    if len(text) > limit:
        raise AppError(422, f"Kommentaren är för lång: högst {limit} tecken, du har skrivit {len(text)}.")
    row = PageComment(enrolment_id=enrolment.id, form_id=form_id, author_id=ctx.user.id,
                      author_role=AuthorRole.therapist, body=text, created_at=ctx.now)
    ctx.db.add(row)
    ctx.db.flush()
    ctx.audit("comment.create", enrolment, f"form:{form_id}")
    return row
