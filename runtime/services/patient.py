"""What the patient does, once, for both the pages and the JSON API.

Input: a request context whose patient owns the enrolment (the routes check that
first) and the enrolment's package. Output: rows written in the request's
transaction, each with its access-log row; a refusal is an `AppError` with a
Swedish message. Flags for the therapist (form submitted when the form says so,
message, page comment) are raised here, for the staff pages to show; next to
each, `runtime.services.notify.notify_therapist` queues the therapist's e-mail notification
(if they asked for one; batched, and sent after the commit).

Must not: trust anything the browser decided (shown questions, allowed occasions);
everything is checked again here against program.json and the schedule.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from runtime import forms as formcheck
from runtime.context import AppError, Ctx, not_found
from runtime.enrolments import (
    ModuleView,
    StepView,
    Tree,
    form_location,
    make_tree,
    module_tree,
    patient_access,
    plan_definition,
    plan_schedule,
    tree_key,
    visible_plans,
)
from runtime.i18n import N_, NP_
from runtime.language import LanguageRefused, Reading, check_language, reading, swedish_name
from runtime.models import (
    AccessLogEntry,
    AuthorRole,
    Contact,
    Enrolment,
    EnrolmentPlan,
    EventKind,
    Flag,
    FlagKind,
    FormDraft,
    FormSubmission,
    Message,
    MessageThread,
    PageComment,
    Registration,
    StepOpening,
    StepSetting,
    User,
    detached,
)
from runtime.packages import Package
from runtime.patient_files import patient_may_fetch
from runtime.schedule import find_occasion, format_day, format_local, last_day, open_occasions, parse_occasion_key
from runtime.services.enrolment import ContactData, check_contact, clean_email, clean_mobile, welcome_for_language
from runtime.services.events import record
from runtime.services.messages import SUBJECT_MAX
from runtime.services.notify import notify_therapist

#: What an activity plan without a title is called.
PLAN = N_("Aktivitetsplan")
#: Contacts on one start page, at most (the patient's and the care staff's together).
CONTACTS_MAX = 30


#: An enrolment's row by id: a Core read, made once (every patient page reads one).
_ENROLMENT = select(Enrolment.__table__).where(Enrolment.__table__.c.id == bindparam("eid"))


def _get_enrolment(ctx: Ctx, eid: int) -> Enrolment | None:
    """`ctx.db.get(Enrolment, eid)` without the ORM's loading: a Core read, attached to the session."""
    db = ctx.db
    known = db.identity_map.get(db.identity_key(Enrolment, eid))
    if known is not None:
        return known
    row = db.connection().execute(_ENROLMENT, {"eid": eid}).first()
    if row is None:
        return None
    enrolment = detached(Enrolment, row)
    db.add(enrolment)  # attached: its modules, plans and contacts load lazily as before
    return enrolment


def load_enrolment(ctx: Ctx, eid: int) -> tuple[Enrolment, Package]:
    """The logged-in patient's own enrolment and its pinned package; 404 for anyone else's."""
    enrolment = _get_enrolment(ctx, eid)
    if enrolment is None or enrolment.patient_id != ctx.user.id:
        raise not_found()
    access = patient_access(enrolment, ctx.now.astimezone(ctx.app.tz).date())
    if not access.read:
        raise AppError(403, N_("%(reason)s Kontakta din vårdenhet om du har frågor.", reason=access.reason),
                       title=N_("Ingen åtkomst"))
    ctx.use_language(enrolment.language)  # the patient's pages and messages in the enrolment's language (issue 18)
    package = ctx.app.store.get(enrolment.program_id, enrolment.program_version)
    if package is None:
        raise AppError(503, N_("Programmet går inte att visa just nu. Försök igen om en stund, "
                               "eller kontakta din vårdenhet om det inte går."))
    return enrolment, package


def text_of(ctx: Ctx, enrolment: Enrolment, package: Package) -> Reading:
    """The enrolment's program in its language: which package each part is shown from (once per unit of work)."""
    key = f"reading:{enrolment.id}:{enrolment.language}:{package.program_id}/{package.version}"
    found = ctx.memo.get(key)
    if found is None:
        found = ctx.memo[key] = reading(ctx.app.store, enrolment, package)
    return found


