"""Reviewing one enrolment (granska): open flags, the program tree with opened marks, every answer,
page comments with the therapist's replies, and registrations per activity plan.

Input: an enrolment of the session's unit (Action.enrolment_read) and its pinned package.
Output: one page, built from a fixed number of queries (flags, submissions, comments,
openings, registrations, the few messages and names the flags and comments need), and
one access-log row. The therapist's reply to a page comment is stored here too
(Action.message_write); the patient reads it under the form on the step page.

Must not: show drafts (unsent answers are the patient's own), or let anyone write to the
patient when the enrolment is not active (maintenance and ending close page comments).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import func, select

from runtime.enrolments import plan_definition, step_choices, step_visible
from runtime.forms import condition_met
from runtime.models import (
    AuthorRole,
    Enrolment,
    EnrolmentStatus,
    Flag,
    FlagKind,
    FormSubmission,
    Message,
    ModuleState,
    PageComment,
    Registration,
    StepOpening,
    User,
)
from runtime.packages import Package
from runtime.services.access import Action, allowed, enrolment_package, unit_enrolment
from runtime.services.flags import refresh_missed_flags
from runtime.services.messages import add_therapist_comment, comment_closed_reason
from runtime.services.patient import plan_goal
from runtime.staff.common import render_staff
from runtime.views import (
    FLAG_INFO,
    answer_text,
    day_text,
    plain_number,
    plan_results,
    scale_choices,
    schedule_text,
    score_summary,
    time_text,
)
from runtime.web import AppError, CsrfForm, Ctx, StaffDep, not_found, redirect

router = APIRouter(include_in_schema=False)

EXCERPT = 200
NOTICES = {
    "dold": "Flaggan är dold. Händelsen finns kvar i tidslinjen.",
    "redan-dold": "Flaggan var redan dold.",
    "kommenterat": "Din kommentar är sparad. Patienten ser den under formuläret.",
}


def excerpt(text: str, limit: int = EXCERPT) -> str:
    """The start of a text, on one line, cut at a word with an ellipsis."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return flat[:limit].rsplit(" ", 1)[0] + "…"


# --- view models ---------------------------------------------------------------------------------


@dataclass
class FlagItem:
    """An open flag with what it is about and where to read it."""

    id: int
    kind: str
    symbol: str
    label: str
    meaning: str
    when: str
    detail: str
    link: str
    link_text: str


@dataclass
class StepItem:
    """A step in the tree: opened or not, hidden or not, and its forms."""

    title: str
    opened: bool
    opened_text: str
    hidden: bool
    forms: list[tuple[str, str]]  # (form id, title)


@dataclass
class SectionItem:
    """A section (avsnitt) of a module."""

    title: str
    steps: list[StepItem] = field(default_factory=list)


@dataclass
class ModuleItem:
    """A module with its state for this patient."""

    id: str
    title: str
    state: str
    sections: list[SectionItem] = field(default_factory=list)
    opened: int = 0
    visible: int = 0
    current: bool = True


@dataclass
class ChoiceItem:
    """An option the patient had, and whether they chose it."""

    label: str
    chosen: bool
    points: str = ""


@dataclass
class AnswerItem:
    """One question of a submission: the question, the options, the answer."""

    question: str
    text: str
    choices: list[ChoiceItem] = field(default_factory=list)
    answered: bool = True
    note: str = ""
    scale: bool = False  # a scale's values are shown on one line


@dataclass
class SubmissionItem:
    """One submission of a form."""

    id: int
    when: str
    score: str
    band: str
    answers: list[AnswerItem]
    incomplete: str = ""  # why there is no sum: the scoring questions without an answer


@dataclass
class CommentItem:
    """A page comment, with its read receipt when the therapist wrote it."""

    id: int
    author: str
    by_patient: bool
    when: str
    body: str
    receipt: str


@dataclass
class FormItem:
    """A form: where it is, every submission (newest first), page comments and the reply box."""

    id: str
    title: str
    where: str
    submissions: list[SubmissionItem]
    page_comments: bool
    comments: list[CommentItem]
    scoring_note: str = ""
    reply_error: str | None = None
    reply_value: str = ""


@dataclass
class PlanItem:
    """An activity plan's settings and registrations."""

    id: int
    title: str
    status: str
    schedule: str
    headers: list[str]
    rows: list[Any]
    goal: str | None
    missed: int


# --- building the page ---------------------------------------------------------------------------


