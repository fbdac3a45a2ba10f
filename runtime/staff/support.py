"""Support for staff (issue #15, method support sections 6 and 14): whom to ask, and deviation reporting.

Input: a staff request context. Output: the Support page, open to every member of
staff: the support contacts of each served program (program.yaml `support_contacts`,
newest version of each program) and the link to the region's deviation reporting
(RuntimeSettings.deviation_report_url, also linked from every staff page's header).

Must not: read patient data (the page writes no access-log row for that reason).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter
from fastapi.responses import Response

from runtime.packages import version_key
from runtime.staff.common import render_staff
from runtime.web import StaffDep

router = APIRouter(include_in_schema=False)


@dataclass
class SupportContact:
    """One support contact as the page shows it."""

    name: str
    role: str
    phone: str | None
    email: str | None
    hours: str | None
    url: str | None


@dataclass
class ProgramSupport:
    """A served program and its support contacts for staff."""

    title: str
    version: str
    contacts: list[SupportContact]


@router.get("/personal/support")
def support_page(ctx: StaffDep) -> Response:
    """Support contacts for staff per program, and where to report a deviation."""
    newest = {}
    for p in ctx.app.store.all():
        if p.program_id not in newest or version_key(p.version) > version_key(newest[p.program_id].version):
            newest[p.program_id] = p
    programs = [ProgramSupport(p.title, p.version, [
        SupportContact(c.name, " ".join((c.role or "").split()), c.phone, c.email, c.hours, c.url)
        for c in p.data.program.support_contacts]) for p in sorted(newest.values(), key=lambda p: p.title.lower())]
    return render_staff(ctx, "staff/support.html", current="support", title="Support", programs=programs,
                        deviation_url=ctx.app.settings.deviation_report_url)
