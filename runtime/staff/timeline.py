"""The timeline of one enrolment (tidslinje) and its plain-text summary for the medical record.

Input: an enrolment of the session's unit (Action.enrolment_read) and its package.
Output: every event in time order — lifecycle events, first openings of steps, form
submissions, page comments, messages both ways with read receipts, registrations,
flags raised and hidden, notifications sent — filterable by kind with GET parameters
(works without JavaScript), newest or oldest first; and a summary in plain Swedish a
therapist can paste into the record, as a page and as text/plain (`?format=text`).

Must not: put a personnummer in the summary (the record already knows the patient),
or change anything: reading only, with one access-log row per page.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy import select

from runtime.enrolments import plan_definition, step_choices, step_visible
from runtime.models import (
    AuthorRole,
    Enrolment,
    EnrolmentEvent,
    EnrolmentStatus,
    EventKind,
    Flag,
    FormSubmission,
    Message,
    MessageThread,
    NoticeChannel,
    Notification,
    PageComment,
    Registration,
    StepOpening,
    Unit,
    User,
)
from runtime.packages import Package
from runtime.schedule import format_day, format_local
from runtime.services.access import Action, enrolment_package, unit_enrolment
from runtime.services.patient import plan_goal
from runtime.staff.common import render_staff
from runtime.views import FLAG_INFO, answer_text, day_text, fmt_number, time_text
from runtime.web import Ctx, RequestCtx, StaffDep

router = APIRouter(include_in_schema=False)

#: Filter key -> label, in the order the filter shows them.
KINDS = {
    "moment": "Momentet",
    "steg": "Öppnade steg",
    "formular": "Formulär",
    "kommentarer": "Sidkommentarer",
    "meddelanden": "Meddelanden",
    "registreringar": "Registreringar",
    "flaggor": "Flaggor",
    "aviseringar": "Aviseringar",
}

EVENT_TITLES = {
    EventKind.started: "Momentet startades",
    EventKind.customised: "Momentet anpassades",
    EventKind.therapist_changed: "Ny behandlare",
    EventKind.handed_over: "Momentet lämnades över till en annan vårdenhet",
    EventKind.linked: "Momentet länkades",
    EventKind.unlinked: "Länken till ett annat moment togs bort",
    EventKind.version_moved: "Momentet flyttades till en ny version",
    EventKind.plan_changed: "En aktivitetsplan ändrades",
    EventKind.maintenance: "Vidmakthållande började",
    EventKind.ended: "Momentet avslutades",
    EventKind.notified: "Avisering",
}
CHANNELS = {NoticeChannel.email: "e-post", NoticeChannel.sms: "sms"}
STATUS = {EnrolmentStatus.active: "Pågående", EnrolmentStatus.maintenance: "Vidmakthålls",
          EnrolmentStatus.ended: "Avslutat"}


@dataclass
class TimelineEvent:
    """One thing that happened, ready for the page."""

    at: datetime
    kind: str
    title: str
    body: str = ""
    meta: list[str] = field(default_factory=list)
    anchor: str = ""
    link: str = ""
    link_text: str = ""
    when: str = ""
    iso: str = ""

    @property
    def kind_label(self) -> str:
        """The filter kind in words."""
        return KINDS[self.kind]


@dataclass
class Loaded:
    """An enrolment's rows, read once for the timeline and the summary."""

    events: list[EnrolmentEvent]
    openings: list[StepOpening]
    submissions: list[FormSubmission]
    comments: list[PageComment]
    messages: list[tuple[Message, str]]  # (message, thread subject)
    registrations: list[Registration]
    flags: list[Flag]
    notifications: list[Notification]
    names: dict[int, str]


