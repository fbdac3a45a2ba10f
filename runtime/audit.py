"""The access log: one append-only row per read or write of patient data.

Who (user id and role), in which unit, whose data (the patient's user id), which
enrolment, what (a dotted action such as `form.submit`), on what (e.g.
`form:halsoprofil`), and when. The row is written in the same transaction as the
work it records, so a write and its log row are both kept or both lost. The
database refuses UPDATE and DELETE on the table (triggers), and the table has no
foreign keys, so a purge of the enrolment leaves its log behind for the extract.

Must not: write names, answers or personnummer into the log; ids only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, func, insert, or_, select
from sqlalchemy.orm import Session

from runtime.models import AccessLogEntry, Enrolment, LoginSession, PurgeReceipt, User, UserKind

#: The access log's insert; the values come with each execution.
_INSERT = insert(AccessLogEntry.__table__)


def _access_row(now: datetime, user: User | None, session: LoginSession | None, action: str,
                enrolment: Enrolment | None, target: str | None, patient_id: int | None,
                unit_id: int | None = None) -> dict:
    if user is None:
        role = "anonymous"
    elif user.kind == UserKind.citizen:
        role = "patient"
    else:
        role = "staff"
    if session is not None and session.unit_id is not None:
        unit_id = session.unit_id
    elif enrolment is not None:
        unit_id = enrolment.unit_id
    return dict(at=now, actor_id=user.id if user else None, actor_role=role, unit_id=unit_id,
                patient_id=patient_id if patient_id is not None else (
                    enrolment.patient_id if enrolment is not None else None),
                enrolment_id=enrolment.id if enrolment is not None else None, action=action, target=target)


def write_access(db: Session, now: datetime, user: User | None, session: LoginSession | None, action: str,
                 enrolment: Enrolment | None = None, target: str | None = None, patient_id: int | None = None,
                 unit_id: int | None = None) -> None:
    """Add one access-log row to the current transaction (`unit_id`: the unit to tell, when
    neither the session nor the enrolment names one)."""
    # A Core insert on the table, made once (its compiled form is cached): much cheaper than the
    # ORM's, and nothing reads the row back.
    db.connection().execute(_INSERT, _access_row(now, user, session, action, enrolment, target, patient_id, unit_id))


def write_access_each(db: Session, now: datetime, user: User | None, session: LoginSession | None, action: str,
                      enrolments: Sequence[Enrolment]) -> None:
    """One access-log row per enrolment (the rows `write_access` would write), as one statement."""
    if enrolments:
        db.connection().execute(_INSERT, [_access_row(now, user, session, action, e, None, None) for e in enrolments])


#: The access-log target that names a purge receipt (the rows of extracts taken after the person was purged).
RECEIPT_TARGET = "gallringskvitto:{id}"


def log_extract(db: Session, patient_id: int | None, receipts: Sequence[PurgeReceipt] = ()) -> list[AccessLogEntry]:
    """Every access-log row about one person, oldest first (the basis of a log extract).

    The person is their live user id (when they have one) and the purge receipts of
    their earlier, purged user rows. A user id may be given anew after its person was
    purged (SQLite reuses the highest rowid), so each id is read only within the time
    it belonged to this person: a live id from its user's creation and after any purge
    of an earlier holder; a purged id up to its purge and after the purge before it.
    """
    conditions = []
    if patient_id is not None:
        live = AccessLogEntry.patient_id == patient_id
        user = db.get(User, patient_id)
        if user is not None:
            live = and_(live, AccessLogEntry.at >= user.created_at)
        earlier = db.scalar(select(func.max(PurgeReceipt.purged_at)).where(PurgeReceipt.former_user_id == patient_id))
        if earlier is not None:
            live = and_(live, AccessLogEntry.at > earlier)
        conditions.append(live)
    for receipt in receipts:
        held = and_(AccessLogEntry.patient_id == receipt.former_user_id, AccessLogEntry.at <= receipt.purged_at)
        before = db.scalar(select(func.max(PurgeReceipt.purged_at)).where(
            PurgeReceipt.former_user_id == receipt.former_user_id, PurgeReceipt.purged_at < receipt.purged_at))
        if before is not None:
            held = and_(held, AccessLogEntry.at > before)
        conditions.append(held)
        conditions.append(and_(AccessLogEntry.patient_id.is_(None),
                               AccessLogEntry.target == RECEIPT_TARGET.format(id=receipt.id)))
    if not conditions:
        return []
    return list(db.scalars(select(AccessLogEntry).where(or_(*conditions))
                           .order_by(AccessLogEntry.at, AccessLogEntry.id)))
