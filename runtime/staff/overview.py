"""The staff start page: enrolments per program ("Mina", "Alla") and the "Vidmakthållna" lists.

Input: the session's unit and the staff member's roles. Output: one page. "Mina" lists
the non-ended enrolments the staff member is therapist of, "Alla" every non-ended
enrolment of the unit; both group them by program, with the patient, start date,
last login and last activity, open flags (each kind with its explanation on hover
and focus) and a "Länkat" mark, and put enrolments in maintenance in a separate,
collapsible list per program with the days left.

Four queries whatever the number of enrolments: the enrolments with their patient and
therapist, open flags counted per enrolment and kind, the enrolments that link to
these, and (before that) the throttled missed-registration check. Each listed
enrolment gets an access-log row (all in one statement): the list tells who is a
patient in which program.

Must not: show another unit's enrolments, or anything to a role without Action.overview
(access and data administrators get a page pointing to their own tools).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from runtime.models import Enrolment, EnrolmentStatus, Flag, FlagKind, Role, User
from runtime.schedule import format_day
from runtime.services.access import Action, allowed, roles
from runtime.services.flags import refresh_missed_flags
from runtime.staff.common import render_staff, staff_nav
from runtime.views import FLAG_INFO, day_text, time_text
from runtime.web import Ctx, StaffDep

router = APIRouter(include_in_schema=False)

STATUS_TEXT = {EnrolmentStatus.active: "Pågående", EnrolmentStatus.maintenance: "Vidmakthålls",
               EnrolmentStatus.ended: "Avslutat"}


def days_left_text(until: date | None, today: date) -> tuple[str, bool]:
    """How long a maintenance phase has left, in words, and whether it has run out."""
    if until is None:
        return "Ingen slutdag är satt", False
    left = (until - today).days
    if left < 0:
        return f"Har gått ut ({format_day(until)}). Patienten kan inte längre logga in; avsluta momentet.", True
    if left == 0:
        return "Sista dagen i dag", False
    return f"{left} {'dag' if left == 1 else 'dagar'} kvar, till och med {format_day(until)}", False


@dataclass(frozen=True)
class FlagBadge:
    """Open flags of one kind on one enrolment, with the explanation its tooltip shows."""

    kind: str
    symbol: str
    label: str
    count: int
    explanation: str
    tip_id: str


@dataclass
class OverviewRow:
    """One enrolment in a list."""

    id: int
    patient: str
    version: str
    started: str
    last_login: str
    last_activity: str
    status: str
    linked: bool
    therapist: str
    flags: list[FlagBadge]
    days_left: str = ""
    expired: bool = False

    @property
    def flag_count(self) -> int:
        """All open flags of the enrolment."""
        return sum(f.count for f in self.flags)


@dataclass
class ProgramGroup:
    """A program's enrolments: ongoing, and those in maintenance."""

    title: str
    html_id: str
    active: list[OverviewRow] = field(default_factory=list)
    maintained: list[OverviewRow] = field(default_factory=list)

    @property
    def any_expired(self) -> bool:
        """Whether a maintenance phase has run out (the list then opens by itself)."""
        return any(r.expired for r in self.maintained)


def flag_badges(eid: int, counts: dict[FlagKind, int]) -> list[FlagBadge]:
    """Badges for an enrolment's open flags, in the order of FLAG_INFO."""
    out = []
    for kind, info in FLAG_INFO.items():
        n = counts.get(kind, 0)
        if n:
            out.append(FlagBadge(kind.value, info.symbol, info.label, n,
                                 f"{info.meaning} {'En flagga' if n == 1 else f'{n} flaggor'} att granska.",
                                 f"flagga-{eid}-{kind.value}"))
    return out


def _program_title(ctx: Ctx, program_id: str, version: str) -> str:
    package = ctx.app.store.get(program_id, version) or ctx.app.store.latest(program_id)
    return package.title if package is not None else program_id


