"""Administration of a care unit (issue #9): roles, the package rescan, and purge (gallring).

- Roles (`/personal/behorigheter`, access administrators): the unit's staff with their
  live roles, granting and revoking, adding an existing member of staff (by HSA-id or
  username) or creating one with a one-time password. A revoked role keeps its row
  (`revoked_at`) as history; granting it again clears `revoked_at` (the unique
  constraint is user, unit, role), and the access log keeps every grant and revoke.
  Revoking takes effect at the person's next request (access.roles reads live rows).
  The unit's last live access administrator cannot be revoked. Taking the therapist role
  from someone with ongoing enrolments warns and offers to hand them to another of the
  unit's therapists first (issue #15, point 8).
- Packages: reading the package folder again, on the same page.
- Purge (`/personal/gallring`, data administrators): the unit's retention per data
  category, the ended enrolments with when each category becomes due, and the purge
  itself (runtime.purge does the work).

Everything acts on the session's unit only; no unit id is ever read from the browser.
The role changes themselves are runtime.services.roles.
Must not: decide roles itself; every route asks runtime.services.access.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from runtime import purge as purging
from runtime import web
from runtime.models import LocalCredential, Role, Unit, UnitRole, User
from runtime.services.access import ROLE_NAMES, Action, allowed, require
from runtime.services.roles import (
    CreateErrors,
    RoleError,
    TherapistHasEnrolments,
    create_staff,
    find_staff,
    grant,
    lock_unit,
    ongoing_enrolments,
    other_therapists,
    revoke,
    revoke_therapist,
    role_of,
    unit_person,
)
from runtime.staff.common import render_staff
from runtime.web import AppError, CsrfForm, Ctx, RequestCtx, StaffDep, not_found, redirect

router = APIRouter(include_in_schema=False)

ROLE_NOTICES = {
    "given": "Rollen är given.",
    "borttagen": "Rollen är borttagen. Den slutar gälla vid personens nästa sidvisning.",
    "flyttade": "Momenten har fått en ny behandlare och rollen är borttagen. Den slutar gälla vid personens "
                "nästa sidvisning.",
    "tillagd": "Personen har fått rollen på vårdenheten.",
    "paket": "Programpaketen är inlästa igen.",
}


def first(form: dict[str, list[str]], key: str) -> str:
    """The first value of a posted field, stripped ('' when absent)."""
    return web.first(form, key).strip()


def local_date(moment: datetime | None, ctx: Ctx) -> str:
    """A date as staff read it in tables: 2026-03-02 (Europe/Stockholm)."""
    return moment.astimezone(ctx.app.tz).date().isoformat() if moment is not None else ""


# --- roles ---------------------------------------------------------------------------------------


@dataclass
class RoleView:
    """One role of a person on the page (granted and, when revoked, revoked dates)."""

    role: str
    name: str
    granted: str
    revoked: str = ""


@dataclass
class PersonView:
    """A member of staff with a role row in the unit: live roles and the roles left to give."""

    id: int
    name: str
    hsa_id: str
    username: str
    is_me: bool
    live: list[RoleView] = field(default_factory=list)
    grantable: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class RevokedView:
    """A revoked role, for the collapsed history."""

    person: str
    role: str
    granted: str
    revoked: str


ROLE_ORDER = list(ROLE_NAMES)


def role_choices() -> list[tuple[str, str]]:
    """(value, Swedish name) of every staff role, in the policy's order."""
    return [(r.value, ROLE_NAMES[r]) for r in ROLE_ORDER]


def roles_view(ctx: Ctx) -> tuple[list[PersonView], list[RevokedView]]:
    """The unit's staff (anyone with a role row, live or revoked) and the revoked roles."""
    rows = ctx.db.execute(
        select(UnitRole, User, LocalCredential.username).join(User, User.id == UnitRole.user_id)
        .outerjoin(LocalCredential, LocalCredential.user_id == User.id)
        .where(UnitRole.unit_id == ctx.session.unit_id).order_by(User.display_name, User.id)).all()
    people: dict[int, PersonView] = {}
    revoked = []
    for role_row, user, username in rows:
        person = people.setdefault(user.id, PersonView(user.id, user.display_name, user.hsa_id or "", username or "",
                                                       user.id == ctx.user.id))
        if role_row.revoked_at is None:
            person.live.append(RoleView(role_row.role.value, ROLE_NAMES[role_row.role],
                                        local_date(role_row.granted_at, ctx)))
        else:
            revoked.append((role_row.revoked_at, RevokedView(user.display_name, ROLE_NAMES[role_row.role],
                                                             local_date(role_row.granted_at, ctx),
                                                             local_date(role_row.revoked_at, ctx))))
    for person in people.values():
        person.live.sort(key=lambda r: ROLE_ORDER.index(Role(r.role)))
        have = {r.role for r in person.live}
        person.grantable = [(value, name) for value, name in role_choices() if value not in have]
    return list(people.values()), [view for _, view in sorted(revoked, key=lambda x: x[0], reverse=True)]


