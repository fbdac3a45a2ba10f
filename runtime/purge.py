"""Purge (gallring): removing ended enrolments' patient data once their retention has passed.

Input: a database session, the time, the unit's retention per data category, the
runtime's secret. Output: rows deleted, purge receipts and access-log rows written
(through the caller's `audit`), and a `PurgeReport`. Used by the data administrator's
page (runtime/staff/admin.py) and callable from a command line as it is.

Data categories, each kept `keep_days` after the enrolment ended (per unit; 0-3650):

  svar         form answers and drafts, page comments, activity-plan registrations,
               and the flags about them
  meddelanden  message threads with their messages (and read receipts), and their flags
  moment       the enrolment itself and everything left of it: welcome text, contacts,
               modules, step choices and openings, activity plans, lifecycle events,
               notifications, end reason. One DELETE of the enrolment cascades to all
               its rows, so it is due only when every category's retention has passed.

When a person has no enrolment left, in any unit, the person goes too (their `users`
row; credentials and sessions cascade), after a `PurgeReceipt` is written: an HMAC of
the personnummer with the runtime's secret and the former user id, so that an
access-log extract can still be produced for them. The access log itself is never
touched (the database refuses it anyway).

Must not: purge an enrolment that is not ended, not of the given unit, or not due;
trust ids from a form without checking them against these rules.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from runtime.audit import RECEIPT_TARGET
from runtime.models import (
    AccessLogEntry,
    Enrolment,
    EnrolmentPlan,
    EnrolmentStatus,
    Flag,
    FlagKind,
    FormDraft,
    FormSubmission,
    MessageThread,
    PageComment,
    PurgeReceipt,
    Registration,
    RetentionRule,
    User,
    UserKind,
)

MAX_KEEP_DAYS = 3650


@dataclass(frozen=True)
class Category:
    """A data category with its own retention; `name` and `description` are shown on the purge page."""

    key: str
    name: str
    description: str
    default_days: int = 0


CATEGORIES: tuple[Category, ...] = (
    Category("svar", "Svar och registreringar",
             "Formulärsvar och utkast, sidkommentarer och registreringar i aktivitetsplaner, "
             "och flaggorna om dem."),
    Category("meddelanden", "Meddelanden",
             "Meddelandetrådar med alla meddelanden och läskvitton, och flaggorna om dem."),
    Category("moment", "Momentet",
             "Allt som är kvar av momentet: välkomsttext, kontakter, moduler, dolda och öppnade steg, "
             "aktivitetsplaner, händelser på tidslinjen, aviseringar och orsaken till avslutet. "
             "Momentet gallras först när fristerna för alla kategorier har gått ut. När patienten inte "
             "har något moment kvar gallras också personen (namn och personnummer)."),
)
CATEGORY_KEYS = tuple(c.key for c in CATEGORIES)
BY_KEY = {c.key: c for c in CATEGORIES}

#: Flags that belong with each category (they point at its rows and may quote them).
FLAG_KINDS = {
    "svar": (FlagKind.form_submitted, FlagKind.page_comment, FlagKind.missed_registration),
    "meddelanden": (FlagKind.message,),
}

#: Called before a deletion, like `Ctx.audit`: (action, enrolment, target, patient_id).
Audit = Callable[..., None]


def subject_key(secret: bytes, personal_number: str) -> str:
    """The receipt's key for a person: HMAC-SHA256 of the 12-digit personnummer, hex."""
    return hmac.new(secret, personal_number.encode("ascii"), hashlib.sha256).hexdigest()


# --- retention -----------------------------------------------------------------------------------


def retention(db: Session, unit_id: int) -> dict[str, int]:
    """Days each category is kept after an enrolment ends, in a unit (defaults where no rule is set)."""
    rules = {c.key: c.default_days for c in CATEGORIES}
    for rule in db.scalars(select(RetentionRule).where(RetentionRule.unit_id == unit_id)):
        if rule.category in rules:
            rules[rule.category] = rule.keep_days
    return rules


def set_retention(db: Session, unit_id: int, days: dict[str, int]) -> dict[str, tuple[int, int]]:
    """Store a unit's retention; returns the categories changed as key -> (before, after)."""
    current = {r.category: r for r in db.scalars(select(RetentionRule).where(RetentionRule.unit_id == unit_id))}
    before = retention(db, unit_id)
    changed = {}
    for key, value in days.items():
        if key not in BY_KEY:
            raise ValueError(f"unknown retention category {key!r}")
        if not 0 <= value <= MAX_KEEP_DAYS:
            raise ValueError(f"retention out of range: {value}")
        if key in current:
            current[key].keep_days = value
        else:
            db.add(RetentionRule(unit_id=unit_id, category=key, keep_days=value))
        if before[key] != value:
            changed[key] = (before[key], value)
    db.flush()
    return changed


