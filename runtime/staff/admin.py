"""Administration of a care unit (issue #9): roles, the package rescan, and purge (gallring).

- Roles (`/personal/behorigheter`, access administrators): the unit's staff with their
  live roles, granting and revoking, adding an existing member of staff (by HSA-id or
  username) or creating one with a one-time password. A revoked role keeps its row
  (`revoked_at`) as history; granting it again clears `revoked_at` (the unique
  constraint is user, unit, role), and the access log keeps every grant and revoke.
  Revoking takes effect at the person's next request (access.roles reads live rows).
  The unit's last live access administrator cannot be revoked.
- Packages: reading the package folder again, on the same page.
- Purge (`/personal/gallring`, data administrators): the unit's retention per data
  category, the ended enrolments with when each category becomes due, and the purge
  itself (runtime.purge does the work).

Everything acts on the session's unit only; no unit id is ever read from the browser.
Must not: decide roles itself; every route asks runtime.services.access.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from runtime import purge as purging
from runtime import web
from runtime.models import LocalCredential, Role, Unit, UnitRole, User, UserKind
from runtime.services.access import ROLE_NAMES, Action, allowed, require
from runtime.staff.common import render_staff
from runtime.web import AppError, CsrfForm, Ctx, StaffDep, not_found, redirect

router = APIRouter(include_in_schema=False)

HSA_ID = re.compile(r"SE\d{10}-[A-Z0-9]{1,30}")
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{2,99}")
NAME_MAX = 200
PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # no l, o, 0, 1: read aloud or copied by hand

ROLE_NOTICES = {
    "given": "Rollen är given.",
    "borttagen": "Rollen är borttagen. Den slutar gälla vid personens nästa sidvisning.",
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


def render_roles(ctx: Ctx, status: int = 200, errors: list[tuple[str, str]] | None = None,
                 values: dict[str, str] | None = None, created: dict[str, str] | None = None) -> Response:
    """The roles page; `errors` are (field id, message) for the error summary."""
    people, revoked = roles_view(ctx)
    unit = ctx.db.get(Unit, ctx.session.unit_id)
    notice = ROLE_NOTICES.get(ctx.request.query_params.get("klart", "")) if status == 200 and not created else None
    return render_staff(ctx, "staff/roles.html", current="behorigheter", status=status, title="Behörigheter",
                        unit_name=unit.name if unit else "", people=people, revoked=revoked, roles=role_choices(),
                        errors=errors or [], field_errors=dict(errors or []), values=values or {}, created=created,
                        packages=packages_view(ctx), notice=notice)


@router.get("/personal/behorigheter")
def roles_page(ctx: StaffDep) -> Response:
    """The unit's staff and their roles (access administrators)."""
    require(ctx, Action.roles_manage)
    return render_roles(ctx)


class RoleError(Exception):
    """A refused role change: HTTP status, the field it concerns, a Swedish message."""

    def __init__(self, status: int, field_id: str, message: str) -> None:
        super().__init__(message)
        self.status, self.field_id, self.message = status, field_id, message


def _role(form: dict[str, list[str]], field_id: str) -> Role:
    try:
        return Role(first(form, "role"))
    except ValueError:
        raise RoleError(422, field_id, "Välj en roll.") from None


def _lock_unit(ctx: Ctx) -> None:
    # Role changes in one unit take turns (PostgreSQL row lock; SQLite writes one at a time anyway),
    # so two administrators cannot each remove the other's role and leave the unit with none.
    ctx.db.execute(select(Unit.id).where(Unit.id == ctx.session.unit_id).with_for_update())


def _unit_person(ctx: Ctx, form: dict[str, list[str]]) -> User:
    """A person with a role row (live or revoked) in the session's unit; 404 for anyone else."""
    try:
        person_id = int(first(form, "person"))
    except ValueError:
        raise not_found() from None
    has_row = ctx.db.scalar(select(UnitRole.id).where(UnitRole.user_id == person_id,
                                                      UnitRole.unit_id == ctx.session.unit_id).limit(1))
    user = ctx.db.get(User, person_id) if has_row is not None else None
    if user is None:
        raise not_found()
    return user


def grant(ctx: Ctx, user: User, role: Role, field_id: str) -> None:
    """Give `user` the role in the session's unit (a revoked row is live again)."""
    if user.kind != UserKind.staff:
        raise RoleError(422, field_id, "Kontot tillhör inte vårdpersonal och kan inte få en roll.")
    if user.disabled_at is not None:
        raise RoleError(422, field_id, "Kontot är avstängt och kan inte få en roll.")
    row = ctx.db.scalar(select(UnitRole).where(UnitRole.user_id == user.id, UnitRole.unit_id == ctx.session.unit_id,
                                               UnitRole.role == role))
    if row is not None and row.revoked_at is None:
        raise RoleError(409, field_id, f"{user.display_name} har redan rollen {ROLE_NAMES[role].lower()}.")
    if row is None:
        ctx.db.add(UnitRole(user_id=user.id, unit_id=ctx.session.unit_id, role=role, granted_by=ctx.user.id,
                            granted_at=ctx.now))
    else:
        row.revoked_at, row.granted_at, row.granted_by = None, ctx.now, ctx.user.id
    ctx.audit("role.grant", target=f"user:{user.id}/role:{role.value}")