def packages_view(ctx: Ctx) -> dict[str, Any] | None:
    """Packages served and folders refused, for those who may rescan."""
    if not allowed(ctx, Action.packages_rescan):
        return None
    return {"loaded": [(p.program_id, p.version, p.title) for p in ctx.app.store.all()],
            "refused": sorted(ctx.app.store.refused.items())}


@dataclass
class ReassignView:
    """The warning before taking the therapist role from someone with ongoing enrolments (issue #15, point 8)."""

    person_id: int
    name: str
    message: str
    enrolments: list[tuple[int, str, str]]  # id, program and version, started (no patient names on this page)
    others: list[tuple[int, str]]  # the unit's other therapists


def reassign_view(ctx: Ctx, user: User, message: str) -> ReassignView:
    """What the roles page shows to hand `user`'s ongoing enrolments to someone else."""
    rows = [(e.id, _program_title(ctx, e.program_id, e.program_version), local_date(e.started_at, ctx))
            for e in ongoing_enrolments(ctx, user)]
    return ReassignView(user.id, user.display_name, message, rows,
                        [(t.id, t.display_name) for t in other_therapists(ctx, user)])


def render_roles(ctx: RequestCtx, status: int = 200, errors: list[tuple[str, str]] | None = None,
                 values: dict[str, str] | None = None, created: dict[str, str] | None = None,
                 reassign: ReassignView | None = None) -> Response:
    """The roles page; `errors` are (field id, message) for the error summary."""
    people, revoked = roles_view(ctx)
    unit = ctx.db.get(Unit, ctx.session.unit_id)
    notice = ROLE_NOTICES.get(ctx.request.query_params.get("klart", "")) if status == 200 and not created else None
    return render_staff(ctx, "staff/roles.html", current="behorigheter", status=status, title="Behörigheter",
                        unit_name=unit.name if unit else "", people=people, revoked=revoked, roles=role_choices(),
                        errors=errors or [], field_errors=dict(errors or []), values=values or {}, created=created,
                        packages=packages_view(ctx), notice=notice, reassign=reassign)


@router.get("/personal/behorigheter")
def roles_page(ctx: StaffDep) -> Response:
    """The unit's staff and their roles (access administrators)."""
    require(ctx, Action.roles_manage)
    return render_roles(ctx)


#: What the roles page posts in `_action`: give, take away, add an existing account, create one.
ROLE_ACTIONS = ("ge", "ta-bort", "lagg-till", "skapa")


@router.post("/personal/behorigheter")
def roles_post(ctx: StaffDep, form: CsrfForm) -> Response:
    """Grant, revoke, add an existing member of staff, or create a new one (in the session's unit)."""
    require(ctx, Action.roles_manage)
    action = first(form, "_action")
    if action not in ROLE_ACTIONS:
        raise AppError(400, "Okänd åtgärd. Ladda om sidan och försök igen.")
    values = {k: first(form, k) for k in ("identifier", "display_name", "hsa_id", "username", "role")}
    lock_unit(ctx)
    try:
        if action in ("ge", "ta-bort"):
            user = unit_person(ctx, first(form, "person"))
            field_id = f"person-{user.id}"
            role = role_of(first(form, "role"), field_id)
            if action == "ta-bort" and role == Role.therapist:
                return _revoke_therapist(ctx, user, field_id, form)
            (grant if action == "ge" else revoke)(ctx, user, role, field_id)
            return redirect(f"/personal/behorigheter?klart={'given' if action == 'ge' else 'borttagen'}")
        if action == "lagg-till":
            identifier, errors = first(form, "identifier"), []
            user = find_staff(ctx, identifier)
            if not identifier:
                errors.append(("lagg-till-id", "Skriv personens HSA-id eller användarnamn."))
            elif user is None:
                errors.append(("lagg-till-id", "Det finns inget konto med det HSA-id:t eller användarnamnet. "
                                               "Skapa ett nytt konto nedan."))
            if first(form, "role") not in {r.value for r in Role}:
                errors.append(("lagg-till-roll", "Välj en roll."))
            if errors:
                return render_roles(ctx, status=422, errors=errors, values=values)
            grant(ctx, user, Role(first(form, "role")), "lagg-till-id")
            return redirect("/personal/behorigheter?klart=tillagd")
        try:
            user, password = create_staff(ctx, values["display_name"], values["hsa_id"], values["username"],
                                          values["role"])
        except CreateErrors as exc:
            return render_roles(ctx, status=422, errors=exc.errors, values=values)
        except IntegrityError:  # the same username or HSA-id saved by someone else a moment ago
            ctx.db.rollback()
            return render_roles(ctx, status=409, values=values, errors=[
                ("skapa-anvandarnamn", "Användarnamnet eller HSA-id:t blev upptaget nyss. Försök igen.")])
        username = ctx.db.scalar(select(LocalCredential.username).where(LocalCredential.user_id == user.id))
        return render_roles(ctx, created={"name": user.display_name, "username": username, "password": password})
    except RoleError as exc:
        return render_roles(ctx, status=exc.status, errors=[(exc.field_id, exc.message)], values=values)