def load(ctx: Ctx, enrolment: Enrolment) -> Loaded:
    """Every row the timeline shows (one query per kind, one for the people's names)."""
    eid = enrolment.id
    plan_ids = [p.id for p in enrolment.plans]
    data = Loaded(
        events=list(ctx.db.scalars(select(EnrolmentEvent).where(EnrolmentEvent.enrolment_id == eid))),
        openings=list(ctx.db.scalars(select(StepOpening).where(StepOpening.enrolment_id == eid))),
        submissions=list(ctx.db.scalars(select(FormSubmission).where(FormSubmission.enrolment_id == eid))),
        comments=list(ctx.db.scalars(select(PageComment).where(PageComment.enrolment_id == eid))),
        messages=[(m, s) for m, s in ctx.db.execute(select(Message, MessageThread.subject).join(MessageThread)
                                                     .where(MessageThread.enrolment_id == eid))],
        registrations=list(ctx.db.scalars(select(Registration).where(Registration.plan_id.in_(plan_ids))))
        if plan_ids else [],
        flags=list(ctx.db.scalars(select(Flag).where(Flag.enrolment_id == eid))),
        notifications=list(ctx.db.scalars(select(Notification).where(Notification.enrolment_id == eid))),
        names={})
    ids = {e.actor_id for e in data.events} | {c.author_id for c in data.comments} \
        | {m.sender_id for m, _ in data.messages} | {f.hidden_by for f in data.flags} \
        | {n.recipient_id for n in data.notifications} | {enrolment.started_by, enrolment.ended_by}
    ids.discard(None)
    if ids:
        data.names = dict(ctx.db.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all())
    return data


def _name(data: Loaded, user_id: int | None, fallback: str = "okänd") -> str:
    return data.names.get(user_id, fallback) if user_id is not None else fallback


def _step_titles(package: Package) -> dict[tuple[str, str], tuple[str, str]]:
    return {(m["id"], s["id"]): (s["title"], m["title"]) for m, _, s in package.steps()}


def timeline_events(ctx: Ctx, enrolment: Enrolment, package: Package, data: Loaded) -> list[TimelineEvent]:
    """Every event of the enrolment, oldest first."""
    tz = ctx.app.tz
    base = f"/personal/moment/{enrolment.id}"
    out: list[TimelineEvent] = []
    kinds = {e.kind for e in data.events}
    if EventKind.started not in kinds:  # enrolments started before events were recorded
        by = _name(data, enrolment.started_by, "")
        out.append(TimelineEvent(enrolment.started_at, "moment", EVENT_TITLES[EventKind.started],
                                 meta=[f"Av {by}"] if by else []))
    if enrolment.ended_at is not None and EventKind.ended not in kinds:
        out.append(TimelineEvent(enrolment.ended_at, "moment", EVENT_TITLES[EventKind.ended],
                                 body=enrolment.end_reason or ""))
    if enrolment.maintenance_started_at is not None and EventKind.maintenance not in kinds:
        out.append(TimelineEvent(enrolment.maintenance_started_at, "moment", EVENT_TITLES[EventKind.maintenance]))
    for e in data.events:
        meta = [f"Av {_name(data, e.actor_id)}"] if e.actor_id is not None else []
        out.append(TimelineEvent(e.at, "moment", EVENT_TITLES.get(e.kind, e.kind.value), body=e.detail, meta=meta,
                                 anchor=f"handelse-{e.id}"))
    steps = _step_titles(package)
    for o in data.openings:
        step, module = steps.get((o.module_id, o.step_id), (o.step_id, o.module_id))
        meta = [f"Modul: {module}"]
        if o.times > 1:
            meta.append(f"Öppnat {o.times} gånger, senast {time_text(o.last_opened_at, tz)}")
        out.append(TimelineEvent(o.first_opened_at, "steg", f"Patienten öppnade steget ”{step}”", meta=meta))
    for s in data.submissions:
        title = (package.form(s.form_id) or {}).get("title", s.form_id)
        meta = []
        if s.score is not None:
            meta.append(f"Poäng {fmt_number(s.score)}" + (f" ({s.score_band})" if s.score_band else ""))
        out.append(TimelineEvent(s.submitted_at, "formular", f"Patienten skickade in formuläret ”{title}”", meta=meta,
                                 anchor=f"svar-{s.id}", link=f"{base}#svar-{s.id}", link_text="Läs svaren"))
    for c in data.comments:
        title = (package.form(c.form_id) or {}).get("title", c.form_id)
        if c.author_role == AuthorRole.patient:
            who, meta = "Patienten", []
        else:
            who = f"Behandlare {_name(data, c.author_id, '')}".strip()
            meta = [f"Läst av patienten {time_text(c.read_at, tz)}" if c.read_at else "Inte läst av patienten än"]
        out.append(TimelineEvent(c.created_at, "kommentarer", f"{who} kommenterade under ”{title}”", body=c.body,
                                 meta=meta, anchor=f"kommentar-{c.id}", link=f"{base}#kommentar-{c.id}",
                                 link_text="Visa vid formuläret"))
    for m, subject in data.messages:
        if m.sender_role == AuthorRole.patient:
            title = f"Meddelande från patienten: ”{subject}”"
            meta = [f"Läst av behandlaren {time_text(m.read_at, tz)}" if m.read_at else "Inte läst av behandlaren än"]
        else:
            title = f"Meddelande från {_name(data, m.sender_id, 'vården')}: ”{subject}”"
            meta = [f"Läst av patienten {time_text(m.read_at, tz)}" if m.read_at else "Inte läst av patienten än"]
            if m.notify:
                meta.append("Patienten aviserades")
        out.append(TimelineEvent(m.created_at, "meddelanden", title, body=m.body, meta=meta,
                                 anchor=f"meddelande-{m.id}", link=f"{base}/meddelanden/{m.thread_id}",
                                 link_text="Öppna tråden"))
    plans = {p.id: p for p in enrolment.plans}
    for r in data.registrations:
        plan = plans.get(r.plan_id)
        definition = (plan_definition(plan, package) if plan is not None else None) or {"title": "", "fields": []}
        values = [f"{f['label']}: {answer_text(f, r.values[f['id']])}" for f in definition.get("fields", [])
                  if f.get("type") != "display" and f["id"] in r.values]
        out.append(TimelineEvent(r.registered_at, "registreringar",
                                 f"Patienten registrerade i ”{definition.get('title') or 'Aktivitetsplan'}”",
                                 body=r.comment or "",
                                 meta=[f"Tillfälle {format_local(r.occasion_at, tz)}", *values],
                                 link=f"{base}#plan-{r.plan_id}", link_text="Alla registreringar"))
    for f in data.flags:
        info = FLAG_INFO[f.kind]
        out.append(TimelineEvent(f.created_at, "flaggor", f"Flagga: {info.label}", meta=[f.detail] if f.detail else [],
                                 anchor=f"flagga-{f.id}"))
        if f.hidden_at is not None:
            out.append(TimelineEvent(f.hidden_at, "flaggor", f"Flagga dold: {info.label}",
                                     meta=[f"Av {_name(data, f.hidden_by)}"]))
    for n in data.notifications:
        who = "patienten" if n.recipient_id == enrolment.patient_id else _name(data, n.recipient_id)
        if n.sent_at is not None:
            state = f"Skickad {time_text(n.sent_at, tz)}"
        elif n.error:
            state = f"Kunde inte skickas: {n.error}"
        else:
            state = "Inte skickad än"
        out.append(TimelineEvent(n.created_at, "aviseringar", f"Avisering via {CHANNELS[n.channel]} till {who}",
                                 body=n.subject, meta=[state]))
    for e in out:
        e.when, e.iso = time_text(e.at, tz), e.at.isoformat()
    out.sort(key=lambda e: e.at)
    return out