def due_times(ended_at: datetime, rules: dict[str, int]) -> dict[str, datetime]:
    """When each category of an enrolment ended at `ended_at` becomes due ("moment": the latest of all)."""
    out = {key: ended_at + timedelta(days=rules[key]) for key in CATEGORY_KEYS}
    out["moment"] = max(out.values())
    return out


# --- what is due ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryState:
    """One category of one ended enrolment: when it is due, whether it is, and how many rows are left."""

    category: Category
    due_at: datetime
    due: bool
    remaining: int

    @property
    def purgeable(self) -> bool:
        """Due and something left to delete."""
        return self.due and self.remaining > 0


@dataclass(frozen=True)
class Candidate:
    """An ended enrolment of the unit, with the state of each data category."""

    enrolment_id: int
    patient_id: int
    program_id: str
    program_version: str
    ended_at: datetime
    categories: tuple[CategoryState, ...]

    @property
    def due(self) -> bool:
        """Whether a purge now would delete something."""
        return any(c.purgeable for c in self.categories)

    def state(self, key: str) -> CategoryState:
        """The state of one category."""
        return next(c for c in self.categories if c.category.key == key)


def _counts(db: Session, ids: list[int]) -> dict[str, dict[int, int]]:
    """Rows left per category and enrolment (the enrolment row itself counts 1 for "moment")."""
    out: dict[str, dict[int, int]] = {key: {} for key in CATEGORY_KEYS}
    if not ids:
        return out

    def add(key: str, query) -> None:
        for eid, n in db.execute(query):
            out[key][eid] = out[key].get(eid, 0) + n

    for model in (FormSubmission, FormDraft, PageComment):
        add("svar", select(model.enrolment_id, func.count()).where(model.enrolment_id.in_(ids))
            .group_by(model.enrolment_id))
    add("svar", select(EnrolmentPlan.enrolment_id, func.count()).join(Registration, Registration.plan_id ==
                                                                       EnrolmentPlan.id)
        .where(EnrolmentPlan.enrolment_id.in_(ids)).group_by(EnrolmentPlan.enrolment_id))
    add("meddelanden", select(MessageThread.enrolment_id, func.count()).where(MessageThread.enrolment_id.in_(ids))
        .group_by(MessageThread.enrolment_id))
    for key, kinds in FLAG_KINDS.items():
        add(key, select(Flag.enrolment_id, func.count()).where(Flag.enrolment_id.in_(ids), Flag.kind.in_(kinds))
            .group_by(Flag.enrolment_id))
    out["moment"] = {eid: 1 for eid in ids}
    return out


def _ended(db: Session, unit_id: int, ids: Iterable[int] | None = None, lock: bool = False) -> list[Enrolment]:
    query = (select(Enrolment).where(Enrolment.unit_id == unit_id, Enrolment.status == EnrolmentStatus.ended,
                                     Enrolment.ended_at.is_not(None)).order_by(Enrolment.ended_at, Enrolment.id))
    if ids is not None:
        query = query.where(Enrolment.id.in_(list(ids)))
    if lock:
        query = query.with_for_update()  # PostgreSQL: a second purge waits, then finds the rows gone
    return list(db.scalars(query))


def candidates(db: Session, unit_id: int, now: datetime, rules: dict[str, int],
               ids: Iterable[int] | None = None) -> list[Candidate]:
    """The unit's ended enrolments (or those of `ids` that are), oldest ended first, with what is due."""
    return _candidates(db, _ended(db, unit_id, ids), now, rules)


def _candidates(db: Session, rows: list[Enrolment], now: datetime, rules: dict[str, int]) -> list[Candidate]:
    counts = _counts(db, [e.id for e in rows])
    out = []
    for e in rows:
        times = due_times(e.ended_at, rules)
        states = tuple(CategoryState(c, times[c.key], now >= times[c.key], counts[c.key].get(e.id, 0))
                       for c in CATEGORIES)
        out.append(Candidate(e.id, e.patient_id, e.program_id, e.program_version, e.ended_at, states))
    return out


def overdue_maintenance(db: Session, unit_id: int, today: date) -> list[Enrolment]:
    """Enrolments in maintenance whose time has passed: they must be ended before they can be purged."""
    return list(db.scalars(select(Enrolment).where(
        Enrolment.unit_id == unit_id, Enrolment.status == EnrolmentStatus.maintenance,
        Enrolment.maintenance_until.is_not(None), Enrolment.maintenance_until < today)
        .order_by(Enrolment.maintenance_until, Enrolment.id)))


# --- purging -------------------------------------------------------------------------------------


