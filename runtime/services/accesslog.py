"""The patient's own access log in plain Swedish sentences (issue 15, point 7).

Input: access-log rows about the patient (runtime.audit.log_extract) and the packages
of their enrolments. Output: one sentence per row, newest first, a page at a time:
"Tove Lind, behandlare, läste ditt svar på Min rörelse." Staff are named with their
role in the unit the row was written in; the patient is "Du". Forms, steps, plans and
threads are named by their titles when they can still be found, else in general words.

Must not: name a member of staff for an id that belonged to someone else at the time
(ids may be given anew after a purge), or show another patient's anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from runtime.context import Ctx
from runtime.enrolments import plan_definition
from runtime.models import AccessLogEntry, Enrolment, EnrolmentPlan, MessageThread, Role, UnitRole, User, UserKind

PAGE_SIZE = 25
#: Role words in a sentence, most telling first.
ROLE_WORDS = {Role.therapist: "behandlare", Role.data_admin: "dataadministratör",
              Role.citizen_admin: "invånaradministratör", Role.access_admin: "behörighetsadministratör"}
#: What someone did, as the patient reads it; {} is what it was about ("Min rörelse"), or `general`.
SENTENCES: dict[str, tuple[str, str]] = {
    "enrolment.list": ("visade listan över dina program", ""),
    "enrolment.read": ("läste ditt program", ""),
    "enrolment.create": ("startade ditt program", ""),
    "enrolment.duplicate_check": ("kontrollerade om du redan har programmet", ""),
    "enrolment.customise": ("anpassade ditt program", ""),
    "enrolment.preview": ("tittade på ditt program så som du ser det", ""),
    "enrolment.review": ("läste dina svar, kommentarer och registreringar", ""),
    "enrolment.summary": ("tog fram en sammanfattning av ditt program till journalen", ""),
    "enrolment.timeline": ("läste tidslinjen för ditt program", ""),
    "enrolment.maintenance": ("satte ditt program i vidmakthållande", ""),
    "enrolment.end": ("avslutade ditt program", ""),
    "enrolment.handover": ("lämnade över ditt program till en annan vårdenhet", ""),
    "enrolment.therapist_change": ("bytte behandlare i ditt program", ""),
    "enrolment.link": ("länkade ihop två av dina program", ""),
    "enrolment.unlink": ("tog bort länken mellan två av dina program", ""),
    "enrolment.version_move": ("flyttade ditt program till en ny version", ""),
    "step.open": ("öppnade steget {}", "ett steg"),
    "step.read": ("läste steget {}", "ett steg"),
    "step.preview": ("tittade på steget {}", "ett steg"),
    "form.read": ("läste ditt svar på {}", "ett formulär"),
    "form.draft.save": ("sparade ett utkast till {}", "ett formulär"),
    "form.submit": ("skickade in svar på {}", "ett formulär"),
    "comment.read": ("läste kommentarerna till {}", "ett formulär"),
    "comment.create": ("skrev en kommentar till {}", "ett formulär"),
    "plan.list": ("tittade på dina aktivitetsplaner", ""),
    "plan.read": ("läste aktivitetsplanen {}", "en aktivitetsplan"),
    "plan.create": ("skapade aktivitetsplanen {}", "en aktivitetsplan"),
    "plan.edit": ("ändrade aktivitetsplanen {}", "en aktivitetsplan"),
    "plan.customise": ("ändrade schemat för aktivitetsplanen {}", "en aktivitetsplan"),
    "plan.reset": ("återställde aktivitetsplanen {}", "en aktivitetsplan"),
    "registration.create": ("registrerade i aktivitetsplanen {}", "en aktivitetsplan"),
    "inbox.read": ("läste listan över dina meddelanden", ""),
    "message.read": ("läste dina meddelanden", ""),
    "thread.read": ("läste meddelandena i {}", "en meddelandetråd"),
    "message.compose": ("började skriva ett meddelande", ""),
    "message.create": ("skickade ett meddelande", ""),
    "notice.create": ("skickade en avisering till dig", ""),
    "flag.hide": ("markerade en händelse som granskad", ""),
    "log.extract": ("tog ut ett loggutdrag om dig", ""),
    "account.sessions.read": ("tittade på var du är inloggad", ""),
    "account.sessions.end_others": ("loggade ut dig överallt annars", ""),
    "account.password.change": ("bytte lösenord", ""),
    "account.settings.read": ("tittade på dina inställningar", ""),
    "patient.contact.update": ("ändrade var du får aviseringar", ""),
    "patient.settings.update": ("ändrade dina inställningar för aviseringar", ""),
    "contact.create": ("lade till en kontakt", ""),
    "contact.delete": ("tog bort en kontakt", ""),
    "purge.enrolment": ("gallrade ditt program", ""),
    "purge.category": ("gallrade en del av ditt program", ""),
    "purge.person": ("gallrade dina personuppgifter", ""),
}

#: The patient's own doings, where the words differ ("Du öppnade startsidan …").
SELF_SENTENCES = {"enrolment.read": "öppnade startsidan i ditt program", "inbox.read": "öppnade dina meddelanden",
                  "log.extract": "tittade på den här loggen", "thread.read": "läste {}",
                  "form.read": "öppnade {}"}


@dataclass(frozen=True)
class LogLine:
    """One row of the patient's log: when (for <time>), when in words, the sentence."""

    at: str
    when: str
    sentence: str


