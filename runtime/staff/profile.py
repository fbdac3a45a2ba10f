"""The staff member's own settings: which unit they act in, and e-mail notifications of events.

"Min profil" of the method support: "Ta emot notifieringar" sends an e-mail when
something happens in one's enrolments (the e-mail says only that something is waiting).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import select, update

from runtime.models import LoginSession, UnitRole, User
from runtime.staff.common import render_staff
from runtime.web import AppError, CsrfForm, StaffDep, first, redirect

router = APIRouter(include_in_schema=False)

EMAIL_MAX = 200



@router.post("/personal/enhet")
def switch_unit(ctx: StaffDep, form: CsrfForm) -> Response:
    """Act in another unit where the person has a live role (the session remembers it)."""
    try:
        unit_id = int(first(form, "unit_id"))
    except ValueError:
        raise AppError(422, "Välj en vårdenhet.") from None
    has_role = ctx.db.scalar(select(UnitRole.id).where(UnitRole.user_id == ctx.user.id, UnitRole.unit_id == unit_id,
                                                       UnitRole.revoked_at.is_(None)).limit(1))
    if has_role is None:
        raise AppError(403, "Du har ingen roll på den vårdenheten.")
    ctx.db.execute(update(LoginSession).where(LoginSession.id == ctx.session.id).values(unit_id=unit_id))
    return redirect("/personal")


@router.get("/personal/profil")
def profile_page(ctx: StaffDep) -> Response:
    """E-mail address and the choice to receive notifications."""
    me = ctx.db.get(User, ctx.user.id)
    return render_staff(ctx, "staff/profile.html", current="profil", title="Min profil", me=me, error=None,
                        notice="Dina inställningar är sparade." if ctx.request.query_params.get("sparat") else None)


@router.post("/personal/profil")
def profile_save(ctx: StaffDep, form: CsrfForm) -> Response:
    """Save the e-mail address and the notification choice."""
    me = ctx.db.get(User, ctx.user.id)
    email = first(form, "email").strip()
    wants = first(form, "notify_events") == "ja"
    error = None
    if email and ("@" not in email or len(email) > EMAIL_MAX or any(c.isspace() for c in email)):
        error = "Skriv en giltig e-postadress, till exempel namn@region.se."
    elif wants and not email:
        error = "Skriv en e-postadress för att ta emot notifieringar."
    if error:
        return render_staff(ctx, "staff/profile.html", current="profil", status=422, title="Min profil", me=me,
                            error=error, form_email=email, form_notify=wants)
    me.email, me.notify_events = email or None, wants
    return redirect("/personal/profil?sparat=1")