#: The program-wide files a patient's start page links to (keys of program.json's `pdf`), in this order.
PROGRAM_FILES = ("brochure", "program")


@dataclass(frozen=True)
class ProgramFile:
    """A program-wide patient file to link: its URL below /moment/<e>/ and whether it is in the enrolment's language."""

    kind: str
    url: str
    translated: bool


def program_files(enrolment: Enrolment, words: Reading) -> list[ProgramFile]:
    """The program-wide files (brochure, whole-program PDF) the patient may fetch, each from the translation if it has it.

    A file the translation lacks is the Swedish package's (`translated` false: the page says
    so); one the patient may not have (the whole-program PDF is staff-only, as it prints
    every step) is not linked at all, by the same rules as the file routes.
    """
    found = []
    sources = (words.translation, words.base) if words.translation is not None else (words.base,)
    for kind in PROGRAM_FILES:
        for source in sources:
            rel = (source.program.get("pdf") or {}).get(kind)
            if rel and patient_may_fetch(enrolment, source, rel, base=words.base):
                found.append(ProgramFile(kind, f"{source.files_url}/{rel}",
                                         source is not words.base or not words.in_translation))
                break
    return found


def tree(ctx: Ctx, enrolment: Enrolment, package: Package) -> Tree:
    """The enrolment's tree (what the patient sees of the program), kept in this process until it changes.

    Kept by `tree_key`: a change to the enrolment's modules, hidden steps, plans or status
    gives it a new `tree_version` in the same transaction (runtime.models), so the next
    request, in any process, reads the tree anew; the key holds the enrolment's language
    and the packages' hashes too, as the titles are in that language.
    """
    text = text_of(ctx, enrolment, package)
    return ctx.app.trees.get(tree_key(enrolment, package, text), lambda: make_tree(enrolment, package, text))


def neighbours(ctx: Ctx, enrolment: Enrolment, package: Package, module_id: str, step_id: str):
    """The visible steps before and after a step, in reading order (None at either end)."""
    steps = tree(ctx, enrolment, package).steps
    index = next((i for i, s in enumerate(steps) if (s.module_id, s.id) == (module_id, step_id)), None)
    if index is None:
        return None, None
    return (steps[index - 1] if index > 0 else None), (steps[index + 1] if index + 1 < len(steps) else None)


def require_write(ctx: Ctx, enrolment: Enrolment) -> None:
    """Refuse writing when the enrolment is in maintenance or ended."""
    access = patient_access(enrolment, ctx.now.astimezone(ctx.app.tz).date())
    if not access.write:
        raise AppError(403, access.reason or N_("Du kan inte skriva i programmet just nu."))


def _touch(ctx: Ctx, enrolment: Enrolment) -> None:
    # Minutes are precise enough for the therapist's overview; spare an UPDATE on most requests.
    # A statement, not an attribute: the enrolment may have been loaded by a read-only session.
    last = enrolment.last_patient_activity_at
    if last is None or ctx.now - last > timedelta(minutes=5):
        ctx.db.connection().execute(_TOUCH_ENROLMENT, {"eid": enrolment.id, "now": ctx.now})


#: The statements of a step page's writes, made once: their compiled forms are cached, so a
#: request only binds its values (issue 16).
_TOUCH_ENROLMENT = (update(Enrolment.__table__).where(Enrolment.__table__.c.id == bindparam("eid"))
                    .values(last_patient_activity_at=bindparam(
                        "now", type_=Enrolment.__table__.c.last_patient_activity_at.type)))


@functools.cache
def _open_statement(dialect: str):
    """The step-opened upsert of a dialect: one row per step, race-free."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = StepOpening.__table__
    return insert(table).on_conflict_do_update(
        index_elements=["enrolment_id", "module_id", "step_id"],
        set_={"last_opened_at": bindparam("now", type_=table.c.last_opened_at.type), "times": table.c.times + 1})


def open_step(ctx: Ctx, enrolment: Enrolment, module_id: str, step_id: str) -> None:
    """Mark a step opened (first and last time, and how often); one row per step, race-free."""
    connection = ctx.db.connection()
    connection.execute(_open_statement(connection.dialect.name),
                       dict(enrolment_id=enrolment.id, module_id=module_id, step_id=step_id,
                            first_opened_at=ctx.now, last_opened_at=ctx.now, times=1, now=ctx.now))
    _touch(ctx, enrolment)
    ctx.audit("step.open", enrolment, f"step:{module_id}/{step_id}")


def get_draft(ctx: Ctx, enrolment: Enrolment, form_id: str) -> FormDraft | None:
    """The patient's unsent answers to a form."""
    return ctx.db.scalar(select(FormDraft).where(FormDraft.enrolment_id == enrolment.id,
                                                 FormDraft.form_id == form_id))