@dataclass(frozen=True)
class LogPage:
    """A page of the log, newest first."""

    lines: list[LogLine]
    page: int
    pages: int
    total: int


class _Names:
    """Titles of what rows are about, looked up once per page."""

    def __init__(self, ctx: Ctx, entries: list[AccessLogEntry], subject_ids: set[int]) -> None:
        self.ctx, self.subject_ids = ctx, subject_ids
        actor_ids = {e.actor_id for e in entries if e.actor_id is not None and e.actor_role == "staff"}
        self.users = {u.id: u for u in ctx.db.scalars(select(User).where(User.id.in_(actor_ids)))} if actor_ids else {}
        self.roles: dict[tuple[int, int], set[Role]] = {}
        if actor_ids:
            for row in ctx.db.scalars(select(UnitRole).where(UnitRole.user_id.in_(actor_ids))):
                self.roles.setdefault((row.user_id, row.unit_id), set()).add(row.role)
        enrolment_ids = {e.enrolment_id for e in entries if e.enrolment_id is not None}
        self.enrolments = {e.id: e for e in ctx.db.scalars(select(Enrolment).where(Enrolment.id.in_(enrolment_ids)))
                           if e.patient_id in subject_ids} if enrolment_ids else {}

    def who(self, entry: AccessLogEntry) -> str:
        if entry.actor_role == "patient" and entry.actor_id in self.subject_ids:
            return "Du"
        user = self.users.get(entry.actor_id) if entry.actor_id is not None else None
        if entry.actor_role != "staff" or user is None or user.kind != UserKind.staff or user.created_at > entry.at:
            return "Någon i vården" if entry.actor_role == "staff" else "Någon som inte var inloggad"
        mine = self.roles.get((user.id, entry.unit_id), set())
        word = next((w for role, w in ROLE_WORDS.items() if role in mine), "vårdpersonal")
        return f"{user.display_name}, {word},"

    def about(self, entry: AccessLogEntry) -> str | None:
        head, _, rest = (entry.target or "").partition(":")
        enrolment = self.enrolments.get(entry.enrolment_id) if entry.enrolment_id is not None else None
        package = self.ctx.app.store.get(enrolment.program_id, enrolment.program_version) if enrolment else None
        if head == "form" and package is not None and (form := package.form(rest)) is not None:
            return form["title"]
        if head == "step" and package is not None:
            found = package.step(*rest.split("/", 1)) if "/" in rest else None
            return found[2]["title"] if found else None
        if head == "plan" and rest.isdigit() and enrolment is not None:
            plan = self.ctx.db.get(EnrolmentPlan, int(rest))
            if plan is not None and plan.enrolment_id == enrolment.id and package is not None:
                return (plan_definition(plan, package) or {}).get("title")
        if head == "thread" and rest.isdigit() and enrolment is not None:
            thread = self.ctx.db.get(MessageThread, int(rest))
            if thread is not None and thread.enrolment_id == enrolment.id:
                return f"tråden ”{thread.subject}”"
        return None


def sentence(names: _Names, entry: AccessLogEntry) -> str:
    """The row as a sentence: "Tove Lind, behandlare, läste ditt svar på Min rörelse."."""
    what, general = SENTENCES.get(entry.action, ("", ""))
    who = names.who(entry)
    if who == "Du":
        what = SELF_SENTENCES.get(entry.action, what)
    if not what:
        what = f"gjorde något som loggas som ”{entry.action}”"
    elif "{}" in what:
        what = what.format(names.about(entry) or general)
    return f"{who} {what}."


def log_page(ctx: Ctx, entries: list[AccessLogEntry], subject_ids: set[int], page: int,
             when: Callable[[datetime], str]) -> LogPage:
    """Page `page` (1-based; clamped) of the rows, newest first, as sentences."""
    newest = sorted(entries, key=lambda e: (e.at, e.id), reverse=True)
    pages = max(1, -(-len(newest) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    chunk = newest[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    names = _Names(ctx, chunk, subject_ids)
    return LogPage([LogLine(e.at.isoformat(), when(e.at), sentence(names, e)) for e in chunk], page, pages,
                   len(newest))