def _revoke_therapist(ctx: RequestCtx, user: User, field_id: str, form: dict[str, list[str]]) -> Response:
    """Take the therapist role; with ongoing enrolments, first the warning and the choice of a new therapist."""
    try:
        moved = revoke_therapist(ctx, user, field_id, first(form, "ny_behandlare"), first(form, "lamna") == "ja")
    except TherapistHasEnrolments as exc:
        return render_roles(ctx, status=409, reassign=reassign_view(ctx, user, exc.message))
    except RoleError as exc:
        if exc.field_id != "ny-behandlare":
            raise
        ctx.db.rollback()
        return render_roles(ctx, status=exc.status, errors=[(exc.field_id, exc.message)],
                            reassign=reassign_view(ctx, user, exc.message))
    return redirect(f"/personal/behorigheter?klart={'flyttade' if moved else 'borttagen'}")


@router.post("/personal/behorigheter/paket")
def rescan_post(ctx: StaffDep, form: CsrfForm) -> Response:
    """Read the package folder again (as SIGHUP does); shows what is served and what was refused."""
    require(ctx, Action.packages_rescan)
    ctx.app.store.scan()
    ctx.audit("packages.rescan")
    return redirect("/personal/behorigheter?klart=paket")


# --- purge ---------------------------------------------------------------------------------------


@dataclass
class CategoryCell:
    """One data category of one enrolment in the purge table: when it is due, or that it is."""

    text: str
    due: bool


@dataclass
class PurgeRow:
    """One ended enrolment in the purge table (ids and dates only: no names on this page)."""

    id: int
    program: str
    ended: str
    cells: list[CategoryCell]
    due: bool


def _cell(state: purging.CategoryState, ctx: Ctx) -> CategoryCell:
    day = local_date(state.due_at, ctx)
    if not state.due:
        return CategoryCell(f"Gallras {day}", False)
    if state.category.key == "moment":
        return CategoryCell(f"Förfallen sedan {day}", True)
    if state.remaining:
        return CategoryCell(f"Förfallen sedan {day} ({state.remaining} st. kvar)", True)
    return CategoryCell("Inget kvar att gallra", False)


def _program_title(ctx: Ctx, program_id: str, version: str) -> str:
    package = ctx.app.store.get(program_id, version)
    return f"{package.title if package else program_id} {version}"


def render_purge(ctx: Ctx, status: int = 200, errors: list[tuple[str, str]] | None = None,
                 days: dict[str, str] | None = None, chosen: set[int] | None = None) -> Response:
    """The purge page: retention, ended enrolments with their due dates, overdue maintenance."""
    rules = purging.retention(ctx.db, ctx.session.unit_id)
    found = purging.candidates(ctx.db, ctx.session.unit_id, ctx.now, rules)
    rows = [PurgeRow(c.enrolment_id, _program_title(ctx, c.program_id, c.program_version), local_date(c.ended_at, ctx),
                     [_cell(s, ctx) for s in c.categories], c.due) for c in found]
    today = ctx.now.astimezone(ctx.app.tz).date()
    overdue = [(e.id, _program_title(ctx, e.program_id, e.program_version), e.maintenance_until.isoformat())
               for e in purging.overdue_maintenance(ctx.db, ctx.session.unit_id, today)]
    ctx.audit("purge.list")
    notice = _purge_notice(ctx) if status == 200 else None
    return render_staff(ctx, "staff/purge.html", current="gallring", status=status, title="Gallring",
                        categories=purging.CATEGORIES, max_days=purging.MAX_KEEP_DAYS,
                        days=days or {k: str(v) for k, v in rules.items()},
                        can_edit=allowed(ctx, Action.retention_edit), rows=rows,
                        due_count=sum(1 for r in rows if r.due), overdue=overdue, errors=errors or [],
                        field_errors=dict(errors or []), chosen=chosen or set(), notice=notice)