@dataclass
class PurgeReport:
    """What one purge did."""

    enrolments: list[int] = field(default_factory=list)  # deleted whole
    categories: dict[int, list[str]] = field(default_factory=dict)  # enrolment -> categories deleted
    people: list[int] = field(default_factory=list)  # former user ids of the persons deleted
    receipts: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)  # requested but not purged, and why

    @property
    def touched(self) -> int:
        """Enrolments purged whole or in part."""
        return len(set(self.enrolments) | set(self.categories))


def _delete_category(db: Session, eid: int, key: str) -> None:
    if key == "svar":
        for model in (FormSubmission, FormDraft, PageComment):
            db.execute(delete(model).where(model.enrolment_id == eid))
        db.execute(delete(Registration).where(Registration.plan_id.in_(
            select(EnrolmentPlan.id).where(EnrolmentPlan.enrolment_id == eid))))
    elif key == "meddelanden":
        db.execute(delete(MessageThread).where(MessageThread.enrolment_id == eid))  # messages cascade
    else:
        raise ValueError(key)
    db.execute(delete(Flag).where(Flag.enrolment_id == eid, Flag.kind.in_(FLAG_KINDS[key])))


def _purge_person(db: Session, user: User, now: datetime, unit_id: int, secret: bytes, actor_id: int | None,
                  audit: Audit) -> PurgeReceipt:
    # Every enrolment of theirs ever purged, counted from the log (this run's rows are in it already).
    purged = db.scalar(select(func.count(func.distinct(AccessLogEntry.enrolment_id))).where(
        AccessLogEntry.patient_id == user.id, AccessLogEntry.action == "purge.enrolment",
        AccessLogEntry.at >= user.created_at)) or 0
    key = subject_key(secret, user.personal_number) if user.personal_number else \
        subject_key(secret, f"user:{user.id}:{user.created_at.isoformat()}")  # findable by nobody
    receipt = PurgeReceipt(subject_key=key, former_user_id=user.id, unit_id=unit_id, purged_at=now,
                           purged_by=actor_id, enrolments=purged)
    db.add(receipt)
    db.flush()
    audit("purge.person", None, RECEIPT_TARGET.format(id=receipt.id), user.id)
    db.execute(delete(User).where(User.id == user.id))  # credentials, sessions, notices cascade
    return receipt


def purge(db: Session, now: datetime, unit_id: int, rules: dict[str, int], secret: bytes | Callable[[], bytes],
          audit: Audit, actor_id: int | None = None, enrolment_ids: Iterable[int] | None = None) -> PurgeReport:
    """Purge what is due of the unit's ended enrolments (all of them, or those of `enrolment_ids`).

    `secret` (or a function giving it, called only when a person is purged) keys the
    receipts' HMAC.

    `audit(action, enrolment, target, patient_id)` is called once per deletion before it
    happens ("purge.enrolment", "purge.category", "purge.person"); the caller writes the
    access-log row (Ctx.audit, or `write_access` from a command line).
    """
    wanted = None if enrolment_ids is None else sorted(set(enrolment_ids))
    ended = _ended(db, unit_id, wanted, lock=True)
    found = _candidates(db, ended, now, rules)
    rows = {e.id: e for e in ended}
    report = PurgeReport()
    if wanted is not None:
        report.skipped.update({eid: "inte ett avslutat moment på enheten" for eid in wanted if eid not in rows})
    whole: list[Enrolment] = []
    for c in found:
        enrolment = rows[c.enrolment_id]
        if not c.due:
            if wanted is not None:
                report.skipped[c.enrolment_id] = "gallringsfristen har inte gått ut"
            continue
        if c.state("moment").due:
            audit("purge.enrolment", enrolment, "kategori:moment", None)
            whole.append(enrolment)
            continue
        for state in c.categories:
            if state.purgeable:
                audit("purge.category", enrolment, f"kategori:{state.category.key}", None)
                _delete_category(db, c.enrolment_id, state.category.key)
                report.categories.setdefault(c.enrolment_id, []).append(state.category.key)
    if whole:
        db.execute(delete(Enrolment).where(Enrolment.id.in_([e.id for e in whole])))  # everything cascades
        report.enrolments = [e.id for e in whole]
    for patient_id in sorted({e.patient_id for e in whole}):
        left = db.scalar(select(func.count()).select_from(Enrolment).where(Enrolment.patient_id == patient_id))
        user = db.get(User, patient_id)
        if left or user is None or user.kind != UserKind.citizen:
            continue
        receipt = _purge_person(db, user, now, unit_id, secret() if callable(secret) else secret, actor_id, audit)
        report.people.append(patient_id)
        report.receipts.append(receipt.id)
    return report