def submissions(ctx: Ctx, enrolment: Enrolment, form_id: str) -> list[FormSubmission]:
    """The patient's submitted answers to a form, newest first."""
    return list(ctx.db.scalars(select(FormSubmission).where(FormSubmission.enrolment_id == enrolment.id,
                                                            FormSubmission.form_id == form_id)
                               .order_by(FormSubmission.submitted_at.desc(), FormSubmission.id.desc())))


def save_draft(ctx: Ctx, enrolment: Enrolment, form_id: str, form: dict, raw: dict[str, list[str]]) -> FormDraft:
    """Keep unsent answers (nothing is checked; required questions may be empty)."""
    require_write(ctx, enrolment)
    answers = formcheck.draft_answers(form["questions"], raw, ctx.app.settings.max_text_length)
    # Drafts of one enrolment take turns on its row (PostgreSQL; SQLite writes one at a time): two saves at
    # once, from two processes or instances, would otherwise both insert, the second failing on the unique key.
    ctx.db.execute(select(Enrolment.id).where(Enrolment.id == enrolment.id).with_for_update())
    draft = get_draft(ctx, enrolment, form_id)
    if draft is None:
        draft = FormDraft(enrolment_id=enrolment.id, form_id=form_id, answers=answers, updated_at=ctx.now)
        ctx.db.add(draft)
    else:
        draft.answers, draft.updated_at = answers, ctx.now
    _touch(ctx, enrolment)
    ctx.audit("form.draft.save", enrolment, f"form:{form_id}")
    ctx.db.flush()
    return draft


class FormRejected(AppError):
    """Answers that break the form's rules: 422 with a message per question."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(422, N_("Några svar behöver rättas."), errors=errors)


def submit_form(ctx: Ctx, enrolment: Enrolment, form_id: str, form: dict, raw: dict[str, list[str]],
                module_id: str | None, step_id: str | None) -> FormSubmission:
    """Check the answers against program.json; store them with the score; flag if the form says so.

    Raises FormRejected when an answer is missing or not allowed (the draft is kept by the caller).
    """
    require_write(ctx, enrolment)
    checked = formcheck.check_answers(form["questions"], raw, ctx.app.settings.max_text_length)
    if not checked.ok:
        raise FormRejected(checked.errors)
    score, band = formcheck.score(form, checked.answers, enrolment.scoring_sex)
    repeated = _same_submission(ctx, enrolment, form_id, checked.answers)
    if repeated is not None:
        return repeated
    row = FormSubmission(enrolment_id=enrolment.id, form_id=form_id, module_id=module_id, step_id=step_id,
                         answers=checked.answers, score=score, score_band=band, submitted_at=ctx.now)
    ctx.db.add(row)
    draft = get_draft(ctx, enrolment, form_id)
    if draft is not None:
        ctx.db.delete(draft)
    ctx.db.flush()
    if form.get("flag_on_submit"):
        ctx.db.add(Flag(enrolment_id=enrolment.id, kind=FlagKind.form_submitted, ref_type="form_submission",
                        ref_id=row.id, detail=form.get("title"), created_at=ctx.now))
        notify_therapist(ctx, enrolment, "form_submitted")
    _touch(ctx, enrolment)
    ctx.audit("form.submit", enrolment, f"form:{form_id}")
    return row


#: A submission with the same answers as the enrolment's last one of the form, within this
#: long, is the same submission sent again (a double click, a resent request): it is not stored twice.
RESUBMIT_WINDOW = timedelta(minutes=2)


def _same_submission(ctx: Ctx, enrolment: Enrolment, form_id: str, answers: dict) -> FormSubmission | None:
    """The enrolment's latest submission of the form when it has these answers and is recent, else None.

    Submissions of one enrolment take turns: the enrolment's row is locked (PostgreSQL; SQLite
    writes one at a time anyway), so concurrent identical submissions store one row (issue 14).
    """
    ctx.db.execute(select(Enrolment.id).where(Enrolment.id == enrolment.id).with_for_update())
    last = ctx.db.scalar(select(FormSubmission).where(FormSubmission.enrolment_id == enrolment.id,
                                                      FormSubmission.form_id == form_id)
                         .order_by(FormSubmission.submitted_at.desc(), FormSubmission.id.desc()).limit(1))
    if last is None or last.answers != answers or ctx.now - last.submitted_at > RESUBMIT_WINDOW:
        return None
    return last


def page_comments(ctx: Ctx, enrolment: Enrolment, form_id: str) -> list[PageComment]:
    """Comments under a form, oldest first (`mark_comments_read` records that the patient saw them)."""
    return list(ctx.db.scalars(select(PageComment).where(PageComment.enrolment_id == enrolment.id,
                                                         PageComment.form_id == form_id)
                               .order_by(PageComment.created_at, PageComment.id)))


def mark_comments_read(ctx: Ctx, enrolment: Enrolment, form_ids: list[str]) -> None:
    """The therapist's comments under these forms are read: the patient was shown them."""
    if form_ids:
        ctx.db.execute(update(PageComment).where(PageComment.enrolment_id == enrolment.id,
                                                 PageComment.form_id.in_(form_ids),
                                                 PageComment.author_role == AuthorRole.therapist,
                                                 PageComment.read_at.is_(None)).values(read_at=ctx.now))


