"""The staff member's own settings (pages; the work is runtime.services.profile): unit, e-mail notices.

"Min profil" of the method support: "Ta emot notifieringar" sends an e-mail when
something happens in one's enrolments (the e-mail says only that something is waiting).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from runtime.models import User
from runtime.services.profile import save_notice_settings, switch_unit
from runtime.staff.common import render_staff
from runtime.web import AppError, CsrfForm, StaffDep, first, redirect

router = APIRouter(include_in_schema=False)


@router.post("/personal/enhet")
def switch_unit_post(ctx: StaffDep, form: CsrfForm) -> Response:
    """Act in another unit where the person has a live role (the session remembers it)."""
    switch_unit(ctx, first(form, "unit_id"))
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
    email = first(form, "email").strip()
    wants = first(form, "notify_events") == "ja"
    try:
        save_notice_settings(ctx, email, wants)
    except AppError as exc:
        if exc.status != 422:
            raise
        return render_staff(ctx, "staff/profile.html", current="profil", status=422, title="Min profil",
                            me=ctx.db.get(User, ctx.user.id), error=exc.message, form_email=email, form_notify=wants)
    return redirect("/personal/profil?sparat=1")