# --- the summary ---------------------------------------------------------------------------------


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def summary_text(ctx: Ctx, enrolment: Enrolment, package: Package, data: Loaded) -> str:
    """A plain-text summary of the enrolment for the medical record (Swedish, no personnummer)."""
    tz = ctx.app.tz
    lines = ["Sammanfattning av moment i Stegvis", f"Sammanställd: {format_local(ctx.now, tz)}", ""]
    unit = ctx.db.get(Unit, enrolment.unit_id)
    therapist = ctx.db.get(User, enrolment.therapist_id) if enrolment.therapist_id else None
    status = STATUS[enrolment.status]
    if enrolment.status == EnrolmentStatus.maintenance and enrolment.maintenance_until:
        status += f" till och med {format_day(enrolment.maintenance_until)}"
    if enrolment.status == EnrolmentStatus.ended and enrolment.ended_at:
        status += f" {format_day(enrolment.ended_at.astimezone(tz).date())}"
        if enrolment.end_reason:
            status += f". Orsak: {' '.join(enrolment.end_reason.split())}"
    lines += [f"Patient: {enrolment.patient.display_name}",
              f"Program: {package.title}, version {enrolment.program_version}",
              f"Vårdenhet: {unit.name if unit else ''}",
              f"Behandlare: {therapist.display_name if therapist else 'ingen'}",
              f"Startat: {format_day(enrolment.started_at.astimezone(tz).date())}",
              f"Status: {status}",
              f"Senast inloggad: {time_text(enrolment.patient.last_login_at, tz) or 'aldrig'}", ""]
    lines += _summary_modules(enrolment, package, data)
    lines += _summary_forms(ctx, package, data)
    lines += _summary_plans(ctx, enrolment, package, data)
    from_patient = sum(1 for m, _ in data.messages if m.sender_role == AuthorRole.patient)
    lines.append(f"Meddelanden: {len(data.messages)} ({from_patient} från patienten, "
                 f"{len(data.messages) - from_patient} från vården).")
    by_patient = sum(1 for c in data.comments if c.author_role == AuthorRole.patient)
    lines.append(f"Sidkommentarer: {len(data.comments)} ({by_patient} från patienten, "
                 f"{len(data.comments) - by_patient} från vården).")
    lines += _summary_journal(ctx, enrolment, package)
    # Plain spaces: a record system may not take the no-break spaces of "6 500" well.
    return "\n".join(lines).replace("\xa0", " ") + "\n"