def _text(value: str | None, limit: int, empty: str) -> str:
    """The text, trimmed; 422 with `empty` when there is none, or when it is longer than `limit`."""
    text = (value or "").replace("\r\n", "\n").strip()
    if not text:
        raise AppError(422, empty, errors={"body": empty})
    if len(text) > limit:
        message = N_("Texten är för lång: högst %(limit)s tecken, du har skrivit %(length)s.", limit=limit,
                     length=len(text))
        raise AppError(422, message, errors={"body": message})
    return text


#: What a patient is asked for when they send nothing.
WRITE_A_COMMENT = N_("Skriv en kommentar först.")
WRITE_A_MESSAGE = N_("Skriv ett meddelande först.")


def add_page_comment(ctx: Ctx, enrolment: Enrolment, form_id: str, form: dict, body: str | None) -> PageComment:
    """A patient's comment under a form that allows page comments; flags it for the therapist."""
    require_write(ctx, enrolment)
    if not form.get("page_comments"):
        raise AppError(403, N_("Det går inte att kommentera det här formuläret."))
    text = _text(body, ctx.app.settings.max_text_length, WRITE_A_COMMENT)
    row = PageComment(enrolment_id=enrolment.id, form_id=form_id, author_id=ctx.user.id,
                      author_role=AuthorRole.patient, body=text, created_at=ctx.now)
    ctx.db.add(row)
    ctx.db.flush()
    ctx.db.add(Flag(enrolment_id=enrolment.id, kind=FlagKind.page_comment, ref_type="page_comment", ref_id=row.id,
                    detail=form.get("title"), created_at=ctx.now))
    notify_therapist(ctx, enrolment, "page_comment")
    _touch(ctx, enrolment)
    ctx.audit("comment.create", enrolment, f"form:{form_id}")
    return row


def registrations(ctx: Ctx, plan: EnrolmentPlan) -> list[Registration]:
    """A plan's registrations in occasion order."""
    return list(ctx.db.scalars(select(Registration).where(Registration.plan_id == plan.id)
                               .order_by(Registration.occasion_at)))