def revoke(ctx: Ctx, user: User, role: Role, field_id: str) -> None:
    """Take the role from `user` in the session's unit; never the unit's last access administrator."""
    row = ctx.db.scalar(select(UnitRole).where(UnitRole.user_id == user.id, UnitRole.unit_id == ctx.session.unit_id,
                                               UnitRole.role == role, UnitRole.revoked_at.is_(None)))
    if row is None:
        raise RoleError(409, field_id, f"{user.display_name} har inte rollen {ROLE_NAMES[role].lower()}.")
    if role == Role.access_admin:
        admins = ctx.db.scalar(select(func.count()).select_from(UnitRole).where(
            UnitRole.unit_id == ctx.session.unit_id, UnitRole.role == Role.access_admin,
            UnitRole.revoked_at.is_(None)))
        if admins <= 1:
            raise RoleError(409, field_id, "Vårdenheten måste ha minst en behörighetsadministratör. "
                                           "Ge rollen till någon annan först.")
    row.revoked_at = ctx.now
    ctx.audit("role.revoke", target=f"user:{user.id}/role:{role.value}")


def find_staff(ctx: Ctx, identifier: str) -> User | None:
    """A person by HSA-id (any case) or local username."""
    user = ctx.db.scalar(select(User).where(User.hsa_id == identifier.upper())) if identifier else None
    if user is None and identifier:
        user = ctx.db.scalar(select(User).join(LocalCredential, LocalCredential.user_id == User.id)
                             .where(LocalCredential.username == identifier.lower()))
    return user


def one_time_password() -> str:
    """A random initial password, four groups of four (about 80 bits)."""
    return "-".join("".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(4)) for _ in range(4))


class CreateErrors(Exception):
    """Field errors of the new-account form."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("ogiltiga uppgifter")
        self.errors = errors


def create_staff(ctx: Ctx, form: dict[str, list[str]]) -> tuple[User, str]:
    """A new member of staff with a local account and a role; returns the user and the one-time password."""
    errors: list[tuple[str, str]] = []
    name, hsa, username = first(form, "display_name"), first(form, "hsa_id").upper(), first(form, "username").lower()
    if not name:
        errors.append(("skapa-namn", "Skriv personens namn."))
    elif len(name) > NAME_MAX or any(ord(c) < 32 for c in name):
        errors.append(("skapa-namn", f"Namnet får vara högst {NAME_MAX} tecken, utan radbrytningar."))
    if hsa and not HSA_ID.fullmatch(hsa):
        errors.append(("skapa-hsa", "Skriv HSA-id:t som SE, tio siffror, bindestreck och resten, "
                                    "till exempel SE2321000016-1234."))
    elif hsa and ctx.db.scalar(select(User.id).where(User.hsa_id == hsa)) is not None:
        errors.append(("skapa-hsa", "Det finns redan ett konto med det HSA-id:t. Lägg till det kontot i stället."))
    if not USERNAME.fullmatch(username):
        errors.append(("skapa-anvandarnamn", "Skriv ett användarnamn med 3–100 tecken: små bokstäver a–z, "
                                             "siffror, punkt, bindestreck eller understreck."))
    elif ctx.db.scalar(select(LocalCredential.user_id).where(LocalCredential.username == username)) is not None:
        errors.append(("skapa-anvandarnamn", "Användarnamnet är upptaget. Välj ett annat."))
    try:
        role = Role(first(form, "role"))
    except ValueError:
        errors.append(("skapa-roll", "Välj en roll."))
    if errors:
        raise CreateErrors(errors)
    user = User(kind=UserKind.staff, display_name=name, hsa_id=hsa or None, created_at=ctx.now)
    ctx.db.add(user)
    ctx.db.flush()
    password = one_time_password()
    ctx.app.local_accounts.set_password(ctx.db, user, username, password, ctx.now)
    ctx.db.flush()  # a username taken a moment ago fails here, inside the caller's IntegrityError guard
    ctx.audit("staff.create", target=f"user:{user.id}")
    grant(ctx, user, role, "skapa-roll")
    return user, password


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
    _lock_unit(ctx)
    try:
        if action in ("ge", "ta-bort"):
            user = _unit_person(ctx, form)
            field_id = f"person-{user.id}"
            role = _role(form, field_id)
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
            user, password = create_staff(ctx, form)
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


def _purge_notice(ctx: Ctx) -> str | None:
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