JOURNAL_WHEN = {"start": "Vid start", "review": "Vid granskning", "end": "Vid vidmakthållande eller avslut"}


def _summary_journal(ctx: Ctx, enrolment: Enrolment, package: Package) -> list[str]:
    """The region's wording and codes for the record (program.yaml `administration.journal`, issue #15).

    The text that fits the enrolment comes first: the end text once it is in maintenance
    or ended, the start text on the day it started, else the review text.
    """
    admin = package.data.program.administration
    journal = admin.journal if admin else None
    if journal is None:
        return []
    notes = {key: getattr(journal.notes, key) for key in JOURNAL_WHEN if getattr(journal.notes, key)}
    if enrolment.status != EnrolmentStatus.active:
        fits = "end"
    elif enrolment.started_at.astimezone(ctx.app.tz).date() == ctx.now.astimezone(ctx.app.tz).date():
        fits = "start"
    else:
        fits = "review"
    lines = ["", f"Journalföring enligt {package.data.program.publisher}:"]
    if fits in notes:
        lines.append(f"Text till journalen: {' '.join(notes[fits].split())}")
    others = [f"- {JOURNAL_WHEN[k]}: {' '.join(v.split())}" for k, v in notes.items() if k != fits]
    if others:
        lines += ["Andra texter:"] + others
    if journal.codes:
        lines.append("Koder:")
        lines += [f"- {c.system + ' ' if c.system else ''}{c.code}: {' '.join(c.text.split())}" for c in journal.codes]
    if journal.note_template:
        lines.append(f"Anvisning: {' '.join(journal.note_template.split())}")
    return lines


def _summary_modules(enrolment: Enrolment, package: Package, data: Loaded) -> list[str]:
    opened = Counter(o.module_id for o in data.openings)
    submitted = {s.module_id for s in data.submissions if s.module_id}
    choices = step_choices(enrolment)
    lines = ["Moduler som patienten har arbetat i:"]
    for em in enrolment.modules:
        module = package.module(em.module_id)
        if module is None or (not opened.get(em.module_id) and em.module_id not in submitted):
            continue
        visible = sum(1 for sec in module.get("sections", []) for s in sec.get("steps", [])
                      if step_visible(enrolment, module["id"], s, choices))
        lines.append(f"- {module['title']}: {opened.get(em.module_id, 0)} av {visible} steg öppnade.")
    if len(lines) == 1:
        lines.append("- Inga ännu.")
    return lines + [""]


def _summary_forms(ctx: Ctx, package: Package, data: Loaded) -> list[str]:
    tz = ctx.app.tz
    by_form: dict[str, list[FormSubmission]] = defaultdict(list)
    for s in sorted(data.submissions, key=lambda s: (s.submitted_at, s.id), reverse=True):
        by_form[s.form_id].append(s)
    lines = ["Formulär:"]
    for fid, subs in by_form.items():
        title = (package.form(fid) or {}).get("title", fid)
        parts = []
        for s in subs:
            text = day_text(s.submitted_at, tz)
            if s.score is not None:
                text += f" ({fmt_number(s.score)} poäng" + (f", {s.score_band})" if s.score_band else ")")
            parts.append(text)
        lines.append(f"- {title}: inskickat {_plural(len(subs), 'gång', 'gånger')}, senast först: "
                     + "; ".join(parts) + ".")
    if len(lines) == 1:
        lines.append("- Inga inskickade.")
    return lines + [""]