def _flag_items(ctx: Ctx, enrolment: Enrolment, flags: list[Flag], submissions: dict[int, FormSubmission],
                comments: dict[int, PageComment], package: Package) -> list[FlagItem]:
    tz = ctx.app.tz
    message_ids = [f.ref_id for f in flags if f.kind == FlagKind.message]
    messages = {m.id: m for m in ctx.db.scalars(select(Message).where(Message.id.in_(message_ids)))} \
        if message_ids else {}
    out = []
    for f in flags:
        info = FLAG_INFO[f.kind]
        detail, link, link_text = f.detail or "", "#handelser", "Visa"
        if f.kind == FlagKind.form_submitted:
            sub = submissions.get(f.ref_id)
            title = (package.form(sub.form_id) or {}).get("title", sub.form_id) if sub else (f.detail or "")
            detail = f"Formuläret ”{title}”"
            summary = score_summary(package.form(sub.form_id) or {}, sub.answers, sub.score, enrolment.scoring_sex) \
                if sub is not None else None
            if summary is not None and summary.incomplete:
                detail += ", poängen är ofullständig"
            elif summary is not None and summary.score:
                detail += f", {summary.score} poäng" + (f" ({summary.band})" if summary.band else "")
            detail += "."
            link, link_text = f"#svar-{f.ref_id}", "Läs svaren"
        elif f.kind == FlagKind.page_comment:
            comment = comments.get(f.ref_id)
            detail = f"Under formuläret ”{f.detail}”" + (f": ”{excerpt(comment.body)}”" if comment else ".")
            link, link_text = f"#kommentar-{f.ref_id}", "Läs kommentaren"
        elif f.kind == FlagKind.message:
            message = messages.get(f.ref_id)
            detail = f"Ämne: ”{f.detail}”" + (f". ”{excerpt(message.body)}”" if message else ".")
            link = (f"/personal/moment/{enrolment.id}/meddelanden/{message.thread_id}" if message is not None
                    else f"/personal/moment/{enrolment.id}/tidslinje#meddelande-{f.ref_id}")
            link_text = "Läs meddelandet"
        elif f.kind == FlagKind.missed_registration:
            detail = f"Inte registrerat i tid: {f.detail}." if f.detail else "Ett tillfälle registrerades inte i tid."
            link, link_text = f"#plan-{f.ref_id}", "Se registreringarna"
        out.append(FlagItem(f.id, f.kind.value, info.symbol, info.label, info.meaning, time_text(f.created_at, tz),
                            detail, link, link_text))
    return out


def _module_items(ctx: Ctx, enrolment: Enrolment, package: Package) -> list[ModuleItem]:
    tz = ctx.app.tz
    this_year = ctx.now.astimezone(tz).year
    openings = {(o.module_id, o.step_id): o for o in ctx.db.scalars(
        select(StepOpening).where(StepOpening.enrolment_id == enrolment.id))}
    choices = step_choices(enrolment)
    maintenance = enrolment.status == EnrolmentStatus.maintenance
    out = []
    for em in enrolment.modules:
        module = package.module(em.module_id)
        if module is None:
            continue
        current = em.state == ModuleState.current
        state = "Aktuell" if current else "Kommande (patienten ser den inte)"
        if current and maintenance and not em.in_maintenance:
            state = "Stängd under vidmakthållandet"
        item = ModuleItem(module["id"], module["title"], state, current=current)
        for section in module.get("sections", []):
            sec = SectionItem(section["title"])
            for step in section.get("steps", []):
                visible = step_visible(enrolment, module["id"], step, choices)
                opening = openings.get((module["id"], step["id"]))
                if opening is not None:
                    first = opening.first_opened_at.astimezone(tz)
                    text = f"Öppnad {day_text(first, tz, year=first.year != this_year)}"
                    if opening.times > 1:
                        last = opening.last_opened_at.astimezone(tz)
                        text += f", senast {day_text(last, tz, year=last.year != this_year)} ({opening.times} gånger)"
                else:
                    text = "Inte öppnad"
                forms = [(fid, (package.form(fid) or {}).get("title", fid)) for fid in step.get("forms", [])]
                sec.steps.append(StepItem(step["title"], opening is not None, text, not visible, forms))
                item.visible += visible
                item.opened += opening is not None
            item.sections.append(sec)
        out.append(item)
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return abs(a - b) < 1e-9
    return str(a) == str(b)


