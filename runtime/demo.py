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

from runtime import forms as formcheck
from runtime.auth import LocalAccountProvider
from runtime.enrolments import create_enrolment, form_location
from runtime.identity import parse_personal_number
from runtime.models import (
    AuthorRole,
    Contact,
    EnrolmentEvent,
    EnrolmentStatus,
    EventKind,
    Flag,
    FlagKind,
    FormSubmission,
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
    DemoLogin("Administratör Adam Ahl (behörighets- och dataadministratör)", "admin", "demo-admin"),
    DemoLogin("Behandlare Erik Ek, Hälsocentralen Demo Norr (alla roller där)", "erik", "demo-erik"),
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
    north = Unit(name="Hälsocentralen Demo Norr", hsa_id=DEMO_UNIT_HSA + "-NORR", created_at=now)
    db.add_all([unit, north])
    therapist = User(kind=UserKind.staff, display_name="Tove Lind", hsa_id="SE0000000000-DEMO1", created_at=now,
                     email="tove.lind@example.invalid")
    anna = User(kind=UserKind.citizen, display_name="Anna Andersson", email="anna@example.invalid",
                personal_number=parse_personal_number("19121212-1212").digits, created_at=now)
    bertil = User(kind=UserKind.citizen, display_name="Bertil Berg", phone="+46700000000",
                  personal_number=parse_personal_number("19701063-2391").digits, created_at=now)
    admin = User(kind=UserKind.staff, display_name="Adam Ahl", hsa_id="SE0000000000-DEMO2", created_at=now)
    erik = User(kind=UserKind.staff, display_name="Erik Ek", hsa_id="SE0000000000-DEMO3", created_at=now)
    cecilia = User(kind=UserKind.citizen, display_name="Cecilia Carlsson",
                   personal_number=parse_personal_number("19400107-9120").digits, created_at=now)
    david = User(kind=UserKind.citizen, display_name="David Dahl",
                 personal_number=parse_personal_number("19620307-2084").digits, created_at=now)
    db.add_all([therapist, anna, bertil, admin, erik, cecilia, david])
    db.flush()
    for user, where, role in ((therapist, unit, Role.therapist), (therapist, unit, Role.citizen_admin),
                              (admin, unit, Role.access_admin), (admin, unit, Role.data_admin),
                              (erik, north, Role.therapist), (erik, north, Role.citizen_admin),
                              (erik, north, Role.access_admin)):
        db.add(UnitRole(user_id=user.id, unit_id=where.id, role=role, granted_at=now))
    for login, user in zip(LOGINS, (therapist, anna, bertil, admin, erik), strict=True):
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
    _health_profile(db, package, first, started + timedelta(days=1))
    db.flush()
    db.add(Message(thread_id=thread.id, sender_id=anna.id, sender_role=AuthorRole.patient,
                   body="Tack Tove! Jag har fyllt i Min hälsa i dag. Hur ofta ska jag registrera steg?",
                   created_at=now - timedelta(hours=20)))
    thread.last_message_at = now - timedelta(hours=20)
    db.flush()
    latest = thread.messages[-1] if thread.messages else None
    if latest is not None:
        db.add(Flag(enrolment_id=first.id, kind=FlagKind.message, ref_type="message", ref_id=latest.id,
                    detail=thread.subject, created_at=latest.created_at))
    second = create_enrolment(db, bertil, unit, package, now - timedelta(days=1), therapist=therapist,
                              started_by=therapist)

    # Cecilia keeps her program for a while after treatment (vidmakthållande); David's has ended.
    kept = create_enrolment(db, cecilia, unit, package, now - timedelta(days=70), therapist=therapist,
                            started_by=therapist)
    kept.status, kept.maintenance_started_at = EnrolmentStatus.maintenance, now - timedelta(days=10)
    kept.maintenance_until = today + timedelta(days=20)
    ended = create_enrolment(db, david, unit, package, now - timedelta(days=120), therapist=therapist,
                             started_by=therapist)
    ended.status, ended.ended_at, ended.ended_by = EnrolmentStatus.ended, now - timedelta(days=40), therapist.id
    ended.end_reason = "Behandlingen är genomförd"
    for e, when in ((first, started), (second, now - timedelta(days=1)), (kept, now - timedelta(days=70)),
                    (ended, now - timedelta(days=120))):
        db.add(EnrolmentEvent(enrolment_id=e.id, at=when, actor_id=therapist.id, kind=EventKind.started,
                              detail=f"Momentet startades i version {package.version}."))
    db.add(EnrolmentEvent(enrolment_id=kept.id, at=kept.maintenance_started_at, actor_id=therapist.id,
                          kind=EventKind.maintenance, detail="Vidmakthållande i 30 dagar."))
    db.add(EnrolmentEvent(enrolment_id=ended.id, at=ended.ended_at, actor_id=therapist.id, kind=EventKind.ended,
                          detail="Avslutat: Behandlingen är genomförd."))
    db.flush()
    return True


#: Anna's answers to "Min hälsa i dag" (a form that flags the therapist when it is sent).
HEALTH_ANSWERS = {"allmant-halsotillstand": ["bra"], "valbefinnande": ["7"], "somnkvalitet": ["5"], "stress": ["6"],
                  "smarta": ["2"], "fysisk-aktivitet-minuter": ["90"], "stillasittande": ["8"],
                  "frukt-och-gronsaker": ["en-till-tva"], "roker": ["aldrig"], "snusar": ["aldrig"],
                  "hur-ofta": ["aldrig"],
                  "vill-forandra": ["Sova bättre och röra mig mer i vardagen."]}


def _health_profile(db: Session, package, enrolment, at: datetime) -> None:
    """Anna's submitted health profile with its score and flag, as if she had sent it herself."""
    form = package.form("halsoprofil")
    if form is None:
        return
    answers = {k: v for k, v in HEALTH_ANSWERS.items() if any(q["id"] == k for q in form["questions"])}
    checked = formcheck.check_answers(form["questions"], answers)
    if not checked.ok:  # the program changed its questions: leave the form for Anna
        return
    score, band = formcheck.score(form, checked.answers, enrolment.scoring_sex)
    located = form_location(enrolment, package, "halsoprofil")
    row = FormSubmission(enrolment_id=enrolment.id, form_id="halsoprofil", module_id=located[0] if located else None,
                         step_id=located[1] if located else None, answers=checked.answers, score=score,
                         score_band=band, submitted_at=at)
    db.add(row)
    db.flush()
    if form.get("flag_on_submit"):
        db.add(Flag(enrolment_id=enrolment.id, kind=FlagKind.form_submitted, ref_type="form_submission",
                    ref_id=row.id, detail=form.get("title"), created_at=at))
