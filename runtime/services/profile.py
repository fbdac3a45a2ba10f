"""A member of staff's own settings: the unit the session acts in, and e-mail notices of events.

Input: a staff context. Output: the session's unit or the person's notice settings
changed in the unit of work; a refusal is an `AppError` with a Swedish message.

Must not: import FastAPI or the staff pages; let a session act in a unit where the
person has no live role.
"""

from __future__ import annotations

from sqlalchemy import select, update

from runtime.context import AppError, Ctx
from runtime.models import LoginSession, UnitRole, User

EMAIL_MAX = 200


def switch_unit(ctx: Ctx, unit_text: str) -> None:
    """Make the session act in another unit where the person has a live role."""
    try:
        unit_id = int(unit_text)
    except ValueError:
        raise AppError(422, "Välj en vårdenhet.") from None
    has_role = ctx.db.scalar(select(UnitRole.id).where(UnitRole.user_id == ctx.user.id, UnitRole.unit_id == unit_id,
                                                       UnitRole.revoked_at.is_(None)).limit(1))
    if has_role is None:
        raise AppError(403, "Du har ingen roll på den vårdenheten.")
    ctx.db.execute(update(LoginSession).where(LoginSession.id == ctx.session.id).values(unit_id=unit_id))


def save_notice_settings(ctx: Ctx, email: str, wants: bool) -> User:
    """The person's e-mail address and whether they want notices of events; 422 with a message when unusable."""
    me = ctx.db.get(User, ctx.user.id)
    if email and ("@" not in email or len(email) > EMAIL_MAX or any(c.isspace() for c in email)):
        raise AppError(422, "Skriv en giltig e-postadress, till exempel namn@region.se.")
    if wants and not email:
        raise AppError(422, "Skriv en e-postadress för att ta emot notifieringar.")
    me.email, me.notify_events = email or None, wants
    return me