def answer_items(form: dict, answers: dict) -> list[AnswerItem]:
    """Each question of a submission with the options the patient had and what they chose."""
    scoring = set((form.get("scoring") or {}).get("questions", []))
    out = []
    for q in form["questions"]:
        if q["type"] == "display":
            continue
        given = answers.get(q["id"])
        answered = q["id"] in answers and given not in (None, "", [])
        item = AnswerItem(q["label"], answer_text(q, given) if answered else "Inte besvarad", answered=answered)
        if not answered and not condition_met(q, answers):
            item.text = "Inte besvarad: frågan visades inte, på grund av ett tidigare svar."
        if q["type"] in ("single", "multi"):
            chosen = given if isinstance(given, list) else [given]
            for o in q.get("options", []):
                points = f"{plain_number(o['points'])} poäng" if q["id"] in scoring and o.get("points") is not None else ""
                item.choices.append(ChoiceItem(o["label"], answered and any(_same(o["value"], c) for c in chosen),
                                               points))
        elif q["type"] == "scale":
            item.scale = True
            for value, _, label in scale_choices(q):
                item.choices.append(ChoiceItem(label, answered and _same(value, given)))
        if q["id"] in scoring:
            item.note = "Räknas in i poängen."
        out.append(item)
    return out


def _form_locations(package: Package) -> dict[str, str]:
    out: dict[str, str] = {}
    for module, _, step in package.steps():
        for fid in step.get("forms", []):
            out.setdefault(fid, f"{module['title']} › {step['title']}")
    return out


def _form_items(ctx: Ctx, enrolment: Enrolment, package: Package, modules: list[ModuleItem],
                submissions: list[FormSubmission], comments: list[PageComment],
                reply: dict[str, Any] | None) -> list[FormItem]:
    tz = ctx.app.tz
    subs_by_form: dict[str, list[FormSubmission]] = defaultdict(list)
    for s in submissions:
        subs_by_form[s.form_id].append(s)
    comments_by_form: dict[str, list[PageComment]] = defaultdict(list)
    for c in comments:
        comments_by_form[c.form_id].append(c)
    author_ids = {c.author_id for c in comments if c.author_role == AuthorRole.therapist and c.author_id}
    names = dict(ctx.db.execute(select(User.id, User.display_name).where(User.id.in_(author_ids))).all()) \
        if author_ids else {}
    # Forms the patient can reach now (in a current module's visible step), then any others with answers.
    order: list[str] = []
    for m in modules:
        if m.current:
            for sec in m.sections:
                for st in sec.steps:
                    order.extend(fid for fid, _ in st.forms if not st.hidden and fid not in order)
    order.extend(fid for fid in list(subs_by_form) + list(comments_by_form) if fid not in order)
    locations = _form_locations(package)
    out = []
    for fid in order:
        form = package.form(fid)
        if form is None:
            continue
        subs = []
        for s in subs_by_form.get(fid, []):
            summary = score_summary(form, s.answers, s.score, enrolment.scoring_sex)
            subs.append(SubmissionItem(s.id, time_text(s.submitted_at, tz), summary.score, summary.band,
                                       answer_items(form, s.answers), summary.incomplete))
        cs = []
        for c in comments_by_form.get(fid, []):
            by_patient = c.author_role == AuthorRole.patient
            author = "Patienten" if by_patient else f"Behandlare {names.get(c.author_id, '')}".strip()
            receipt = "" if by_patient else (f"Läst av patienten {time_text(c.read_at, tz)}" if c.read_at
                                             else "Inte läst av patienten än")
            cs.append(CommentItem(c.id, author, by_patient, time_text(c.created_at, tz), c.body, receipt))
        item = FormItem(fid, form["title"], locations.get(fid, ""), subs, bool(form.get("page_comments")), cs,
                        scoring_note=(form.get("scoring") or {}).get("note") or "")
        if reply is not None and reply.get("form_id") == fid:
            item.reply_error, item.reply_value = reply.get("error"), reply.get("value", "")
        out.append(item)
    return out


def _plan_items(ctx: Ctx, enrolment: Enrolment, package: Package) -> list[PlanItem]:
    tz = ctx.app.tz
    plans = list(enrolment.plans)
    if not plans:
        return []
    regs: dict[int, list[Registration]] = defaultdict(list)
    for r in ctx.db.scalars(select(Registration).where(Registration.plan_id.in_([p.id for p in plans]))
                            .order_by(Registration.occasion_at)):
        regs[r.plan_id].append(r)
    missed = dict(ctx.db.execute(select(Flag.ref_id, func.count()).where(
        Flag.enrolment_id == enrolment.id, Flag.kind == FlagKind.missed_registration)
        .group_by(Flag.ref_id)).all())
    out = []
    for p in plans:
        definition = plan_definition(p, package)
        if definition is None:
            continue
        if not p.activated:
            status = "Inte aktiverad: patienten ser inte planen."
        elif p.start_date is None:
            status = "Aktiverad, men utan startdatum: patienten ser inte planen än."
        else:
            status = f"Aktiverad, startar {day_text(p.start_date, tz)}."
        if p.flag_missed:
            status += " Flaggar missade tillfällen."
        sched = schedule_text(p.days, p.repeat_every_weeks, None) if p.days else "Inget schema."
        headers, rows, _, _, _, goal = plan_results(definition, regs.get(p.id, []),
                                                    plan_goal(ctx, enrolment, definition), tz, f"diagram-{p.id}")
        out.append(PlanItem(p.id, definition.get("title", "Aktivitetsplan"), status, sched, headers, rows, goal,
                            missed.get(p.id, 0)))
    return out


