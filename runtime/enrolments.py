"""Enrolments (moment): starting one from a package, its customisation, and what the patient may see.

Input: a verified package and the database. Output: enrolment rows and views of the
program as this patient has it (current modules → sections → visible steps).

An enrolment is pinned to the package version it started on; the package's defaults
(module start current/upcoming, step `visible`, plan schedules) are copied at start
and then belong to the enrolment. Who may see what:

  status       patient reads                           patient writes
  active       current modules                         yes
  maintenance  current modules kept for maintenance,   no (forms, comments, messages,
               until maintenance_until                 registrations are closed)
  ended        nothing                                 no

Must not: read another enrolment's rows; callers pass the enrolment they authorised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from runtime.i18n import N_, SWEDISH, Language
from runtime.language import Reading
from runtime.models import (
    AuthorRole,
    Contact,
    Enrolment,
    EnrolmentModule,
    EnrolmentPlan,
    EnrolmentStatus,
    ModuleState,
    StepOpening,
    Unit,
    User,
    UserKind,
)
from runtime.packages import BASE_LANGUAGE, Package
from runtime.schedule import Schedule, format_day, start_in_range


@dataclass(frozen=True)
class Access:
    """What the patient may do in an enrolment today; `reason` says why not (Swedish, shown in the reader's language)."""

    read: bool
    write: bool
    reason: str = ""


def patient_access(enrolment: Enrolment, today: date) -> Access:
    """The patient's access to an enrolment on a local date."""
    if enrolment.status == EnrolmentStatus.active:
        return Access(True, True)
    if enrolment.status == EnrolmentStatus.maintenance:
        if enrolment.maintenance_until is not None and today <= enrolment.maintenance_until:
            return Access(True, False, N_("Programmet är i vidmakthållande till och med %(day)s. Du kan läsa allt "
                                          "innehåll, men formulär, kommentarer, registreringar och meddelanden är "
                                          "stängda.", day=format_day(enrolment.maintenance_until)))
        return Access(False, False, N_("Tiden för vidmakthållande är slut."))
    return Access(False, False, N_("Programmet är avslutat."))


#: Why a patient cannot log in or open anything: every enrolment has ended or its maintenance has passed.
CLOSED_ENDED = N_("Ditt program är avslutat, så du kan inte längre logga in. Kontakta din vårdenhet om du har frågor.")
CLOSED_MAINTENANCE = N_("Ditt program är avslutat: tiden för vidmakthållande är slut, så du kan inte längre logga in. "
                        "Kontakta din vårdenhet om du har frågor.")
CLOSED_NONE = N_("Du har inget program i tjänsten just nu. Kontakta din vårdenhet om du tror att det är fel.")


def patient_enrolments(db: Session, patient_id: int) -> list[Enrolment]:
    """Every enrolment of a patient, newest first."""
    return list(db.scalars(select(Enrolment).where(Enrolment.patient_id == patient_id)
                           .order_by(Enrolment.started_at.desc(), Enrolment.id.desc())))


def closed_reason(enrolments: list[Enrolment], today: date) -> str | None:
    """None when the patient may open one of `enrolments` today, else why not (Swedish, for the patient)."""
    if any(patient_access(e, today).read for e in enrolments):
        return None
    if not enrolments:
        return CLOSED_NONE
    if any(e.status == EnrolmentStatus.maintenance for e in enrolments):
        return CLOSED_MAINTENANCE
    return CLOSED_ENDED


def login_refusal(db: Session, user: User, today: date) -> str | None:
    """Why a citizen may not log in today (no enrolment they can read), or None; staff are never refused here."""
    if user.kind != UserKind.citizen:
        return None
    return closed_reason(patient_enrolments(db, user.id), today)


def default_welcome(package: Package, language: Language = SWEDISH) -> str:
    """The welcome text an enrolment starts with; the therapist edits it.

    `package` is the base, or its translation for an enrolment in that language (issue 18):
    the program's title and description come from it, the runtime's own sentences are in
    `language` (Swedish without a catalogue for it).
    """
    program = package.program["program"]
    greeting = N_("Välkommen till %(program)s!", program=program["title"]).translate(language)
    advice = N_("Börja med den första modulen. Skriv ett meddelande till din behandlare om du undrar något."
                ).translate(language)
    return f"{greeting}\n\n{(program.get('description') or '').strip()}\n\n{advice}".strip()


def create_enrolment(db: Session, patient: User, unit: Unit, package: Package, now: datetime,
                     therapist: User | None = None, started_by: User | None = None,
                     language: str = BASE_LANGUAGE, translation: Package | None = None,
                     catalogue: Language = SWEDISH) -> Enrolment:
    """Start an enrolment of a patient in a package, copying the package's defaults.

    `language` is the language the patient reads it in; the caller has checked that the
    program version has it (`runtime.language.check_language`). The enrolment is on the
    base package whatever the language; the welcome text and the contacts are copied from
    `translation` (the program version's package in that language) when given, with the
    runtime's sentences of the welcome text from `catalogue`.
    """
    if patient.kind != UserKind.citizen:
        raise ValueError("only citizens are enrolled")
    if package.translation is not None:
        raise ValueError("an enrolment is on a base program, never on a translation package")
    enrolment = Enrolment(patient=patient, unit=unit, therapist=therapist, program_id=package.program_id,
                          program_version=package.version, status=EnrolmentStatus.active, language=language,
                          welcome_text=default_welcome(translation or package, catalogue), started_at=now,
                          started_by=started_by.id if started_by is not None else None)
    for i, c in enumerate((translation or package).program["program"].get("contacts") or []):
        enrolment.contacts.append(Contact(position=i, name=c["name"], role=c.get("role"), phone=c.get("phone"),
                                          email=c.get("email"), hours=c.get("hours"), url=c.get("url"),
                                          added_by=AuthorRole.therapist))
    for i, m in enumerate(package.program.get("modules", [])):
        enrolment.modules.append(EnrolmentModule(module_id=m["id"], position=i, changed_at=now,
                                                 state=ModuleState(m.get("start", "current")), in_maintenance=True))
    for plan_id, plan in sorted(package.program.get("activity_plans", {}).items()):
        enrolment.plans.append(plan_from_package(plan_id, plan, now))
    db.add(enrolment)
    db.flush()
    return enrolment


def plan_from_package(plan_id: str, plan: dict, now: datetime, activated: bool | None = None) -> EnrolmentPlan:
    """An enrolment's copy of a package plan's schedule (no start date yet); `activated` overrides the package's."""
    s = plan["schedule"]
    return EnrolmentPlan(plan_id=plan_id, start_date=None, repeat_every_weeks=s.get("repeat_every_weeks", 1),
                         days=dict(s["days"]), registration_window_days=s.get("registration_window_days", 0),
                         flag_missed=s.get("flag_missed", False), allow_comments=s.get("allow_comments", False),
                         activated=s.get("activated", False) if activated is None else activated, updated_at=now)


def step_visible(enrolment: Enrolment, module_id: str, step: dict,
                 settings: dict[tuple[str, str], bool] | None = None) -> bool:
    """The therapist's choice for a step, else the package's default (`settings`: a prepared lookup)."""
    if settings is None:
        settings = step_choices(enrolment)
    choice = settings.get((module_id, step["id"]))
    return bool(step.get("visible", True)) if choice is None else choice


def step_choices(enrolment: Enrolment) -> dict[tuple[str, str], bool]:
    """(module, step) -> visible, as the therapist set it."""
    return {(s.module_id, s.step_id): s.visible for s in enrolment.step_settings}


def readable_modules(enrolment: Enrolment) -> list[EnrolmentModule]:
    """The enrolment's modules the patient may open, in program order."""
    maintenance = enrolment.status == EnrolmentStatus.maintenance
    return [m for m in enrolment.modules if m.state == ModuleState.current and (m.in_maintenance or not maintenance)]


@dataclass
class StepView:
    """A step as the patient's start page lists it."""

    module_id: str
    id: str
    title: str
    opened: bool
    forms: list[str]
    #: False when the enrolment reads a translation that lacks the step: it is shown in Swedish (issue 18).
    translated: bool = True

    @property
    def url(self) -> str:
        """Relative URL under /moment/<id>/."""
        return f"steg/{self.module_id}/{self.id}"


@dataclass
class SectionView:
    """A section (avsnitt) with its visible steps."""

    title: str
    steps: list[StepView] = field(default_factory=list)


@dataclass
class ModuleView:
    """A current module with its sections."""

    id: str
    title: str
    description: str | None
    kind: str
    sections: list[SectionView] = field(default_factory=list)

    @property
    def steps(self) -> list[StepView]:
        """Every visible step of the module."""
        return [s for sec in self.sections for s in sec.steps]

    @property
    def opened_count(self) -> int:
        """How many of the visible steps the patient has opened (the home page's progress)."""
        return sum(1 for s in self.steps if s.opened)


def opened_steps(db: Session, enrolment: Enrolment) -> set[tuple[str, str]]:
    """(module, step) pairs the patient has opened."""
    rows = db.execute(select(StepOpening.module_id, StepOpening.step_id)
                      .where(StepOpening.enrolment_id == enrolment.id))
    return {(m, s) for m, s in rows}


@dataclass(frozen=True)
class Tree:
    """What the patient sees of an enrolment's program, without opened marks.

    A pure function of the package and the enrolment's status, modules, hidden steps and
    plans, and of the text it is read in (issue 18: titles from the translation), so the
    patient's pages keep it per (enrolment id, `Enrolment.tree_version`, language, packages)
    between changes (`tree_key`; runtime.services.patient.tree). Shared between requests
    and threads: never change it, nor the views in it.
    """

    #: Module ids the patient may open.
    readable: frozenset[str]
    #: (module, step) -> visible, as the therapist set it.
    choices: dict[tuple[str, str], bool]
    #: Readable modules with their visible steps (opened always False).
    modules: tuple[ModuleView, ...]
    #: Every visible step, in reading order.
    steps: tuple[StepView, ...]
    #: Whether the patient has an activated, started activity plan.
    has_plans: bool


def tree_key(enrolment: Enrolment, package: Package, text: Reading | None = None) -> tuple:
    """The key a `Tree` is kept by: it changes with every change the tree depends on (runtime.models).

    The language and the packages' manifest hashes are in it too: a patient who changes
    language, or a translation package installed or replaced by a rescan, gets a new tree.
    """
    translation = text.translation if text is not None else None
    return (enrolment.id, enrolment.tree_version, enrolment.language, package.manifest_sha256,
            translation.manifest_sha256 if translation is not None else None)


def make_tree(enrolment: Enrolment, package: Package, text: Reading | None = None) -> Tree:
    """An enrolment's `Tree`, read from its rows (the modules, hidden steps and plans are loaded).

    What is visible comes from `package` (the enrolment's own); titles come from `text`, the
    enrolment's program in its language, when given (issue 18).
    """
    choices = step_choices(enrolment)
    readable = readable_modules(enrolment)
    views = []
    for em in readable:
        module = package.module(em.module_id)
        if module is None:
            continue
        shown = (text.module(em.module_id) if text is not None else None) or module
        view = ModuleView(module["id"], shown["title"], shown.get("description"), module.get("kind", "core"))
        for section in module.get("sections", []):
            sv = SectionView(section["title"])
            for step in section.get("steps", []):
                if step_visible(enrolment, module["id"], step, choices):
                    title, translated = step["title"], True
                    if text is not None:
                        _, (_, shown_section, shown_step) = text.step(module["id"], step["id"])
                        translated = text.translated(module["id"], step["id"])
                        title = shown_step["title"]
                        if translated and not any(s.translated for s in sv.steps):
                            sv.title = shown_section["title"]
                    sv.steps.append(StepView(module["id"], step["id"], title, False,
                                             list(step.get("forms", [])), translated))
            if sv.steps:
                view.sections.append(sv)
        if view.sections:
            views.append(view)
    return Tree(frozenset(m.module_id for m in readable), choices, tuple(views),
                tuple(s for v in views for s in v.steps), bool(visible_plans(enrolment)))


def module_tree(db: Session, enrolment: Enrolment, package: Package, with_opened: bool = True,
                tree: Tree | None = None) -> list[ModuleView]:
    """Current modules → sections → visible steps, with opened marks (unless `with_opened` is False).

    `tree`: the enrolment's `Tree` when the caller has it (else it is made); the views
    returned are new, so the caller may change them.
    """
    tree = tree or make_tree(enrolment, package)
    opened = opened_steps(db, enrolment) if with_opened else set()
    return [ModuleView(m.id, m.title, m.description, m.kind,
                       [SectionView(sec.title, [StepView(s.module_id, s.id, s.title, (s.module_id, s.id) in opened,
                                                         list(s.forms), s.translated) for s in sec.steps])
                        for sec in m.sections])
            for m in tree.modules]


def step_readable(enrolment: Enrolment, package: Package, module_id: str, step_id: str,
                  tree: Tree | None = None) -> tuple[dict, dict, dict] | None:
    """(module, section, step) when the patient may open the step, else None (`tree`: as for module_tree)."""
    found = package.step(module_id, step_id)
    if found is None:
        return None
    if tree is not None:
        return found if module_id in tree.readable and step_visible(enrolment, module_id, found[2],
                                                                   tree.choices) else None
    if module_id not in {m.module_id for m in readable_modules(enrolment)}:
        return None
    return found if step_visible(enrolment, module_id, found[2]) else None


def form_location(enrolment: Enrolment, package: Package, form_id: str) -> tuple[str, str] | None:
    """The first step the patient may open that holds the form: (module id, step id)."""
    for module, _, step in package.steps():
        if form_id in step.get("forms", []) and step_readable(enrolment, package, module["id"], step["id"]):
            return module["id"], step["id"]
    return None


def plan_definition(plan: EnrolmentPlan, package: Package) -> dict[str, Any] | None:
    """The plan's definition: the therapist's own, else the package's."""
    if plan.definition:
        return plan.definition
    return package.plan(plan.plan_id) if plan.plan_id else None


def plan_schedule(plan: EnrolmentPlan) -> Schedule | None:
    """The plan's schedule, or None before a start date is set (or with one out of range, stored before issue 14)."""
    if plan.start_date is None or not plan.days or not start_in_range(plan.start_date):
        return None
    return Schedule(plan.start_date, plan.repeat_every_weeks, dict(plan.days), plan.registration_window_days)


def visible_plans(enrolment: Enrolment) -> list[EnrolmentPlan]:
    """Plans the patient can use: activated and with a start date."""
    return [p for p in enrolment.plans if p.activated and p.start_date is not None]