def register(ctx: Ctx, enrolment: Enrolment, package: Package, plan: EnrolmentPlan, occasion_text: str,
             raw: dict[str, list[str]], comment: str | None) -> Registration:
    """Register one occasion: it must be in the schedule, inside its window, and not registered yet."""
    require_write(ctx, enrolment)
    tz = ctx.app.tz
    definition = plan_definition(plan, package)
    schedule = plan_schedule(plan)
    if definition is None or schedule is None or not plan.activated:
        raise AppError(404, N_("Aktivitetsplanen är inte aktiverad."))
    at = parse_occasion_key(occasion_text or "")
    occasion = find_occasion(schedule, tz, at) if at is not None else None
    if occasion is None:
        message = N_("Välj ett tillfälle i schemat.")
        raise AppError(422, message, errors={"occasion": message})
    status = occasion.status(ctx.now)
    if status == "early":
        message = N_("Det är för tidigt att registrera tillfället %(when)s. Du kan registrera det från och med %(day)s.",
                     when=format_local(occasion.at, tz), day=format_day(occasion.local.date()))
        raise AppError(422, message, title=N_("För tidigt"), errors={"occasion": message})
    if status == "late":
        message = N_("Det är för sent att registrera tillfället %(when)s. Sista dagen var %(day)s.",
                     when=format_local(occasion.at, tz), day=format_day(last_day(occasion, tz)))
        raise AppError(422, message, title=N_("För sent"), errors={"occasion": message})
    # Registrations of one enrolment take turns on its row, as drafts and submissions do: the same occasion
    # sent twice at once (to two processes or instances) gets 409 the second time, not a unique-key error.
    ctx.db.execute(select(Enrolment.id).where(Enrolment.id == enrolment.id).with_for_update())
    exists = ctx.db.scalar(select(func.count()).select_from(Registration)
                           .where(Registration.plan_id == plan.id, Registration.occasion_at == occasion.at))
    if exists:
        message = N_("Tillfället %(when)s är redan registrerat.", when=format_local(occasion.at, tz))
        raise AppError(409, message, errors={"occasion": message})
    checked = formcheck.check_answers(definition["fields"], raw, ctx.app.settings.max_text_length)
    if not checked.ok:
        raise FormRejected(checked.errors)
    text = (comment or "").strip() or None
    if text is not None:
        if not plan.allow_comments:
            raise AppError(422, N_("Den här planen har inga kommentarer."),
                           errors={"comment": N_("Kommentarer är avstängda.")})
        text = _text(text, ctx.app.settings.max_text_length, WRITE_A_COMMENT)
    row = Registration(plan_id=plan.id, occasion_at=occasion.at, values=checked.answers, comment=text,
                       registered_at=ctx.now)
    ctx.db.add(row)
    ctx.db.flush()
    _touch(ctx, enrolment)
    ctx.audit("registration.create", enrolment, f"plan:{plan.id}")
    return row


@dataclass
class ThreadSummary:
    """A thread in the inbox."""

    thread: MessageThread
    unread: int
    count: int


def threads(ctx: Ctx, enrolment: Enrolment) -> list[ThreadSummary]:
    """The enrolment's threads, newest activity first, with the patient's unread count."""
    rows = ctx.db.scalars(select(MessageThread).where(MessageThread.enrolment_id == enrolment.id)
                          .order_by(MessageThread.last_message_at.desc(), MessageThread.id.desc()))
    out = []
    for t in rows:
        unread = sum(1 for m in t.messages if m.sender_role != AuthorRole.patient and m.read_at is None)
        out.append(ThreadSummary(t, unread, len(t.messages)))
    return out


_M, _T = Message.__table__, MessageThread.__table__
#: Unread messages from care staff in an enrolment (every patient page's navigation shows the count).
_UNREAD = (select(func.count()).select_from(_M.join(_T, _M.c.thread_id == _T.c.id))
           .where(_T.c.enrolment_id == bindparam("eid"), _M.c.read_at.is_(None),
                  _M.c.sender_role != AuthorRole.patient))


def unread_messages(ctx: Ctx, enrolment: Enrolment) -> int:
    """Messages from care staff the patient has not opened."""
    return ctx.db.connection().execute(_UNREAD, {"eid": enrolment.id}).scalar() or 0


def read_thread(ctx: Ctx, enrolment: Enrolment, thread: MessageThread) -> None:
    """Opening a thread marks the staff's messages read (the therapist's read receipt)."""
    ctx.db.execute(update(Message).where(Message.thread_id == thread.id, Message.read_at.is_(None),
                                         Message.sender_role != AuthorRole.patient).values(read_at=ctx.now))
    ctx.audit("thread.read", enrolment, f"thread:{thread.id}")