def review_values(ctx: Ctx, enrolment: Enrolment, package: Package, reply: dict[str, Any] | None = None
                  ) -> dict[str, Any]:
    """Everything the review page shows (`reply`: a rejected reply to show again with its error)."""
    submissions = list(ctx.db.scalars(select(FormSubmission).where(FormSubmission.enrolment_id == enrolment.id)
                                      .order_by(FormSubmission.submitted_at.desc(), FormSubmission.id.desc())))
    comments = list(ctx.db.scalars(select(PageComment).where(PageComment.enrolment_id == enrolment.id)
                                   .order_by(PageComment.created_at, PageComment.id)))
    flags = list(ctx.db.scalars(select(Flag).where(Flag.enrolment_id == enrolment.id, Flag.hidden_at.is_(None))
                                .order_by(Flag.created_at.desc(), Flag.id.desc())))
    modules = _module_items(ctx, enrolment, package)
    can_write = allowed(ctx, Action.message_write, enrolment)
    closed = comment_closed_reason(ctx, enrolment)
    errors = []
    if reply is not None and reply.get("error"):
        errors.append((f"ny-kommentar-{reply['form_id']}", reply["error"]))
    return dict(
        enrolment=enrolment, package=package, tab="granska",
        flags=_flag_items(ctx, enrolment, flags, {s.id: s for s in submissions}, {c.id: c for c in comments},
                          package),
        can_hide=allowed(ctx, Action.flag_hide, enrolment), modules=modules,
        forms=_form_items(ctx, enrolment, package, modules, submissions, comments, reply),
        plans=_plan_items(ctx, enrolment, package),
        can_reply=can_write and closed is None,
        reply_refusal=closed or ("" if can_write else "Bara patientens behandlare skriver till patienten."),
        errors=errors)


def _render(ctx: Ctx, enrolment: Enrolment, package: Package, status: int = 200, notice: str | None = None,
            reply: dict[str, Any] | None = None) -> Response:
    values = review_values(ctx, enrolment, package, reply)
    title = ("Fel: " if values["errors"] else "") + f"Granska – {enrolment.patient.display_name}"
    return render_staff(ctx, "staff/review.html", current="oversikt", status=status, title=title, notice=notice,
                        **values)


@router.get("/personal/moment/{eid:int}")
def review_page(eid: int, ctx: StaffDep) -> Response:
    """The review: open flags, the tree with opened marks, answers, comments and registrations."""
    refresh_missed_flags(ctx, ctx.session.unit_id)
    enrolment = unit_enrolment(ctx, eid, Action.enrolment_read)
    package = enrolment_package(ctx, enrolment)
    ctx.audit("enrolment.review", enrolment)
    notice = next((text for key, text in NOTICES.items() if key in ctx.request.query_params), None)
    return _render(ctx, enrolment, package, notice=notice)


@router.post("/personal/moment/{eid}/formular/{form_id}/kommentarer")
def reply_comment(eid: int, form_id: str, ctx: StaffDep, form: CsrfForm) -> Response:
    """The therapist's page comment under a form (the patient sees it on the step page)."""
    enrolment = unit_enrolment(ctx, eid, Action.message_write)
    package = enrolment_package(ctx, enrolment)
    definition = package.form(form_id)
    if definition is None or not definition.get("page_comments"):
        raise not_found()
    text = ((form.get("body") or [""])[0]).replace("\r\n", "\n").strip()
    try:
        row = add_therapist_comment(ctx, enrolment, form_id, text)
    except AppError as exc:
        if exc.status != 422:
            raise
        ctx.audit("enrolment.review", enrolment)
        return _render(ctx, enrolment, package, status=422, notice=None,
                       reply={"form_id": form_id, "error": exc.message,
                              "value": text[:ctx.app.settings.max_text_length * 2]})
    return redirect(f"/personal/moment/{enrolment.id}?kommenterat=1#kommentar-{row.id}")