def _summary_plans(ctx: Ctx, enrolment: Enrolment, package: Package, data: Loaded) -> list[str]:
    tz = ctx.app.tz
    regs: dict[int, list[Registration]] = defaultdict(list)
    for r in sorted(data.registrations, key=lambda r: r.occasion_at):
        regs[r.plan_id].append(r)
    missed = Counter(f.ref_id for f in data.flags if f.kind.value == "missed_registration")
    lines = ["Aktivitetsplaner:"]
    for plan in enrolment.plans:
        definition = plan_definition(plan, package)
        rows = regs.get(plan.id, [])
        if definition is None or (not plan.activated and not rows):
            continue
        text = f"- {definition.get('title', 'Aktivitetsplan')}: {_plural(len(rows), 'registrering', 'registreringar')}"
        results: dict[str, Any] = definition.get("results") or {}
        field_def = next((f for f in definition.get("fields", []) if f["id"] == results.get("field")), None)
        if rows and field_def is not None and field_def["id"] in rows[-1].values:
            latest = rows[-1]
            text += (f", senaste värde {answer_text(field_def, latest.values[field_def['id']])} "
                     f"({day_text(latest.occasion_at, tz)})")
        goal = plan_goal(ctx, enrolment, definition)
        if goal is not None:
            unit = field_def.get("unit") if field_def else None
            text += f", mål {fmt_number(goal)}{f' {unit}' if unit else ''}"
        if missed.get(plan.id):
            text += f". Missade tillfällen: {missed[plan.id]}"
        lines.append(text + ".")
    if len(lines) == 1:
        lines.append("- Inga aktiverade.")
    return lines + [""]


# --- pages ---------------------------------------------------------------------------------------


def _filters(ctx: RequestCtx) -> tuple[list[str], bool, str | None]:
    asked = ctx.request.query_params.getlist("visa")
    chosen = [k for k in KINDS if k in asked]
    unknown = [k for k in asked if k not in KINDS]
    notice = "Okänd händelsetyp i filtret; den hoppades över." if unknown else None
    oldest = ctx.request.query_params.get("ordning") == "aldst"
    return chosen or list(KINDS), oldest, notice


@router.get("/personal/moment/{eid}/tidslinje")
def timeline_page(eid: int, ctx: StaffDep) -> Response:
    """Every event of the enrolment, filtered by kind, newest (or oldest) first, and the summary."""
    enrolment = unit_enrolment(ctx, eid, Action.enrolment_read)
    package = enrolment_package(ctx, enrolment)
    data = load(ctx, enrolment)
    events = timeline_events(ctx, enrolment, package, data)
    chosen, oldest, notice = _filters(ctx)
    counts = Counter(e.kind for e in events)
    shown = [e for e in events if e.kind in chosen]
    if not oldest:
        shown.reverse()
    ctx.audit("enrolment.timeline", enrolment)
    return render_staff(ctx, "staff/timeline.html", current="oversikt",
                        title=f"Tidslinje – {enrolment.patient.display_name}", enrolment=enrolment, package=package,
                        tab="tidslinje", events=shown, kinds=[(k, label, counts.get(k, 0), k in chosen)
                                                              for k, label in KINDS.items()],
                        oldest=oldest, notice=notice, summary=summary_text(ctx, enrolment, package, data),
                        summary_only=False, total=len(events))


@router.get("/personal/moment/{eid}/sammanfattning")
def summary_page(eid: int, ctx: StaffDep) -> Response:
    """The plain-text summary for the medical record: a page, or text/plain with ?format=text."""
    enrolment = unit_enrolment(ctx, eid, Action.enrolment_read)
    package = enrolment_package(ctx, enrolment)
    text = summary_text(ctx, enrolment, package, load(ctx, enrolment))
    ctx.audit("enrolment.summary", enrolment)
    if ctx.request.query_params.get("format") == "text":
        return PlainTextResponse(text, media_type="text/plain; charset=utf-8")
    return render_staff(ctx, "staff/timeline.html", current="oversikt",
                        title=f"Sammanfattning – {enrolment.patient.display_name}", enrolment=enrolment,
                        package=package, tab="tidslinje", events=[], kinds=[], oldest=False, summary=text,
                        summary_only=True, total=0)
