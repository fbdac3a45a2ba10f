"""Who on the staff may do what: one policy table, checked by every staff route.

The method support's roles, per care unit (a role in one unit gives nothing in another):

  access administrator   gives and removes roles within the unit
  citizen administrator  sees every enrolment of the unit; starts and ends enrolments,
                         changes therapist, hands enrolments over to another unit
  therapist              starts enrolments (and becomes their therapist), works with
                         their own: customises, answers, sets maintenance, ends; may
                         read the unit's other enrolments (the "Alla" list) but not change them
  data administrator     purges ended enrolments after their retention, sets the unit's
                         retention, extracts a patient's access log

Answers a route gives: not logged in → login; logged in as a patient → 403; an
enrolment of another unit (or one that does not exist) → 404, the same answer, so ids
reveal nothing; a role that does not allow the action → 403 with a Swedish reason.

Must not: decide anything from what the browser sends about roles or units; the
session's unit and the database's roles are the only inputs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from runtime.context import AppError, Ctx, not_found
from runtime.models import Enrolment, Role, UnitRole
from runtime.packages import Package

T, C, A, D = Role.therapist, Role.citizen_admin, Role.access_admin, Role.data_admin


class Action(enum.StrEnum):
    """Everything a member of staff can do; the policy below names who may."""

    overview = "overview"  # the start page: Mina, Alla, Vidmakthållna
    enrolment_start = "enrolment_start"
    enrolment_read = "enrolment_read"  # tree, answers, registrations, timeline, messages
    enrolment_customise = "enrolment_customise"  # welcome, contacts, modules, steps, plans
    flag_hide = "flag_hide"
    message_write = "message_write"  # messages and page comments to the patient
    maintenance = "maintenance"
    end = "end"
    link = "link"
    version_move = "version_move"
    therapist_change = "therapist_change"
    handover = "handover"
    roles_manage = "roles_manage"
    packages_rescan = "packages_rescan"
    purge = "purge"
    retention_edit = "retention_edit"
    access_log_extract = "access_log_extract"


@dataclass(frozen=True)
class Rule:
    """Roles that allow an action; `own_only` roles allow it only on enrolments they are therapist of."""

    roles: frozenset[Role]
    own_only: frozenset[Role] = frozenset()
    refusal: str = "Din roll på vårdenheten räcker inte för det här."


OWN = "Bara patientens behandlare eller en invånaradministratör kan göra det här."

POLICY: dict[Action, Rule] = {
    Action.overview: Rule(frozenset({T, C})),
    Action.enrolment_start: Rule(frozenset({T, C})),
    Action.enrolment_read: Rule(frozenset({T, C})),
    Action.enrolment_customise: Rule(frozenset({T, C}), frozenset({T}), OWN),
    Action.flag_hide: Rule(frozenset({T, C}), frozenset({T}), OWN),
    Action.message_write: Rule(frozenset({T}), frozenset({T}), "Bara patientens behandlare skriver till patienten."),
    Action.maintenance: Rule(frozenset({T, C}), frozenset({T}), OWN),
    Action.end: Rule(frozenset({T, C}), frozenset({T}), OWN),
    Action.link: Rule(frozenset({T, C}), frozenset({T}), OWN),
    Action.version_move: Rule(frozenset({T, C}), frozenset({T}), OWN),
    Action.therapist_change: Rule(frozenset({C}), refusal="Bara en invånaradministratör kan byta behandlare."),
    Action.handover: Rule(frozenset({C}), refusal="Bara en invånaradministratör kan lämna över ett moment."),
    Action.roles_manage: Rule(frozenset({A}), refusal="Bara en behörighetsadministratör kan ändra roller."),
    Action.packages_rescan: Rule(frozenset({A})),
    Action.purge: Rule(frozenset({D}), refusal="Bara en dataadministratör kan gallra."),
    Action.retention_edit: Rule(frozenset({D}), refusal="Bara en dataadministratör kan ändra gallringsfrister."),
    Action.access_log_extract: Rule(frozenset({D}), refusal="Bara en dataadministratör kan ta ut loggutdrag."),
}

ROLE_NAMES = {
    Role.access_admin: "Behörighetsadministratör",
    Role.citizen_admin: "Invånaradministratör",
    Role.therapist: "Behandlare",
    Role.data_admin: "Dataadministratör",
}


def roles(ctx: Ctx) -> frozenset[Role]:
    """The staff member's live roles in the unit the session acts in (read once per request)."""
    cached = ctx.memo.get("staff_roles")
    if cached is None:
        cached = frozenset(ctx.db.scalars(select(UnitRole.role).where(
            UnitRole.user_id == ctx.user.id, UnitRole.unit_id == ctx.session.unit_id, UnitRole.revoked_at.is_(None))))
        ctx.memo["staff_roles"] = cached
    return cached


def allowed(ctx: Ctx, action: Action, enrolment: Enrolment | None = None) -> bool:
    """Whether the staff member may do `action` (on `enrolment`, which must be of their unit)."""
    rule = POLICY[action]
    mine = roles(ctx) & rule.roles
    if not mine:
        return False
    if enrolment is None or not rule.own_only:
        return True
    if enrolment.unit_id != ctx.session.unit_id:
        return False
    # Allowed if some role of mine is not limited to own enrolments, or the enrolment is mine.
    return bool(mine - rule.own_only) or enrolment.therapist_id == ctx.user.id


def require(ctx: Ctx, action: Action, enrolment: Enrolment | None = None) -> frozenset[Role]:
    """Refuse with 403 unless the policy allows the action; returns the staff member's roles."""
    if not allowed(ctx, action, enrolment):
        raise AppError(403, POLICY[action].refusal)
    return roles(ctx)


def unit_enrolment(ctx: Ctx, eid: int, action: Action = Action.enrolment_read) -> Enrolment:
    """An enrolment of the session's unit that the staff member may `action`; 404 for another unit's."""
    enrolment = ctx.db.get(Enrolment, eid, options=[joinedload(Enrolment.patient)])
    if enrolment is None or enrolment.unit_id != ctx.session.unit_id:
        raise not_found()
    # Someone with no business with enrolments (say, only a data administrator) learns nothing either.
    if not allowed(ctx, Action.enrolment_read, enrolment) and not allowed(ctx, action, enrolment):
        raise not_found()
    require(ctx, action, enrolment)
    return enrolment


def enrolment_package(ctx: Ctx, enrolment: Enrolment) -> Package:
    """The package version the enrolment is pinned to; 503 when the runtime does not serve it now."""
    package = ctx.app.store.get(enrolment.program_id, enrolment.program_version)
    if package is None:
        raise AppError(503, "Programversionen som momentet använder lämnas inte ut just nu.")
    return package
