"""Flags (händelser att granska): the page that explains each kind, and hiding one.

What each kind means is `runtime.views.FLAG_INFO`; raising them is the services' work
(`runtime.services.patient` where the patient acts, `runtime.services.flags` for
missed registrations).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from runtime.services.access import Action, require, unit_enrolment
from runtime.services.flags import hide_flag
from runtime.staff.common import render_staff
from runtime.views import FLAG_INFO, HIDING
from runtime.web import CsrfForm, StaffDep, redirect

router = APIRouter(include_in_schema=False)


# --- pages ---------------------------------------------------------------------------------------


@router.get("/personal/flaggor")
def flag_types(ctx: StaffDep) -> Response:
    """Every kind of flag: its symbol, what it means, when it is raised and how it goes away."""
    require(ctx, Action.overview)
    return render_staff(ctx, "staff/flags.html", current="flaggor", title="Flaggor", kinds=list(FLAG_INFO.values()),
                        hiding=HIDING)


@router.post("/personal/moment/{eid}/flaggor/{flag_id}/dolj")
def hide_flag_post(eid: int, flag_id: int, ctx: StaffDep, form: CsrfForm) -> Response:
    """Hide a flag of the enrolment: it leaves the review list and the overview (the event stays in the timeline)."""
    enrolment = unit_enrolment(ctx, eid, Action.flag_hide)
    if hide_flag(ctx, enrolment, flag_id):
        return redirect(f"/personal/moment/{enrolment.id}?dold=1#handelser")
    return redirect(f"/personal/moment/{enrolment.id}?redan-dold=1#handelser")
