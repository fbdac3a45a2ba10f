"""Roles in a care unit: granting, revoking, finding and creating staff accounts.

Input: a staff context whose access (`Action.roles_manage`) the route has checked, and
what the access administrator typed. Output: role rows changed in the session's unit
(a revoked role keeps its row, `revoked_at`, as history; granting it again clears it),
each change with an access-log row; a refusal is a `RoleError` (status, the form field
it concerns, a Swedish message). Revoking takes effect at the person's next request
(`runtime.services.access.roles` reads live rows). The unit's last live access
administrator cannot be revoked.

Must not: import FastAPI or the staff pages; read a unit id from anything but the session.
"""

from __future__ import annotations

import re
import secrets

from sqlalchemy import func, select

from runtime.context import Ctx, not_found
from runtime.models import LocalCredential, Role, Unit, UnitRole, User, UserKind
from runtime.services.access import ROLE_NAMES

HSA_ID = re.compile(r"SE\d{10}-[A-Z0-9]{1,30}")
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{2,99}")
NAME_MAX = 200
PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # no l, o, 0, 1: read aloud or copied by hand


class RoleError(Exception):
    """A refused role change: HTTP status, the field it concerns, a Swedish message."""

    def __init__(self, status: int, field_id: str, message: str) -> None:
        super().__init__(message)
        self.status, self.field_id, self.message = status, field_id, message


def role_of(text: str, field_id: str) -> Role:
    """The role a form names (its value), or RoleError 422 at `field_id`."""
    try:
        return Role(text)
    except ValueError:
        raise RoleError(422, field_id, "Välj en roll.") from None


def lock_unit(ctx: Ctx) -> None:
    """Make role changes in the session's unit take turns (call before reading the unit's roles to change them)."""
    # Role changes in one unit take turns (PostgreSQL row lock; SQLite writes one at a time anyway),
    # so two administrators cannot each remove the other's role and leave the unit with none.
    ctx.db.execute(select(Unit.id).where(Unit.id == ctx.session.unit_id).with_for_update())


def unit_person(ctx: Ctx, person_text: str) -> User:
    """A person with a role row (live or revoked) in the session's unit; 404 for anyone else."""
    try:
        person_id = int(person_text)
    except ValueError:
        raise not_found() from None
    has_row = ctx.db.scalar(select(UnitRole.id).where(UnitRole.user_id == person_id,
                                                      UnitRole.unit_id == ctx.session.unit_id).limit(1))
    user = ctx.db.get(User, person_id) if has_row is not None else None
    if user is None:
        raise not_found()
    return user


def grant(ctx: Ctx, user: User, role: Role, field_id: str) -> None:
    """Give `user` the role in the session's unit (a revoked row is live again).

    Never to oneself (issue 14: an access administrator gave themself the citizen
    administrator role and read patient data): another access administrator must do it.
    The refused try is logged too.
    """
    if user.id == ctx.user.id:
        ctx.audit("role.grant.refused", target=f"user:{user.id}/role:{role.value}")
        raise RoleError(403, field_id, "Du kan inte ge dig själv en roll. Be en annan behörighetsadministratör "
                                       "på vårdenheten att göra det.")
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


def create_staff(ctx: Ctx, name: str, hsa: str, username: str, role_text: str) -> tuple[User, str]:
    """A new member of staff with a local account and a role; returns the user and the one-time password.

    The person must change the one-time password at their first login (issue #13).

    Refused with CreateErrors, (field id, message) per problem.
    """
    errors: list[tuple[str, str]] = []
    hsa, username = hsa.upper(), username.lower()
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
        role = Role(role_text)
    except ValueError:
        errors.append(("skapa-roll", "Välj en roll."))
    if errors:
        raise CreateErrors(errors)
    user = User(kind=UserKind.staff, display_name=name, hsa_id=hsa or None, created_at=ctx.now)
    ctx.db.add(user)
    ctx.db.flush()
    password = one_time_password()
    ctx.app.local_accounts.set_password(ctx.db, user, username, password, ctx.now, must_change=True)
    ctx.db.flush()  # a username taken a moment ago fails here, inside the caller's IntegrityError guard
    ctx.audit("staff.create", target=f"user:{user.id}")
    grant(ctx, user, role, "skapa-roll")
    return user, password
