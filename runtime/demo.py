"""`stegvis runtime --demo`: a care unit, a therapist and two patients in FRAMÅT, so a newcomer sees a working program.

Idempotent: run again, it finds the demo unit and does nothing. The logins are in
README.md ("Runtime"). The personnummer are Skatteverket-style test numbers that
pass the check digit; they belong to no one.

Must not: run against a database with real patients without the operator asking
for it (the CLI prints a warning when the database is not SQLite).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from runtime.auth import LocalAccountProvider
from runtime.enrolments import create_enrolment
from runtime.identity import parse_personal_number
from runtime.models import (
    AuthorRole,
    Contact,
    Message,
    MessageThread,
    Registration,
    Role,
    Unit,
    UnitRole,
    User,
    UserKind,
)
from runtime.packages import PackageStore
from runtime.schedule import Schedule, occasions_between

DEMO_UNIT_HSA = "SE0000000000-DEMO"
PROGRAM = "framat"


@dataclass(frozen=True)
class DemoLogin:
    """A demo account: who, username, password."""

    who: str
    username: str
    password: str


LOGINS = (
    DemoLogin("Behandlare Tove Lind (behandlare och invånaradministratör)", "behandlare", "demo-behandlare"),
    DemoLogin("Patient Anna Andersson (har kommit en bit, med aktivitetsplaner)", "anna", "demo-anna"),
    DemoLogin("Patient Bertil Berg (nystartad)", "bertil", "demo-bertil"),
)


class DemoError(RuntimeError):
    """The demo cannot be seeded (e.g. no FRAMÅT package); the message says what to do."""


def seed_demo(db: Session, store: PackageStore, accounts: LocalAccountProvider, now: datetime,
              tz) -> bool:
    """Create the demo unit, accounts and enrolments; False when they already exist."""
    if db.scalar(select(Unit).where(Unit.hsa_id == DEMO_UNIT_HSA)) is not None:
        return False
    package = store.latest(PROGRAM)
    if package is None:
        raise DemoError(f"Paketet '{PROGRAM}' finns inte i {store.root}. Kör först `make build` (eller "
                        "`stegvis build`) och starta sedan om med --demo.")
    unit = Unit(name="Hälsocentralen Demo", hsa_id=DEMO_UNIT_HSA, created_at=now)
    db.add(unit)
    therapist = User(kind=UserKind.staff, display_name="Tove Lind", hsa_id="SE0000000000-DEMO1", created_at=now)
    anna = User(kind=UserKind.citizen, display_name="Anna Andersson",
                personal_number=parse_personal_number("19121212-1212").digits, created_at=now)
    bertil = User(kind=UserKind.citizen, display_name="Bertil Berg",
                  personal_number=parse_personal_number("19701063-2391").digits, created_at=now)
    db.add_all([therapist, anna, bertil])
    db.flush()
    for role in (Role.therapist, Role.citizen_admin, Role.data_admin):
        db.add(UnitRole(user_id=therapist.id, unit_id=unit.id, role=role, granted_at=now))
    for login, user in zip(LOGINS, (therapist, anna, bertil), strict=True):
        accounts.set_password(db, user, login.username, login.password, now)

    started = now - timedelta(days=15)
    first = create_enrolment(db, anna, unit, package, started, therapist=therapist, started_by=therapist)
    first.welcome_text = ("Hej Anna och välkommen till FRAMÅT!\n\nJag heter Tove och är din behandlare. "
                          "Börja med modulen Introduktion och fyll i formuläret Min hälsa i dag. "
                          "Skriv till mig under Meddelanden om du undrar något.\n\nHälsningar Tove")
    first.contacts.insert(0, Contact(position=0, name="Tove Lind", role="Behandlare, Hälsocentralen Demo",
                                     phone="0920-00 00 00", hours="vardagar 8–16", added_by=AuthorRole.therapist))
    for i, c in enumerate(first.contacts):
        c.position = i
    db.flush()
    today = now.astimezone(tz).date()
    for plan in first.plans:
        plan.start_date, plan.activated, plan.updated_at = today - timedelta(days=14), True, now
    goal = next((p for p in first.plans if p.plan_id == "malsattning-steg"), None)
    steps = next((p for p in first.plans if p.plan_id == "antal-steg"), None)
    if goal is not None:
        schedule = Schedule(goal.start_date, goal.repeat_every_weeks, goal.days, goal.registration_window_days)
        for occ in occasions_between(schedule, tz, now - timedelta(days=15), now - timedelta(days=1))[:1]:
            db.add(Registration(plan_id=goal.id, occasion_at=occ.at, values={"mal": 7000},
                                comment="Jag börjar lugnt.", registered_at=occ.at))
    if steps is not None:
        schedule = Schedule(steps.start_date, steps.repeat_every_weeks, steps.days, steps.registration_window_days)
        counts = [4200, 5100, 3900, 6100, 5600, 7200, 6800, 4800, 7600, 8100]
        for occ, count in zip(occasions_between(schedule, tz, now - timedelta(days=15), now - timedelta(days=2)),
                              counts, strict=False):
            db.add(Registration(plan_id=steps.id, occasion_at=occ.at, values={"steg": count}, comment=None,
                                registered_at=occ.at + timedelta(hours=1)))
    thread = MessageThread(enrolment_id=first.id, subject="Välkommen till programmet", created_by=therapist.id,
                           created_at=started, last_message_at=started)
    db.add(thread)
    db.flush()
    db.add(Message(thread_id=thread.id, sender_id=therapist.id, sender_role=AuthorRole.therapist, notify=True,
                   body="Hej Anna! Nu är ditt program startat. Hör av dig här om du har frågor. /Tove",
                   created_at=started))
    create_enrolment(db, bertil, unit, package, now - timedelta(days=1), therapist=therapist, started_by=therapist)
    db.flush()
    return True
