"""Managing an enrolment (the "Hantera" tab): maintenance, ending, links, therapist, handover, version moves.

Input: a staff request context and a posted form. The work is
`runtime.services.lifecycle`: the enrolment changed in the request's transaction, with
a lifecycle event for the timeline and an access-log row; or the page again with its
Swedish reason (422 for a wrong value, 409 for an action the enrolment's state no
longer allows).

Method support, section 9: maintenance (vidmakthållande) and ending (avsluta) cannot
be undone; both are confirmed. Maintenance keeps the modules the therapist chooses
readable for a number of days and closes writing; ending takes the program away
from the patient and needs a reason. An ended enrolment cannot be changed at all.

Pages (each action through runtime.services.access):
  GET  /personal/moment/{eid}/hantera            the page (enrolment_read)
  POST /personal/moment/{eid}/vidmakthall        maintenance
  POST /personal/moment/{eid}/avsluta            end
  POST /personal/moment/{eid}/lanka              link
  POST /personal/moment/{eid}/lanka/ta-bort      link (unlink)
  POST /personal/moment/{eid}/behandlare         therapist_change
  POST /personal/moment/{eid}/overlamna          handover
  POST /personal/moment/{eid}/version            version_move
  GET  /personal/overlamnat                      the receipt after a handover (no patient data)

Version moves use the builder's package diff (builder/diff.py, builder/compat.py):
a move is allowed when the newer version's changes are patch or minor, which keep
every module, step, form, question and option id, so recorded answers stay attached.

Must not: decide roles here; reverse a maintenance or an ending.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter
from fastapi.responses import Response

from runtime.models import (
    Enrolment,
    EnrolmentStatus,
    ModuleState,
    Unit,
    User,
)
from runtime.services.access import POLICY, Action, allowed, enrolment_package, require, unit_enrolment
from runtime.services.enrolment import local_today, unit_therapists
from runtime.services.lifecycle import (
    MAINTENANCE_DAYS,
    REASONS,
    change_therapist,
    describe,
    end_enrolment,
    hand_over,
    int_or_none,
    link,
    link_candidates,
    linked_enrolments,
    move_version,
    other_units,
    start_maintenance,
    unlink,
    version_options,
)
from runtime.staff.common import render_staff
from runtime.web import AppError, CsrfForm, Ctx, StaffDep, first, redirect

router = APIRouter(include_in_schema=False)

NOTICES = {
    "vidmakthall": "Momentet vidmakthålls nu. Patienten kan läsa de valda modulerna men inte skriva.",
    "avslutat": "Momentet är avslutat. Patienten har inte längre tillgång till programmet.",
    "lankat": "Momenten är länkade.",
    "avlankat": "Länken är borttagen.",
    "behandlare": "Behandlaren är bytt.",
    "version": "Momentet använder nu den nya versionen.",
}


# --- the page ------------------------------------------------------------------------------------


@dataclass
class LinkRow:
    """Another enrolment of the patient as the page lists it (program, start date, status)."""

    id: int
    text: str
    status: str


def _status_text(e: Enrolment) -> str:
    if e.status == EnrolmentStatus.active:
        return "pågår"
    if e.status == EnrolmentStatus.maintenance:
        return "vidmakthålls"
    return "avslutat"


def manage_page(ctx: Ctx, enrolment: Enrolment, status: int = 200, errors: dict[str, str] | None = None,
                values: dict[str, object] | None = None, notice: str | None = None) -> Response:
    """The Hantera page: every action the role allows, with why the others are not offered."""
    package = ctx.app.store.get(enrolment.program_id, enrolment.program_version)
    errors, values = errors or {}, values or {}
    tz = ctx.app.tz
    ended = enrolment.status == EnrolmentStatus.ended
    may = {a.value: allowed(ctx, a, enrolment) and not ended
           for a in (Action.maintenance, Action.end, Action.link, Action.therapist_change, Action.handover,
                     Action.version_move)}
    refusals = {a.value: POLICY[a].refusal for a in Action}
    modules = []
    for em in enrolment.modules:
        module = package.module(em.module_id) if package else None
        title = module["title"] if module else em.module_id
        chosen = values.get("moduler")
        checked = em.module_id in chosen if isinstance(chosen, list) else em.state == ModuleState.current
        modules.append({"id": em.module_id, "title": title, "checked": checked,
                        "state": "aktuell" if em.state == ModuleState.current else "kommande",
                        "kept": em.in_maintenance})
    days_left = None
    if enrolment.status == EnrolmentStatus.maintenance and enrolment.maintenance_until is not None:
        days_left = (enrolment.maintenance_until - local_today(ctx)).days
    ended_by = ctx.db.get(User, enrolment.ended_by) if enrolment.ended_by else None
    linked = [LinkRow(e.id, describe(ctx, e), _status_text(e)) for e in linked_enrolments(ctx, enrolment)]
    candidates = [LinkRow(e.id, describe(ctx, e), _status_text(e)) for e in link_candidates(ctx, enrolment)] \
        if may["link"] else []
    therapists = [t for t in unit_therapists(ctx, enrolment.unit_id) if t.id != enrolment.therapist_id] \
        if may["therapist_change"] else []
    units = other_units(ctx, enrolment) if may["handover"] else []
    versions = version_options(ctx, package) if package is not None else []
    order = ["dagar", "moduler", "vidmakthall-bekrafta", "orsak", "orsak-text", "avsluta-bekrafta", "lanka",
             "lankade", "behandlare", "enhet", "overlamna-bekrafta", "version"]
    summary = sorted(errors.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order))
    ctx.audit("enrolment.read", enrolment, "page:hantera")
    return render_staff(ctx, "staff/manage.html", status=status,
                        title=("Fel: " if summary else "") + f"Hantera – {enrolment.patient.display_name}",
                        enrolment=enrolment, package=package, tab="hantera", may=may, refusals=refusals,
                        ended=ended, modules=modules, days_left=days_left, ended_by=ended_by,
                        ended_on=enrolment.ended_at.astimezone(tz).date().isoformat() if enrolment.ended_at else "",
                        reasons=REASONS, linked=linked, candidates=candidates, therapists=therapists, units=units,
                        versions=versions, errors=errors, summary=summary, values=values, notice=notice,
                        days_range=MAINTENANCE_DAYS)


@router.get("/personal/moment/{eid}/hantera")
def manage_view(eid: int, ctx: StaffDep) -> Response:
    """Maintenance, ending, links, therapist, handover and version moves of one enrolment."""
    enrolment = unit_enrolment(ctx, eid, Action.enrolment_read)
    key = ctx.request.query_params.get("klart", "")
    return manage_page(ctx, enrolment, notice=NOTICES.get(key))


def _act(ctx: Ctx, eid: int, action: Action, values: dict[str, object], work, done: str = "") -> Response:
    """Run one action (`work(enrolment)`, which may return the response to give); on a refusal show
    the page again with the reason and what was posted; else back to the page with notice `done`."""
    enrolment = unit_enrolment(ctx, eid, action)
    try:
        response = work(enrolment)
    except AppError as exc:
        if exc.status not in (409, 422):
            raise
        ctx.db.rollback()
        enrolment = unit_enrolment(ctx, eid, Action.enrolment_read)
        errors = exc.errors or {"atgard": exc.message}
        return manage_page(ctx, enrolment, status=exc.status, errors=errors, values=values)
    if isinstance(response, Response):
        return response
    return redirect(f"/personal/moment/{eid}/hantera?klart={done}")


@router.post("/personal/moment/{eid}/vidmakthall")
def maintenance_post(eid: int, ctx: StaffDep, form: CsrfForm) -> Response:
    """Start the maintenance phase (irreversible; confirmed)."""
    days, modules, sure = first(form, "dagar")[:20], form.get("moduler", [])[:200], first(form, "bekrafta") == "ja"

    def work(enrolment: Enrolment) -> None:
        start_maintenance(ctx, enrolment, enrolment_package(ctx, enrolment), days, modules, sure)

    return _act(ctx, eid, Action.maintenance, {"dagar": days, "moduler": modules}, work, "vidmakthall")


@router.post("/personal/moment/{eid}/avsluta")
def end_post(eid: int, ctx: StaffDep, form: CsrfForm) -> Response:
    """End the enrolment with a reason (irreversible; confirmed)."""
    reason, text, sure = first(form, "orsak"), first(form, "orsak-text")[:2000], first(form, "bekrafta") == "ja"

    return _act(ctx, eid, Action.end, {"orsak": reason, "orsak-text": text},
                lambda e: end_enrolment(ctx, e, reason, text, sure), "avslutat")


@router.post("/personal/moment/{eid}/lanka")
def link_post(eid: int, ctx: StaffDep, form: CsrfForm) -> Response:
    """Link another enrolment of the same patient."""
    return _act(ctx, eid, Action.link, {}, lambda e: link(ctx, e, first(form, "moment")), "lankat")


@router.post("/personal/moment/{eid}/lanka/ta-bort")
def unlink_post(eid: int, ctx: StaffDep, form: CsrfForm) -> Response:
    """Remove a link."""
    return _act(ctx, eid, Action.link, {}, lambda e: unlink(ctx, e, first(form, "moment")), "avlankat")


@router.post("/personal/moment/{eid}/behandlare")
def therapist_post(eid: int, ctx: StaffDep, form: CsrfForm) -> Response:
    """Change the therapist (citizen administrators)."""
    return _act(ctx, eid, Action.therapist_change, {},
                lambda e: change_therapist(ctx, e, first(form, "behandlare")), "behandlare")


@router.post("/personal/moment/{eid}/overlamna")
def handover_post(eid: int, ctx: StaffDep, form: CsrfForm) -> Response:
    """Hand the enrolment over to another unit (citizen administrators); this unit loses access."""
    unit_text, sure = first(form, "enhet"), first(form, "bekrafta") == "ja"

    def work(enrolment: Enrolment) -> Response:
        unit = hand_over(ctx, enrolment, unit_text, sure)
        return redirect(f"/personal/overlamnat?enhet={unit.id}")

    return _act(ctx, eid, Action.handover, {"enhet": unit_text}, work)


@router.post("/personal/moment/{eid}/version")
def version_post(eid: int, ctx: StaffDep, form: CsrfForm) -> Response:
    """Move the enrolment to a newer version of its program (patch or minor changes only)."""

    def work(enrolment: Enrolment) -> None:
        move_version(ctx, enrolment, enrolment_package(ctx, enrolment), first(form, "version")[:50])

    return _act(ctx, eid, Action.version_move, {}, work, "version")


@router.get("/personal/overlamnat")
def handed_over(ctx: StaffDep) -> Response:
    """The receipt after a handover: which unit has the enrolment now (no patient data is shown)."""
    require(ctx, Action.handover)
    unit_id = int_or_none(ctx.request.query_params.get("enhet", ""))
    unit = ctx.db.get(Unit, unit_id) if unit_id is not None else None
    return render_staff(ctx, "staff/manage_done.html", title="Momentet är överlämnat",
                        unit_name=unit.name if unit else None)