def start_thread(ctx: Ctx, enrolment: Enrolment, subject: str | None, body: str | None) -> MessageThread:
    """A new conversation with the care staff; flags the message for the therapist."""
    require_write(ctx, enrolment)
    title = " ".join((subject or "").split())
    if not title:
        message = N_("Skriv ett ämne först.")
        raise AppError(422, message, errors={"subject": message})
    if len(title) > SUBJECT_MAX:
        raise AppError(422, N_("Ämnet får vara högst %(limit)s tecken.", limit=SUBJECT_MAX),
                       errors={"subject": N_("För långt ämne.")})
    text = _text(body, ctx.app.settings.max_text_length, WRITE_A_MESSAGE)
    thread = MessageThread(enrolment_id=enrolment.id, subject=title, created_by=ctx.user.id, created_at=ctx.now,
                           last_message_at=ctx.now)
    ctx.db.add(thread)
    ctx.db.flush()
    _add_message(ctx, enrolment, thread, text)
    ctx.audit("message.create", enrolment, f"thread:{thread.id}")
    return thread


def reply(ctx: Ctx, enrolment: Enrolment, thread: MessageThread, body: str | None) -> Message:
    """The patient's answer in a thread; flags it for the therapist."""
    require_write(ctx, enrolment)
    text = _text(body, ctx.app.settings.max_text_length, WRITE_A_MESSAGE)
    message = _add_message(ctx, enrolment, thread, text)
    ctx.audit("message.create", enrolment, f"thread:{thread.id}")
    return message


def _add_message(ctx: Ctx, enrolment: Enrolment, thread: MessageThread, text: str) -> Message:
    message = Message(thread_id=thread.id, sender_id=ctx.user.id, sender_role=AuthorRole.patient, body=text,
                      created_at=ctx.now)
    ctx.db.add(message)
    thread.last_message_at = ctx.now
    ctx.db.flush()
    ctx.db.add(Flag(enrolment_id=enrolment.id, kind=FlagKind.message, ref_type="message", ref_id=message.id,
                    detail=thread.subject[:300], created_at=ctx.now))
    notify_therapist(ctx, enrolment, "message")
    _touch(ctx, enrolment)
    return message


def plan_goal(ctx: Ctx, enrolment: Enrolment, definition: dict[str, Any]) -> float | None:
    """The plan's goal: a fixed number, or the latest value registered in another plan of the enrolment."""
    results = definition.get("results") or {}
    if results.get("goal") is not None:
        return float(results["goal"])
    source = results.get("goal_from")
    if not source:
        return None
    other = next((p for p in enrolment.plans if p.plan_id == source["plan"]), None)
    if other is None:
        return None
    latest = ctx.db.scalars(select(Registration).where(Registration.plan_id == other.id)
                            .order_by(Registration.occasion_at.desc())).first()
    value = latest.values.get(source["field"]) if latest is not None else None
    return float(value) if isinstance(value, int | float) else None


# --- the home page (issue 15) ---------------------------------------------------------------------


@dataclass(frozen=True)
class NewItem:
    """Something new (or to do now) on the home page; `href` is relative to /moment/<id>/."""

    text: str
    href: str


@dataclass
class Home:
    """The patient's home page: modules with progress, where to go on, what is new since last time."""

    modules: list[ModuleView]
    resume: StepView | None  # the step opened last ("Fortsätt där du var")
    next_step: StepView | None  # the first step after it not opened yet
    last_visit: datetime | None  # the patient's last request in an earlier session
    news: list[NewItem]
    open_module: str | None  # the module whose steps show unfolded: where the next step is


def last_visit(ctx: Ctx, enrolment: Enrolment) -> datetime | None:
    """When the patient last did anything in this enrolment before this session (from the access log)."""
    started = ctx.session.created_at if ctx.session is not None else ctx.now
    return ctx.db.scalar(select(func.max(AccessLogEntry.at))
                         .where(AccessLogEntry.enrolment_id == enrolment.id, AccessLogEntry.actor_id == ctx.user.id,
                                AccessLogEntry.actor_role == "patient", AccessLogEntry.at < started))


