"""Lifecycle events of an enrolment (started, customised, maintenance, ended…) for the timeline.

Written in the same transaction as the change they describe, next to its access-log
row: the event is patient data (purged with the enrolment), the log row is not.
"""

from __future__ import annotations

from runtime.context import Ctx
from runtime.models import Enrolment, EnrolmentEvent, EventKind

DETAIL_MAX = 2000


def record(ctx: Ctx, enrolment: Enrolment, kind: EventKind, detail: str = "") -> EnrolmentEvent:
    """Add one event by the current user; `detail` is a short Swedish description (no personnummer)."""
    event = EnrolmentEvent(enrolment_id=enrolment.id, at=ctx.now, actor_id=ctx.user.id if ctx.user else None,
                           kind=kind, detail=detail[:DETAIL_MAX])
    ctx.db.add(event)
    return event