def overview_groups(ctx: Ctx, mine: bool) -> list[ProgramGroup]:
    """The unit's non-ended enrolments (only the staff member's own when `mine`), grouped by program."""
    tz = ctx.app.tz
    today = ctx.now.astimezone(tz).date()
    scope = [Enrolment.unit_id == ctx.session.unit_id, Enrolment.status != EnrolmentStatus.ended]
    if mine:
        scope.append(Enrolment.therapist_id == ctx.user.id)
    therapist = aliased(User)
    rows = list(ctx.db.execute(
        select(Enrolment, User.display_name, User.last_login_at, therapist.display_name)
        .join(User, User.id == Enrolment.patient_id).outerjoin(therapist, therapist.id == Enrolment.therapist_id)
        .where(*scope)))
    ids = select(Enrolment.id).where(*scope)
    counts: dict[int, dict[FlagKind, int]] = defaultdict(dict)
    for eid, kind, n in ctx.db.execute(select(Flag.enrolment_id, Flag.kind, func.count())
                                       .where(Flag.enrolment_id.in_(ids), Flag.hidden_at.is_(None))
                                       .group_by(Flag.enrolment_id, Flag.kind)):
        counts[eid][kind] = n
    linked_back = set(ctx.db.scalars(select(Enrolment.linked_to_id).where(Enrolment.linked_to_id.in_(ids))))
    listed: list[Enrolment] = []
    groups: dict[str, ProgramGroup] = {}
    titles: dict[tuple[str, str], str] = {}
    for enrolment, patient, last_login, therapist_name in rows:
        key = (enrolment.program_id, enrolment.program_version)
        if key not in titles:
            titles[key] = _program_title(ctx, *key)
        title = titles[key]
        group = groups.setdefault(title, ProgramGroup(title, f"program-{len(groups) + 1}"))
        row = OverviewRow(id=enrolment.id, patient=patient, version=enrolment.program_version,
                          started=day_text(enrolment.started_at, tz),
                          last_login=time_text(last_login, tz) or "Aldrig",
                          last_activity=time_text(enrolment.last_patient_activity_at, tz) or "Ingen än",
                          status=STATUS_TEXT[enrolment.status],
                          linked=enrolment.linked_to_id is not None or enrolment.id in linked_back,
                          therapist=therapist_name or "Ingen behandlare", flags=flag_badges(enrolment.id,
                                                                                          counts.get(enrolment.id, {})))
        if enrolment.status == EnrolmentStatus.maintenance:
            row.days_left, row.expired = days_left_text(enrolment.maintenance_until, today)
            group.maintained.append(row)
        else:
            group.active.append(row)
        listed.append(enrolment)
    ctx.audit_each("overview.list", listed)
    for group in groups.values():
        group.active.sort(key=lambda r: (r.patient.casefold(), r.id))
        group.maintained.sort(key=lambda r: (r.patient.casefold(), r.id))
    return [groups[t] for t in sorted(groups, key=str.casefold)]


def _overview(ctx: Ctx, tab: str) -> Response:
    if not allowed(ctx, Action.overview):
        tools = [link for link in staff_nav(ctx, "oversikt").links if link.key not in ("oversikt", "profil")]
        return render_staff(ctx, "staff/overview.html", current="oversikt", title="Översikt", allowed=False,
                            tools=tools, tab=tab, groups=[], therapist=False, can_start=False)
    refresh_missed_flags(ctx, ctx.session.unit_id)
    groups = overview_groups(ctx, mine=tab == "mina")
    return render_staff(ctx, "staff/overview.html", current="oversikt",
                        title="Översikt – " + ("Mina" if tab == "mina" else "Alla"), allowed=True, tools=[], tab=tab,
                        groups=groups, therapist=Role.therapist in roles(ctx),
                        can_start=allowed(ctx, Action.enrolment_start))


@router.get("/personal")
def overview_mine(ctx: StaffDep) -> Response:
    """The start page: "Mina" for a therapist; "Alla" for someone who is not a therapist of the unit."""
    if allowed(ctx, Action.overview) and Role.therapist not in roles(ctx):
        return _overview(ctx, "alla")
    return _overview(ctx, "mina")


@router.get("/personal/mina")
def overview_mine_tab(ctx: StaffDep) -> Response:
    """The "Mina" tab: enrolments the staff member is therapist of."""
    return _overview(ctx, "mina")


@router.get("/personal/alla")
def overview_all(ctx: StaffDep) -> Response:
    """The "Alla" tab: every non-ended enrolment of the unit."""
    return _overview(ctx, "alla")
