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

from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from runtime.models import AccessLogEntry, Enrolment, LoginSession, User, UserKind


def write_access(db: Session, now: datetime, user: User | None, session: LoginSession | None, action: str,
                 enrolment: Enrolment | None = None, target: str | None = None, patient_id: int | None = None) -> None:
    """Add one access-log row to the current transaction."""
    if user is None:
        role = "anonymous"
    elif user.kind == UserKind.citizen:
        role = "patient"
    else:
        role = "staff"
    unit_id = session.unit_id if session is not None and session.unit_id is not None else (
        enrolment.unit_id if enrolment is not None else None)
    # A Core insert on the table: much cheaper than the ORM's, and nothing reads the row back.
    db.connection().execute(insert(AccessLogEntry.__table__).values(
        at=now, actor_id=user.id if user else None, actor_role=role, unit_id=unit_id,
        patient_id=patient_id if patient_id is not None else (enrolment.patient_id if enrolment is not None else None),
        enrolment_id=enrolment.id if enrolment is not None else None, action=action, target=target))


def log_extract(db: Session, patient_id: int) -> list[AccessLogEntry]:
    """Every access-log row about one patient, oldest first (the basis of a log extract)."""
    return list(db.scalars(select(AccessLogEntry).where(AccessLogEntry.patient_id == patient_id)
                           .order_by(AccessLogEntry.at, AccessLogEntry.id)))