def home(ctx: Ctx, enrolment: Enrolment, package: Package) -> Home:
    """The home page's parts. Hidden steps and upcoming modules never appear (module_tree leaves them out)."""
    text = text_of(ctx, enrolment, package)
    modules = module_tree(ctx.db, enrolment, package, tree=tree(ctx, enrolment, package))
    steps = [s for m in modules for s in m.steps]
    visible = {(s.module_id, s.id): s for s in steps}
    latest = ctx.db.execute(select(StepOpening.module_id, StepOpening.step_id)
                            .where(StepOpening.enrolment_id == enrolment.id)
                            .order_by(StepOpening.last_opened_at.desc(), StepOpening.id.desc())).all()
    resume = next((visible[(m, st)] for m, st in latest if (m, st) in visible), None)
    start = steps.index(resume) + 1 if resume is not None else 0
    next_step = next((s for s in steps[start:] if not s.opened), None)
    since = last_visit(ctx, enrolment)
    news: list[NewItem] = []
    unread = unread_messages(ctx, enrolment)
    if unread:
        news.append(NewItem(NP_("%(num)s nytt meddelande från din behandlare",
                                "%(num)s nya meddelanden från din behandlare", unread), "meddelanden"))
    comment_forms = ctx.db.scalars(select(PageComment.form_id).where(
        PageComment.enrolment_id == enrolment.id, PageComment.author_role == AuthorRole.therapist,
        PageComment.read_at.is_(None)).distinct().order_by(PageComment.form_id))
    for form_id in comment_forms:
        where, shown = form_location(enrolment, package, form_id), text.form(form_id)
        form = shown[1] if shown is not None else None
        if where is not None and form is not None:
            news.append(NewItem(N_("Din behandlare har kommenterat ”%(form)s”", form=form["title"]),
                                f"steg/{where[0]}/{where[1]}#kommentarer-{form_id}"))
    if since is not None:
        for module in modules:
            row = next((m for m in enrolment.modules if m.module_id == module.id), None)
            if row is not None and row.changed_at is not None and row.changed_at > since:
                news.append(NewItem(N_("Ny modul: %(module)s", module=module.title), f"#modul-{module.id}"))
        shown = ctx.db.execute(select(StepSetting.module_id, StepSetting.step_id).where(
            StepSetting.enrolment_id == enrolment.id, StepSetting.visible.is_(True), StepSetting.changed_at > since))
        for m, st in shown:
            if (m, st) in visible and not visible[(m, st)].opened:
                news.append(NewItem(N_("Nytt steg: %(step)s", step=visible[(m, st)].title), visible[(m, st)].url))
    tz = ctx.app.tz
    for plan in visible_plans(enrolment):
        definition = text.plan(plan) or {}
        schedule = plan_schedule(plan)
        if schedule is None:  # a plan stored without a usable schedule (issue 14) has nothing to register
            continue
        done = {r.occasion_at for r in registrations(ctx, plan)}
        if any(o.at not in done for o in open_occasions(schedule, tz, ctx.now)):
            news.append(NewItem(N_("Du kan registrera i ”%(plan)s” nu", plan=definition.get("title") or PLAN),
                                f"aktivitetsplaner/{plan.id}"))
    where = next_step or resume or (steps[0] if steps else None)
    return Home(modules, resume, next_step, since, news, where.module_id if where else None)


# --- the patient's own settings (issue 15, point 9) ------------------------------------------------

#: How a patient may want notices of new messages, as "Mina uppgifter" offers them.
NOTICE_CHOICES = {"email": N_("E-post"), "sms": N_("SMS"), "none": N_("Inga aviseringar")}


