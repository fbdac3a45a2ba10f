"""Access-log extracts (loggutdrag): every logged read or write of one person's data.

- The data administrator enters a personnummer (`/personal/loggutdrag`) and gets the
  rows about that person: through their live user id, and through the purge receipts
  of earlier, purged user rows (an HMAC of the personnummer with the runtime's secret).
  Only the rows of the administrator's own unit: what was done in it, or about its
  enrolments (issue 14: an administrator saw other units' names, staff and actions). A
  person with nothing in the unit is "not found", the same answer as an unknown number.
- The patient gets their own extract (`/mina-uppgifter/logg`).

Both as an HTML table and as CSV for Excel (`format=csv`: UTF-8 with BOM, semicolons,
Swedish headers). Taking an extract is itself logged. The personnummer travels only in
a POST body, never in a URL, so it stays out of server logs and browser history.

Must not: show a staff name for an id that belonged to someone else at the time of
the row (ids can be given anew after a purge), or let a spreadsheet run a cell.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from runtime.audit import RECEIPT_TARGET, log_extract
from runtime.identity import InvalidPersonalNumber, parse_personal_number
from runtime.models import AccessLogEntry, Enrolment, PurgeReceipt, Unit, User, UserKind
from runtime.purge import subject_key
from runtime.services import accesslog
from runtime.services.access import Action, require
from runtime.staff.common import render_staff
from runtime.views import fmt_time
from runtime.web import CsrfForm, Ctx, PatientDep, RequestCtx, StaffDep, render

router = APIRouter(include_in_schema=False)

#: What each logged action means, in the words of the extract; unknown actions are shown as logged.
ACTION_TEXT = {
    "account.sessions.read": "Visade sina inloggningar",
    "account.sessions.end_others": "Loggade ut sig överallt annars",
    "account.password.change": "Bytte lösenord",
    "account.settings.read": "Visade sina inställningar",
    "patient.settings.update": "Ändrade sina inställningar för aviseringar",
    "contact.create": "Lade till en kontakt",
    "contact.delete": "Tog bort en kontakt",
    "enrolment.list": "Visade listan över program",
    "enrolment.read": "Läste momentet",
    "enrolment.create": "Startade momentet",
    "enrolment.duplicate_check": "Kontrollerade om personen redan har programmet",
    "enrolment.lookup": "Sökte på personnumret för att starta ett moment",
    "access.refused": "Nekades åtkomst",
    "access.refused.read": "Läste nekade åtkomstförsök",
    "role.grant.refused": "Försökte ge sig själv en roll (nekades)",
    "enrolment.customise": "Anpassade momentet",
    "enrolment.preview": "Förhandsgranskade momentet som patienten ser det",
    "enrolment.review": "Läste svar, kommentarer och registreringar",
    "enrolment.summary": "Tog fram en sammanfattning för journalen",
    "enrolment.timeline": "Läste tidslinjen",
    "enrolment.maintenance": "Satte momentet i vidmakthållande",
    "enrolment.end": "Avslutade momentet",
    "enrolment.handover": "Lämnade över momentet till en annan vårdenhet",
    "enrolment.link": "Länkade ihop två moment",
    "enrolment.unlink": "Tog bort en länk mellan moment",
    "enrolment.version_move": "Flyttade momentet till en ny programversion",
    "enrolment.therapist_change": "Bytte behandlare",
    "step.open": "Öppnade ett steg",
    "step.read": "Läste ett steg",
    "step.preview": "Förhandsgranskade ett steg",
    "form.read": "Läste ett formulär",
    "form.draft.save": "Sparade ett utkast",
    "form.submit": "Skickade formulär",
    "comment.read": "Läste sidkommentarer",
    "comment.create": "Skrev en sidkommentar",
    "plan.list": "Visade aktivitetsplaner",
    "plan.read": "Läste en aktivitetsplan",
    "plan.compose": "Började skapa en aktivitetsplan",
    "plan.create": "Skapade en aktivitetsplan",
    "plan.edit": "Ändrade en aktivitetsplan",
    "plan.customise": "Ändrade schemat för en aktivitetsplan",
    "plan.reset": "Återställde en aktivitetsplan",
    "registration.create": "Registrerade i en aktivitetsplan",
    "inbox.read": "Läste inkorgen",
    "thread.read": "Läste en meddelandetråd",
    "message.compose": "Började skriva ett meddelande",
    "message.create": "Skickade ett meddelande",
    "notice.create": "Skickade en avisering",
    "flag.hide": "Dolde en flagga",
    "purge.enrolment": "Gallrade momentet",
    "purge.category": "Gallrade en del av momentet",
    "purge.person": "Gallrade personuppgifterna",
    "log.extract": "Tog ut ett loggutdrag",
}
ROLE_TEXT = {"patient": "Patient", "staff": "Vårdpersonal", "anonymous": "Inte inloggad"}
#: Prefix of a logged target -> how the extract names it.
TARGET_TEXT = {
    "form": "formulär {}",
    "step": "steg {}",
    "plan": "aktivitetsplan {}",
    "thread": "meddelandetråd {}",
    "kategori": "uppgifterna i kategorin {}",
    "gallringskvitto": "gallringskvitto {}",
    "flag": "flagga {}",
    "enrolment": "moment {}",
    "notification": "avisering {}",
    "program": "programmet {}",
    "version": "version {}",
    "page": "sidan {}",
}
#: Whole targets with their own words.
TARGET_WORDS = {"loggutdrag:tabell": "loggutdrag som tabell", "loggutdrag:csv": "loggutdrag som CSV-fil"}
CSV_HEADERS = ("Tidpunkt", "Vem", "Roll", "Vårdenhet", "Vad", "Gällde")
#: A cell starting with one of these is a formula to a spreadsheet.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ExtractRow:
    """One access-log row as the extract shows it."""

    at: str  # ISO 8601 with offset, for <time datetime>
    when: str  # 2026-03-02 10:00:05, Europe/Stockholm
    who: str
    role: str
    unit: str
    what: str
    about: str

    def cells(self) -> tuple[str, ...]:
        """The CSV columns."""
        return (self.when, self.who, self.role, self.unit, self.what, self.about)


def _ref(target: str | None, prefix: str) -> int | None:
    """N of a target "prefix:N" (None for anything else)."""
    head, sep, rest = (target or "").partition(":")
    return int(rest) if sep and head == prefix and rest.isdigit() else None


def target_text(entry: AccessLogEntry, users: dict[int, User] | None = None,
                units: dict[int, str] | None = None) -> str:
    """What a row was about: the enrolment and the logged target, in words (staff and units by name)."""
    parts = []
    if entry.enrolment_id is not None:
        parts.append(f"Moment {entry.enrolment_id}")
    user, unit = (users or {}).get(_ref(entry.target, "user")), (units or {}).get(_ref(entry.target, "unit"))
    if entry.target in TARGET_WORDS:
        parts.append(TARGET_WORDS[entry.target])
    elif user is not None and _staff_then(user, entry):
        parts.append(user.display_name)
    elif unit is not None:
        parts.append(unit)
    elif entry.target:
        prefix, sep, rest = entry.target.partition(":")
        parts.append(TARGET_TEXT[prefix].format(rest) if sep and prefix in TARGET_TEXT else entry.target)
    text = ", ".join(parts)
    return text[:1].upper() + text[1:] if text else "–"


def extract_rows(db: Session, tz: ZoneInfo, entries: list[AccessLogEntry], subject_ids: set[int],
                 self_name: str) -> list[ExtractRow]:
    """The extract's rows; `subject_ids` are the person's own ids (live and former), shown as `self_name`."""
    user_ids = {e.actor_id for e in entries if e.actor_id is not None} | \
        {n for e in entries if (n := _ref(e.target, "user")) is not None}
    users = {u.id: u for u in db.scalars(select(User).where(User.id.in_(user_ids)))} if user_ids else {}
    unit_ids = {e.unit_id for e in entries if e.unit_id is not None} | \
        {n for e in entries if (n := _ref(e.target, "unit")) is not None}
    units = {row.id: row.name for row in db.execute(select(Unit.id, Unit.name).where(Unit.id.in_(unit_ids)))}
    out = []
    for e in entries:
        out.append(ExtractRow(at=e.at.isoformat(), when=e.at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
                              who=_who(e, users, subject_ids, self_name), role=ROLE_TEXT.get(e.actor_role, e.actor_role),
                              unit=units.get(e.unit_id, f"Vårdenhet {e.unit_id}") if e.unit_id is not None else "–",
                              what=ACTION_TEXT.get(e.action, e.action), about=target_text(e, users, units)))
    return out


def _staff_then(user: User, entry: AccessLogEntry) -> bool:
    # Ids may be given anew after a purge: a name only for a member of staff who existed at the time.
    return user.kind == UserKind.staff and user.created_at <= entry.at


def _who(entry: AccessLogEntry, users: dict[int, User], subject_ids: set[int], self_name: str) -> str:
    if entry.actor_id is None:
        return "Okänd (inte inloggad)"
    if entry.actor_role == "patient" and entry.actor_id in subject_ids:
        return self_name
    user = users.get(entry.actor_id)
    if user is not None and entry.actor_role == "staff" and _staff_then(user, entry):
        return user.display_name
    return f"Användare {entry.actor_id}"


def csv_safe(value: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + value if value.startswith(FORMULA_START) else value


def csv_response(rows: list[ExtractRow], day: str) -> Response:
    """The extract as CSV for Excel: UTF-8 with BOM, semicolons, Swedish headers."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_HEADERS)
    for row in rows:
        writer.writerow([csv_safe(c) for c in row.cells()])
    return Response(("\ufeff" + buffer.getvalue()).encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="loggutdrag-{day}.csv"'})


def receipts_for(ctx: Ctx, personal_number: str) -> list[PurgeReceipt]:
    """Purge receipts of a person's earlier, purged user rows, oldest first."""
    if ctx.db.scalar(select(PurgeReceipt.id).limit(1)) is None:
        return []  # nobody purged yet: no need for the secret (or to make its file)
    key = subject_key(ctx.app.settings.secret(), personal_number)
    return list(ctx.db.scalars(select(PurgeReceipt).where(PurgeReceipt.subject_key == key)
                               .order_by(PurgeReceipt.purged_at, PurgeReceipt.id)))


def wants_csv(ctx: RequestCtx, form: dict[str, list[str]] | None = None) -> bool:
    """`format=csv` in the query (or the posted form)."""
    posted = (form or {}).get("format") or [""]
    return ctx.request.query_params.get("format") == "csv" or posted[0] == "csv"


def today(ctx: Ctx) -> str:
    """The local date, for file names."""
    return ctx.now.astimezone(ctx.app.tz).date().isoformat()


# --- the data administrator ----------------------------------------------------------------------


#: How many refused requests the extract page lists (newest first).
REFUSALS_SHOWN = 50


@dataclass(frozen=True)
class RefusalRow:
    """A refused request (ASVS 7.2.2) as the data administrator reads it."""

    at: str
    when: str
    who: str
    role: str
    what: str


def refused_rows(ctx: Ctx) -> list[RefusalRow]:
    """The unit's latest refused requests of logged-in people (runtime.web.record_refusal), newest first."""
    entries = ctx.db.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "access.refused",
                                                          AccessLogEntry.unit_id == ctx.session.unit_id)
                             .order_by(AccessLogEntry.id.desc()).limit(REFUSALS_SHOWN)).all()
    ids = {e.actor_id for e in entries if e.actor_id is not None}
    users = {u.id: u for u in ctx.db.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    roles = {"patient": "Patient", "staff": "Personal", "anonymous": "Okänd"}
    return [RefusalRow(e.at.isoformat(), fmt_time(e.at, ctx.app.tz),
                       users[e.actor_id].display_name if e.actor_id in users else "Okänd (gallrad)",
                       roles.get(e.actor_role, e.actor_role), e.target or "") for e in entries]


def render_form(ctx: Ctx, status: int = 200, error: str | None = None, number: str = "",
                result: dict | None = None) -> Response:
    """The extract page: the personnummer form, the extract when one was asked for, and the unit's
    latest refused requests (ASVS 7.2.2), whose reading is access-logged too."""
    refused = refused_rows(ctx)
    ctx.audit("access.refused.read", target=f"rows:{len(refused)}")
    return render_staff(ctx, "staff/log_extract.html", current="loggutdrag", status=status, title="Loggutdrag",
                        error=error, number=number, result=result, refused=refused)


@router.get("/personal/loggutdrag")
def extract_page(ctx: StaffDep) -> Response:
    """The form: whose log to extract."""
    require(ctx, Action.access_log_extract)
    return render_form(ctx)


@router.post("/personal/loggutdrag")
def extract_post(ctx: StaffDep, form: CsrfForm) -> Response:
    """Every access-log row about the person with this personnummer, as a table or CSV."""
    require(ctx, Action.access_log_extract)
    raw = (form.get("personnummer") or [""])[0].strip()
    try:
        number = parse_personal_number(raw)
    except InvalidPersonalNumber as exc:
        return render_form(ctx, status=422, error=str(exc), number=raw[:20])
    user = ctx.db.scalar(select(User).where(User.personal_number == number.digits, User.kind == UserKind.citizen))
    unit_id = ctx.session.unit_id
    receipts = [r for r in receipts_for(ctx, number.digits) if r.unit_id == unit_id]
    as_csv = wants_csv(ctx, form)
    target = "loggutdrag:csv" if as_csv else "loggutdrag:tabell"
    if user is not None:
        ctx.audit("log.extract", target=target, patient_id=user.id)
    else:
        for receipt in receipts:  # no live person: the receipt carries the trail
            ctx.audit("log.extract", target=RECEIPT_TARGET.format(id=receipt.id))
    entries = unit_entries(ctx.db, unit_id, log_extract(ctx.db, user.id if user else None, receipts))
    if user is not None and not any(e.action != "log.extract" for e in entries) and ctx.db.scalar(
            select(Enrolment.id).where(Enrolment.patient_id == user.id, Enrolment.unit_id == unit_id).limit(1)) is None:
        # A patient of other units only: the same answer as an unknown number (the lookup is logged above).
        user, entries = None, unit_entries(ctx.db, unit_id, log_extract(ctx.db, None, receipts))
    subject_ids = {r.former_user_id for r in receipts} | ({user.id} if user else set())
    rows = extract_rows(ctx.db, ctx.app.tz, entries, subject_ids, "Patienten själv")
    if as_csv and (user is not None or receipts):
        return csv_response(rows, today(ctx))
    result = {"number": str(number), "kind": number.kind, "name": user.display_name if user else None,
              "purged": [(r.purged_at.astimezone(ctx.app.tz).date().isoformat(), r.enrolments) for r in receipts],
              "found": user is not None or bool(receipts), "rows": rows}
    return render_form(ctx, number=str(number), result=result)


def unit_entries(db: Session, unit_id: int, entries: list[AccessLogEntry]) -> list[AccessLogEntry]:
    """The rows a unit's data administrator may see: done in the unit, or about an enrolment it holds."""
    ids = {e.enrolment_id for e in entries if e.enrolment_id is not None}
    held = set(db.scalars(select(Enrolment.id).where(Enrolment.id.in_(ids), Enrolment.unit_id == unit_id))) \
        if ids else set()
    return [e for e in entries if e.unit_id == unit_id or e.enrolment_id in held]


# --- the patient ---------------------------------------------------------------------------------


@router.get("/mina-uppgifter/logg")
def own_extract(ctx: PatientDep) -> Response:
    """The patient's own extract: who read or changed their data, and when."""
    receipts = receipts_for(ctx, ctx.user.personal_number) if ctx.user.personal_number else []
    ctx.audit("log.extract", target="loggutdrag:csv" if wants_csv(ctx) else "loggutdrag:tabell",
              patient_id=ctx.user.id)
    entries = log_extract(ctx.db, ctx.user.id, receipts)
    subject_ids = {ctx.user.id} | {r.former_user_id for r in receipts}
    if wants_csv(ctx):
        return csv_response(extract_rows(ctx.db, ctx.app.tz, entries, subject_ids, "Du"), today(ctx))
    # Issue 15: plain sentences, newest first, a page at a time (the CSV file keeps every column).
    asked = ctx.request.query_params.get("sida", "1")
    page = accesslog.log_page(ctx, entries, subject_ids, int(asked) if asked.isdigit() else 1,
                              lambda at: fmt_time(at, ctx.app.tz))
    return render(ctx, "log_extract.html", title=accesslog.LOG_TITLE, log=page)  # the patient's language