def _purge_notice(ctx: RequestCtx) -> str | None:
    query = ctx.request.query_params
    if query.get("frister"):
        return "Gallringsfristerna är sparade."
    try:
        enrolments, people = int(query.get("gallrat", "")), int(query.get("personer", "0"))
    except ValueError:
        return None
    text = f"Gallringen är klar: {enrolments} moment {'gallrat' if enrolments == 1 else 'gallrade'}"
    if people:
        text += f", och {people} {'person' if people == 1 else 'personer'} utan moment kvar togs bort helt"
    return text + "."


@router.get("/personal/gallring")
def purge_page(ctx: StaffDep) -> Response:
    """Retention and the ended enrolments of the unit (data administrators)."""
    require(ctx, Action.purge)
    return render_purge(ctx)


@router.post("/personal/gallring/frister")
def retention_post(ctx: StaffDep, form: CsrfForm) -> Response:
    """Save the unit's retention per category (0–3650 days)."""
    require(ctx, Action.retention_edit)
    raw = {c.key: first(form, f"dagar_{c.key}") for c in purging.CATEGORIES}
    errors, days = [], {}
    for c in purging.CATEGORIES:
        try:
            value = int(raw[c.key])
        except ValueError:
            value = -1
        if not 0 <= value <= purging.MAX_KEEP_DAYS:
            errors.append((f"frist-{c.key}", f"{c.name}: skriv ett helt antal dagar från 0 till "
                                             f"{purging.MAX_KEEP_DAYS}."))
        days[c.key] = value
    if errors:
        return render_purge(ctx, status=422, errors=errors, days=raw)
    changed = purging.set_retention(ctx.db, ctx.session.unit_id, days)
    if changed:
        ctx.audit("retention.edit", target=",".join(f"{k}:{a}->{b}" for k, (a, b) in changed.items()))
    return redirect("/personal/gallring?frister=1")


@router.post("/personal/gallring")
def purge_post(ctx: StaffDep, form: CsrfForm) -> Response:
    """Purge the chosen due enrolments, or all that are due, after a confirmation."""
    require(ctx, Action.purge)
    every = first(form, "_action") == "alla"
    chosen: set[int] = set()
    for value in form.get("moment", []):
        try:
            chosen.add(int(value))
        except ValueError:
            raise not_found() from None
    rules = purging.retention(ctx.db, ctx.session.unit_id)
    found = {c.enrolment_id: c for c in purging.candidates(ctx.db, ctx.session.unit_id, ctx.now, rules)}
    if chosen - set(found):
        raise not_found()  # not an ended enrolment of this unit: the same answer as for no enrolment at all
    errors = []
    if not every and not chosen:
        errors.append(("moment-lista", "Välj minst ett moment att gallra, eller gallra alla förfallna."))
    not_due = sorted(eid for eid in chosen if not found[eid].due)
    if not every and not_due:
        errors.append(("moment-lista", "Moment " + ", ".join(str(e) for e in not_due) +
                       " har inte passerat gallringsfristen och kan inte gallras än."))
    if every and not any(c.due for c in found.values()):
        errors.append(("moment-lista", "Inget moment har passerat gallringsfristen."))
    if first(form, "bekrafta") != "ja":
        errors.append(("bekrafta", "Bekräfta att du vill gallra. Det går inte att ångra."))
    if errors:
        return render_purge(ctx, status=422, errors=errors, chosen=chosen)
    report = purging.purge(ctx.db, ctx.now, ctx.session.unit_id, rules, ctx.app.settings.secret, ctx.audit,
                           actor_id=ctx.user.id, enrolment_ids=None if every else chosen)
    return redirect(f"/personal/gallring?gallrat={report.touched}&personer={len(report.people)}")