def save_notice_settings(ctx: Ctx, channel: str, email_text: str, phone_text: str) -> User:
    """The patient's choice of notices and where they go (for all their programs).

    Refuses with 422 and a message per field (`channel`, `email`, `phone`): an address
    that is not usable, or the chosen way without its address.
    """
    errors: dict[str, str] = {}
    if channel not in NOTICE_CHOICES:
        errors["channel"] = N_("Välj hur du vill få aviseringar.")
    email = phone = None
    try:
        email = clean_email(email_text)
    except ValueError as exc:
        errors["email"] = exc.args[0]  # a runtime.i18n.Text: the patient reads it in their language
    try:
        phone = clean_mobile(phone_text)
    except ValueError as exc:
        errors["phone"] = exc.args[0]
    if channel == "email" and not email and "email" not in errors:
        errors["email"] = N_("Skriv din e-postadress, eller välj ett annat sätt att få aviseringar.")
    if channel == "sms" and not phone and "phone" not in errors:
        errors["phone"] = N_("Skriv ditt mobilnummer, eller välj ett annat sätt att få aviseringar.")
    if errors:
        raise AppError(422, next(iter(errors.values())), errors=errors)
    me = ctx.db.get(User, ctx.user.id)
    me.notice_channel, me.email, me.phone = channel, email, phone
    ctx.audit("patient.settings.update", patient_id=me.id)
    return me


def add_own_contact(ctx: Ctx, enrolment: Enrolment, data: ContactData) -> Contact:
    """A contact the patient adds to their own start page (the method support: "Patienten kan själv lägga
    till kontakter"); 422 with a message per field when something is not usable."""
    require_write(ctx, enrolment)
    cleaned, errors = check_contact(ContactData(data.name, data.role, data.phone, data.email, None, None,
                                                AuthorRole.patient))
    if len(enrolment.contacts) >= CONTACTS_MAX and not errors:
        errors["name"] = N_("Du kan ha högst %(limit)s kontakter.", limit=CONTACTS_MAX)
    if errors:
        raise AppError(422, next(iter(errors.values())), errors=errors)
    row = Contact(name=cleaned.name, role=cleaned.role, phone=cleaned.phone, email=cleaned.email,
                  added_by=AuthorRole.patient, position=len(enrolment.contacts))
    enrolment.contacts.append(row)
    ctx.db.flush()
    record(ctx, enrolment, EventKind.customised, f"Patienten lade till kontakten ”{cleaned.name}”.")
    ctx.audit("contact.create", enrolment, f"contact:{row.id}")
    return row


def remove_own_contact(ctx: Ctx, enrolment: Enrolment, contact_id: int) -> None:
    """Remove a contact the patient added themselves (those from the care staff stay)."""
    require_write(ctx, enrolment)
    row = next((c for c in enrolment.contacts if c.id == contact_id), None)
    if row is None or row.added_by != AuthorRole.patient:
        raise not_found()
    enrolment.contacts.remove(row)
    ctx.db.flush()
    record(ctx, enrolment, EventKind.customised, f"Patienten tog bort kontakten ”{row.name}”.")
    ctx.audit("contact.delete", enrolment, f"contact:{contact_id}")


def set_language(ctx: Ctx, enrolment: Enrolment, code: str) -> bool:
    """The patient's choice of language for one of their programs (issue 18); True when it changed.

    Only a language the enrolment's program version can be read in is accepted (422 otherwise).
    Reading is allowed in maintenance, so choosing the language is too. Recorded as an event
    for the therapist and in the access log, like other changes to an enrolment.
    """
    try:
        language = check_language(ctx.app.store, enrolment.program_id, enrolment.program_version, code)
    except LanguageRefused:
        message = N_("Välj ett språk i listan.")
        raise AppError(422, message, errors={"language": message}) from None
    if language == enrolment.language:
        return False
    before = enrolment.language
    package = ctx.app.store.get(enrolment.program_id, enrolment.program_version)
    welcome = enrolment.welcome_text if package is None else welcome_for_language(ctx, enrolment, package, language)
    ctx.db.execute(update(Enrolment).where(Enrolment.id == enrolment.id).values(language=language))
    if welcome != enrolment.welcome_text:
        # The default welcome text follows the language; only while it is still the text read here, so
        # that a welcome text the therapist saves meanwhile is never overwritten.
        ctx.db.execute(update(Enrolment).where(Enrolment.id == enrolment.id,
                                               Enrolment.welcome_text == enrolment.welcome_text)
                       .values(welcome_text=welcome))
    record(ctx, enrolment, EventKind.customised,
           f"Patienten bytte språk: {swedish_name(before)} → {swedish_name(language)}.")
    ctx.audit("enrolment.language.update", enrolment, f"language:{language}")
    return True
