"""The patient's own access log in plain sentences (issue 15, point 7), in the patient's language (issue 18).

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
from runtime.i18n import N_, Text
from runtime.models import AccessLogEntry, Enrolment, EnrolmentPlan, MessageThread, Role, UnitRole, User, UserKind

PAGE_SIZE = 25
#: The title of the patient's log page (runtime.staff.logextract serves it; staff pages are not translated).
LOG_TITLE = N_("Vem har läst dina uppgifter")
#: The patient, as the subject of a sentence about what someone else did in their name (never expected).
YOU = N_("Du")
#: Role words in a sentence, most telling first.
ROLE_WORDS = {Role.therapist: N_("behandlare"), Role.data_admin: N_("dataadministratör"),
              Role.citizen_admin: N_("invånaradministratör"), Role.access_admin: N_("behörighetsadministratör")}
#: What someone did, as the patient reads it: (sentence with someone else as the subject, the same with
#: the patient as the subject or None, what it was about when its title is gone). %(about)s is what it
#: was about ("Min rörelse"); whole sentences, because the verb agrees with the subject in Finnish.
SENTENCES: dict[str, tuple[Text, Text | None, Text | None]] = {
    "enrolment.list": (N_("%(who)s visade listan över dina program."), N_("Du visade listan över dina program."), None),
    "enrolment.read": (N_("%(who)s läste ditt program."), N_("Du öppnade startsidan i ditt program."), None),
    "enrolment.create": (N_("%(who)s startade ditt program."), None, None),
    "enrolment.duplicate_check": (N_("%(who)s kontrollerade om du redan har programmet."), None, None),
    "enrolment.customise": (N_("%(who)s anpassade ditt program."), None, None),
    "enrolment.preview": (N_("%(who)s tittade på ditt program så som du ser det."), None, None),
    "enrolment.review": (N_("%(who)s läste dina svar, kommentarer och registreringar."), None, None),
    "enrolment.summary": (N_("%(who)s tog fram en sammanfattning av ditt program till journalen."), None, None),
    "enrolment.timeline": (N_("%(who)s läste tidslinjen för ditt program."), None, None),
    "enrolment.maintenance": (N_("%(who)s satte ditt program i vidmakthållande."), None, None),
    "enrolment.end": (N_("%(who)s avslutade ditt program."), None, None),
    "enrolment.handover": (N_("%(who)s lämnade över ditt program till en annan vårdenhet."), None, None),
    "enrolment.therapist_change": (N_("%(who)s bytte behandlare i ditt program."), None, None),
    "enrolment.link": (N_("%(who)s länkade ihop två av dina program."), None, None),
    "enrolment.unlink": (N_("%(who)s tog bort länken mellan två av dina program."), None, None),
    "enrolment.version_move": (N_("%(who)s flyttade ditt program till en ny version."), None, None),
    "step.open": (N_("%(who)s öppnade steget %(about)s."), N_("Du öppnade steget %(about)s."), N_("ett steg")),
    "step.read": (N_("%(who)s läste steget %(about)s."), None, N_("ett steg")),
    "step.preview": (N_("%(who)s tittade på steget %(about)s."), None, N_("ett steg")),
    "form.read": (N_("%(who)s läste ditt svar på %(about)s."), N_("Du öppnade %(about)s."), N_("ett formulär")),
    "form.draft.save": (N_("%(who)s sparade ett utkast till %(about)s."),
                        N_("Du sparade ett utkast till %(about)s."), N_("ett formulär")),
    "form.submit": (N_("%(who)s skickade in svar på %(about)s."),
                    N_("Du skickade in svar på %(about)s."), N_("ett formulär")),
    "comment.read": (N_("%(who)s läste kommentarerna till %(about)s."),
                     N_("Du läste kommentarerna till %(about)s."), N_("ett formulär")),
    "comment.create": (N_("%(who)s skrev en kommentar till %(about)s."),
                       N_("Du skrev en kommentar till %(about)s."), N_("ett formulär")),
    "plan.list": (N_("%(who)s tittade på dina aktivitetsplaner."), N_("Du tittade på dina aktivitetsplaner."), None),
    "plan.read": (N_("%(who)s läste aktivitetsplanen %(about)s."),
                  N_("Du läste aktivitetsplanen %(about)s."), N_("en aktivitetsplan")),
    "plan.create": (N_("%(who)s skapade aktivitetsplanen %(about)s."), None, N_("en aktivitetsplan")),
    "plan.edit": (N_("%(who)s ändrade aktivitetsplanen %(about)s."), None, N_("en aktivitetsplan")),
    "plan.customise": (N_("%(who)s ändrade schemat för aktivitetsplanen %(about)s."), None, N_("en aktivitetsplan")),
    "plan.reset": (N_("%(who)s återställde aktivitetsplanen %(about)s."), None, N_("en aktivitetsplan")),
    "registration.create": (N_("%(who)s registrerade i aktivitetsplanen %(about)s."),
                            N_("Du registrerade i aktivitetsplanen %(about)s."), N_("en aktivitetsplan")),
    "inbox.read": (N_("%(who)s läste listan över dina meddelanden."), N_("Du öppnade dina meddelanden."), None),
    "message.read": (N_("%(who)s läste dina meddelanden."), N_("Du läste dina meddelanden."), None),
    "thread.read": (N_("%(who)s läste meddelandena i %(about)s."), N_("Du läste %(about)s."), N_("en meddelandetråd")),
    "message.compose": (N_("%(who)s började skriva ett meddelande."), N_("Du började skriva ett meddelande."), None),
    "message.create": (N_("%(who)s skickade ett meddelande."), N_("Du skickade ett meddelande."), None),
    "notice.create": (N_("%(who)s skickade en avisering till dig."), None, None),
    "flag.hide": (N_("%(who)s markerade en händelse som granskad."), None, None),
    "log.extract": (N_("%(who)s tog ut ett loggutdrag om dig."), N_("Du tittade på den här loggen."), None),
    "account.sessions.read": (N_("%(who)s tittade på var du är inloggad."),
                              N_("Du tittade på var du är inloggad."), None),
    "account.sessions.end_others": (N_("%(who)s loggade ut dig överallt annars."),
                                    N_("Du loggade ut dig överallt annars."), None),
    "account.password.change": (N_("%(who)s bytte lösenord."), N_("Du bytte lösenord."), None),
    "account.settings.read": (N_("%(who)s tittade på dina inställningar."),
                              N_("Du tittade på dina inställningar."), None),
    "patient.contact.update": (N_("%(who)s ändrade var du får aviseringar."),
                               N_("Du ändrade var du får aviseringar."), None),
    "patient.settings.update": (N_("%(who)s ändrade dina inställningar för aviseringar."),
                                N_("Du ändrade dina inställningar för aviseringar."), None),
    "contact.create": (N_("%(who)s lade till en kontakt."), N_("Du lade till en kontakt."), None),
    "contact.delete": (N_("%(who)s tog bort en kontakt."), N_("Du tog bort en kontakt."), None),
    "purge.enrolment": (N_("%(who)s gallrade ditt program."), None, None),
    "purge.category": (N_("%(who)s gallrade en del av ditt program."), None, None),
    "purge.person": (N_("%(who)s gallrade dina personuppgifter."), None, None),
}
#: An action the log has no words for.
UNKNOWN = (N_("%(who)s gjorde något som loggas som ”%(action)s”."), N_("Du gjorde något som loggas som ”%(action)s”."))


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

    def who(self, entry: AccessLogEntry) -> str | None:
        """Who did it, as the subject of the sentence; None: the patient themselves."""
        if entry.actor_role == "patient" and entry.actor_id in self.subject_ids:
            return None
        user = self.users.get(entry.actor_id) if entry.actor_id is not None else None
        if entry.actor_role != "staff" or user is None or user.kind != UserKind.staff or user.created_at > entry.at:
            return N_("Någon i vården") if entry.actor_role == "staff" else N_("Någon som inte var inloggad")
        mine = self.roles.get((user.id, entry.unit_id), set())
        word = next((w for role, w in ROLE_WORDS.items() if role in mine), N_("vårdpersonal"))
        return N_("%(name)s, %(role)s,", name=user.display_name, role=word)

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
                return N_("tråden ”%(subject)s”", subject=thread.subject)
        return None


def sentence(names: _Names, entry: AccessLogEntry) -> str:
    """The row as a sentence: "Tove Lind, behandlare, läste ditt svar på Min rörelse." (in the reader's language)."""
    who = names.who(entry)
    found = SENTENCES.get(entry.action)
    if found is None:
        template, params = UNKNOWN[0] if who is not None else UNKNOWN[1], {"action": entry.action}
    else:
        others, mine, general = found
        template, params = (mine if who is None and mine is not None else others), {}
        if general is not None:
            params["about"] = names.about(entry) or general
    return Text(template.msgid, {**params, "who": who if who is not None else YOU})


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
