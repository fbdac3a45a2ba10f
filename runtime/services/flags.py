"""The missed-registration check: flags for occasions whose registration window closed unregistered.

Flags are raised where the event happens: a submitted form that has `flag_on_submit`,
a patient's message and a patient's page comment (`runtime.services.patient`), and a
missed registration, which no request causes: `check_missed_registrations` finds
occasions whose registration window closed without a registration. It runs in the
background (`runtime.jobs`, every few minutes) and, throttled, before the overview and
review pages are shown (`refresh_missed_flags`), so a therapist never looks at a stale list.

The check is idempotent: each plan remembers up to when it was checked
(`missed_checked_until`), and only occasions whose window closed after that are
looked at. Several processes may run it at once: on PostgreSQL each plan row is
locked (FOR NO KEY UPDATE SKIP LOCKED) while it is checked, on SQLite every writing
transaction holds the database's write lock; either way one plan's occasions are
checked by one transaction at a time, and the next one sees its new `missed_checked_until`.

Hiding a flag (`hide_flag`) is here too.

Must not: raise a flag for a plan that is not activated, has no start date, does not
ask for it, or belongs to an enrolment that is not active.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from runtime.context import Ctx, not_found
from runtime.enrolments import plan_schedule
from runtime.models import Enrolment, EnrolmentPlan, EnrolmentStatus, Flag, FlagKind, Registration
from runtime.packages import PackageStore
from runtime.schedule import Occasion, Schedule, format_local, iter_occasions
from runtime.services.notify import queue_staff_notice

#: How often the pages may run the check for one unit (the background job runs regardless).
PAGE_CHECK_EVERY = timedelta(minutes=1)
log = logging.getLogger("stegvis.runtime")
DETAIL_MAX = 300


def missed_occasions(schedule: Schedule, tz: ZoneInfo, checked_until: datetime | None, now: datetime,
                     registered: set[datetime]) -> list[Occasion]:
    """Occasions whose window closed in (checked_until, now] (from the start when None) without a registration."""
    out = []
    for occ in iter_occasions(schedule, tz):
        # Windows close in occasion order (a later occasion never closes earlier), so stop at the first open one.
        if occ.closes_at > now:
            break
        if checked_until is not None and occ.closes_at <= checked_until:
            continue
        if occ.at not in registered:
            out.append(occ)
    return out


def _plan_titles(db: Session, store: PackageStore | None, plans: Iterable[EnrolmentPlan]) -> dict[int, str]:
    plans = list(plans)
    ids = {p.enrolment_id for p in plans}
    versions = {row.id: (row.program_id, row.program_version) for row in db.execute(
        select(Enrolment.id, Enrolment.program_id, Enrolment.program_version).where(Enrolment.id.in_(ids)))} \
        if ids else {}
    out = {}
    for p in plans:
        title = (p.definition or {}).get("title")
        if not title and store is not None and p.plan_id and p.enrolment_id in versions:
            package = store.get(*versions[p.enrolment_id])
            title = ((package.plan(p.plan_id) if package is not None else None) or {}).get("title")
        out[p.id] = title or "Aktivitetsplan"
    return out


def check_missed_registrations(db: Session, now: datetime, tz: ZoneInfo, *, store: PackageStore | None = None,
                               unit_id: int | None = None, enrolment_ids: Iterable[int] | None = None) -> int:
    """Raise one flag per missed occasion of every active enrolment's activated plan that asks for it.

    Limited to a unit or to some enrolments when given. Returns how many flags were raised;
    the caller commits. Running it again raises nothing new.
    """
    scope = [Enrolment.status == EnrolmentStatus.active]
    if unit_id is not None:
        scope.append(Enrolment.unit_id == unit_id)
    if enrolment_ids is not None:
        scope.append(Enrolment.id.in_(list(enrolment_ids)))
    in_scope = select(Enrolment.id).where(*scope)
    flagging = (EnrolmentPlan.activated.is_(True), EnrolmentPlan.flag_missed.is_(True),
                EnrolmentPlan.start_date.is_not(None))
    # A plan that does not flag now moves its mark along, so turning the flag on (or activating the
    # plan again) later flags what is missed from then on, not what was missed while it was off.
    db.execute(update(EnrolmentPlan)
               .where(EnrolmentPlan.enrolment_id.in_(in_scope), EnrolmentPlan.missed_checked_until.is_not(None),
                      EnrolmentPlan.missed_checked_until < now,
                      or_(EnrolmentPlan.activated.is_(False), EnrolmentPlan.flag_missed.is_(False),
                          EnrolmentPlan.start_date.is_(None)))
               .values(missed_checked_until=now).execution_options(synchronize_session=False))
    plans = list(db.scalars(
        select(EnrolmentPlan).where(EnrolmentPlan.enrolment_id.in_(in_scope), *flagging,
                                    or_(EnrolmentPlan.missed_checked_until.is_(None),
                                        EnrolmentPlan.missed_checked_until < now))
        .order_by(EnrolmentPlan.id)
        # FOR NO KEY UPDATE: a patient's registration (whose foreign key takes KEY SHARE) is not held up.
        .with_for_update(of=EnrolmentPlan, skip_locked=True, key_share=True)
        .execution_options(populate_existing=True)))
    if not plans:
        return 0
    registered: dict[int, set[datetime]] = {}
    for plan_id, at in db.execute(select(Registration.plan_id, Registration.occasion_at)
                                  .where(Registration.plan_id.in_([p.id for p in plans]))):
        registered.setdefault(plan_id, set()).add(at)
    missed = {}
    for plan in plans:
        try:
            schedule = plan_schedule(plan)
            found = [] if schedule is None else missed_occasions(schedule, tz, plan.missed_checked_until, now,
                                                                 registered.get(plan.id, set()))
        except (ArithmeticError, ValueError, TypeError, KeyError, AttributeError):
            # One plan whose stored schedule cannot be read must not stop the check for every other
            # plan (issue 14); it is skipped, and logged (ids only) for someone to correct.
            log.exception("Aktivitetsplan %s i moment %s har ett schema som inte går att läsa; den hoppas över.",
                          plan.id, plan.enrolment_id)
            found = []
        if found:
            missed[plan.id] = found
        plan.missed_checked_until = now
    titles = _plan_titles(db, store, [p for p in plans if p.id in missed])
    raised = 0
    for plan in plans:
        for occ in missed.get(plan.id, []):
            db.add(Flag(enrolment_id=plan.enrolment_id, kind=FlagKind.missed_registration, ref_type="registration",
                        ref_id=plan.id, detail=f"{titles[plan.id]}: {format_local(occ.at, tz)}"[:DETAIL_MAX],
                        created_at=now))
            raised += 1
    db.flush()
    for plan in plans:
        if plan.id in missed:  # the therapist's e-mail notice, if they asked for notices (batched per person)
            queue_staff_notice(db, now, plan.enrolment, "missed_registration")
    return raised


def refresh_missed_flags(ctx: Ctx, unit_id: int) -> int:
    """Run the check for a unit before a page shows its flags, at most once a minute per unit and process."""
    # Per-app state lives on the app (not in a module global): the last run per unit.
    last = ctx.app.missed_checks
    previous = last.get(unit_id)
    if previous is not None and previous <= ctx.now < previous + PAGE_CHECK_EVERY:
        return 0
    raised = check_missed_registrations(ctx.db, ctx.now, ctx.app.tz, store=ctx.app.store, unit_id=unit_id)
    last[unit_id] = ctx.now
    return raised


def hide_flag(ctx: Ctx, enrolment: Enrolment, flag_id: int) -> bool:
    """Hide a flag of the enrolment (it leaves the review list and the overview; the event stays in the timeline).

    False when it was hidden already; 404 for a flag of another enrolment.
    """
    flag = ctx.db.get(Flag, flag_id)
    if flag is None or flag.enrolment_id != enrolment.id:
        raise not_found()
    if flag.hidden_at is not None:
        return False
    flag.hidden_at, flag.hidden_by = ctx.now, ctx.user.id
    ctx.audit("flag.hide", enrolment, f"flag:{flag.id}")
    return True
