"""Starting and customising an enrolment (moment): the one service the staff pages and the API share.

Input: a staff context (`runtime.context.Ctx`) and what the staff member asked for
(`StartRequest`, `Customisation`). Output: an enrolment started or changed in the unit
of work, with a lifecycle event for the timeline (started, customised) and an access-log
row; a refusal is an `AppError` with a Swedish message (per field in `errors`).

Method support, section 7: the therapist starts the program for a personnummer or
samordningsnummer, then tailors it: edits the welcome text, adds contacts, sets
modules current or upcoming, hides or shows steps. The starter becomes the
therapist; a citizen administrator may choose the therapist among the unit's
therapists. Starting a second enrolment in the same program is allowed, after a
warning.

Must not: decide roles here (runtime.services.access does); write a personnummer into an
event, a log row or a log line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import select

from runtime.context import AppError, Ctx
from runtime.enrolments import create_enrolment, default_welcome, step_visible
from runtime.i18n import N_
from runtime.identity import InvalidPersonalNumber, parse_personal_number
from runtime.language import LanguageRefused, check_language, swedish_name
from runtime.models import (
    AuthorRole,
    Contact,
    Enrolment,
    EnrolmentStatus,
    EventKind,
    ModuleState,
    Role,
    StepSetting,
    Unit,
    UnitRole,
    User,
    UserKind,
)
from runtime.packages import BASE_LANGUAGE, Package
from runtime.services.access import Action, require
from runtime.services.events import record

NAME_MAX = 200
EMAIL_MAX = 200
WELCOME_MAX = 20000
CONTACT_LIMITS = {"name": 200, "role": 200, "phone": 50, "email": 200, "hours": 200, "url": 500}
ENDED = "Momentet är avslutat. Ett avslutat moment går inte att ändra."
STATE_NAMES = {ModuleState.current: "aktuell", ModuleState.upcoming: "kommande"}



def local_today(ctx: Ctx):
    """Today's date where the unit is (Europe/Stockholm)."""
    return ctx.now.astimezone(ctx.app.tz).date()


# --- checking what staff type --------------------------------------------------------------------

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def clean_email(text: str | None) -> str | None:
    """A trimmed e-mail address, None when empty; raises ValueError with a Swedish message."""
    value = (text or "").strip()
    if not value:
        return None
    if len(value) > EMAIL_MAX or not _EMAIL.match(value):
        raise ValueError(N_("Skriv en giltig e-postadress, till exempel namn@exempel.se."))
    return value


def clean_mobile(text: str | None) -> str | None:
    """A mobile number in E.164 form (+46701234567), None when empty; raises ValueError in Swedish."""
    value = re.sub(r"[\s\-().]", "", text or "")
    if not value:
        return None
    if value.startswith("00"):
        value = "+" + value[2:]
    elif value.startswith("0"):
        value = "+46" + value[1:]
    if not re.fullmatch(r"\+[1-9]\d{7,14}", value):
        raise ValueError(N_("Skriv ett mobilnummer med siffror, till exempel 070-123 45 67."))
    if value.startswith("+46") and not re.fullmatch(r"\+467\d{8}", value):
        raise ValueError(N_("Det ser inte ut som ett svenskt mobilnummer. Avisering med sms kräver ett mobilnummer, "
                            "till exempel 070-123 45 67."))
    return value


def unit_therapists(ctx: Ctx, unit_id: int) -> list[User]:
    """Staff with a live therapist role in a unit (not disabled), by name."""
    return list(ctx.db.scalars(
        select(User).join(UnitRole, UnitRole.user_id == User.id)
        .where(UnitRole.unit_id == unit_id, UnitRole.role == Role.therapist, UnitRole.revoked_at.is_(None),
               User.disabled_at.is_(None), User.kind == UserKind.staff)
        .distinct().order_by(User.display_name, User.id)))


# --- starting ------------------------------------------------------------------------------------


@dataclass
class StartRequest:
    """What starting an enrolment needs; the same for the page and the API."""

    personal_number: str
    program_id: str
    version: str | None = None  # None: the newest served version
    display_name: str | None = None  # needed when the person is new to the service
    email: str | None = None
    phone: str | None = None
    therapist_id: int | None = None  # None: the starter (a citizen administrator may choose)
    duplicate_ok: bool = False  # go on although the patient has an ongoing enrolment in the program
    #: The language the patient reads the program in: "sv" (None or ""), or one with a translation package (issue 18).
    language: str | None = None


@dataclass
class Started:
    """An enrolment just started, and the ongoing ones in the same program it was warned about."""

    enrolment: Enrolment
    package: Package
    existing_patient: bool
    duplicates: list[Enrolment] = field(default_factory=list)


class DuplicateWarning(AppError):
    """The patient already has an ongoing enrolment in the program in this unit (a warning, not a refusal)."""

    def __init__(self, duplicates: list[Enrolment], title: str) -> None:
        self.duplicates = duplicates
        super().__init__(409, duplicate_text(duplicates, title), title="Kontrollera uppgifterna")


def duplicate_text(duplicates: list[Enrolment], title: str) -> str:
    """The warning about ongoing enrolments in the same program."""
    n = len(duplicates)
    return (f"Patienten har redan {'ett pågående moment' if n == 1 else f'{n} pågående moment'} i {title} "
            "på vårdenheten. Kontrollera att du inte startar samma program två gånger.")


def choose_therapist(ctx: Ctx, staff_roles: frozenset[Role], therapist_id: int | None) -> User:
    """The therapist of a new enrolment: the starter, or (citizen administrators) one of the unit's therapists."""
    if Role.citizen_admin not in staff_roles:
        if therapist_id is not None and therapist_id != ctx.user.id:
            raise AppError(403, "Bara en invånaradministratör kan välja en annan behandlare. "
                                "Du blir själv behandlare för moment du startar.")
        return ctx.db.get(User, ctx.user.id)
    therapists = {u.id: u for u in unit_therapists(ctx, ctx.session.unit_id)}
    if therapist_id is None:
        if ctx.user.id in therapists:
            return therapists[ctx.user.id]
        raise AppError(422, "Välj patientens behandlare.", errors={"therapist": "Välj patientens behandlare."})
    if therapist_id not in therapists:
        raise AppError(422, "Välj en behandlare på vårdenheten.",
                       errors={"therapist": "Välj en behandlare på vårdenheten."})
    return therapists[therapist_id]


def ongoing_in_program(ctx: Ctx, patient: User, program_id: str) -> list[Enrolment]:
    """The patient's enrolments in a program in the session's unit that have not ended."""
    return list(ctx.db.scalars(select(Enrolment).where(
        Enrolment.patient_id == patient.id, Enrolment.program_id == program_id,
        Enrolment.unit_id == ctx.session.unit_id, Enrolment.status != EnrolmentStatus.ended)
        .order_by(Enrolment.started_at)))


def start_enrolment(ctx: Ctx, req: StartRequest) -> Started:
    """Start an enrolment for a personnummer or samordningsnummer in a served program version.

    Every field is checked first and all problems are reported at once (AppError 422 with
    `errors` per field). Without `duplicate_ok`, an ongoing enrolment of the patient in the
    same program raises DuplicateWarning (409) before anything is written.
    """
    staff_roles = require(ctx, Action.enrolment_start)
    errors: dict[str, str] = {}
    number = None
    try:
        number = parse_personal_number(req.personal_number, local_today(ctx))
    except InvalidPersonalNumber as exc:
        errors["personal_number"] = str(exc)
    package = (ctx.app.store.get(req.program_id, req.version) if req.version
               else ctx.app.store.latest(req.program_id))
    language = BASE_LANGUAGE
    if package is None or package.translation is not None:
        package = None
        errors["package"] = "Välj ett program och en version som lämnas ut."
    else:
        try:
            language = check_language(ctx.app.store, package.program_id, package.version, req.language)
        except LanguageRefused as exc:
            errors["language"] = str(exc)
    email = phone = None
    try:
        email = clean_email(req.email)
    except ValueError as exc:
        errors["email"] = str(exc)
    try:
        phone = clean_mobile(req.phone)
    except ValueError as exc:
        errors["phone"] = str(exc)
    name = " ".join((req.display_name or "").split())
    if len(name) > NAME_MAX:
        errors["display_name"] = f"Namnet får vara högst {NAME_MAX} tecken."
    patient = None
    if number is not None:
        patient = ctx.db.scalar(select(User).where(User.personal_number == number.digits))
    if not name and "display_name" not in errors:
        # Asked of every new enrolment, known person or not: a different answer would tell another
        # unit's staff that the number is a patient somewhere (issue 14).
        errors["display_name"] = "Skriv patientens namn."
    if patient is not None:
        if patient.kind != UserKind.citizen:
            errors["personal_number"] = "Numret hör till ett personalkonto och kan inte få ett moment."
    try:
        therapist = choose_therapist(ctx, staff_roles, req.therapist_id)
    except AppError as exc:
        if exc.status != 422:
            raise
        errors.update(exc.errors or {})
        therapist = None
    if errors:
        if patient is not None and patient.kind == UserKind.citizen:
            # The lookup of a known person is logged even when nothing is started (nothing was written yet).
            ctx.db.rollback()
            ctx.audit("enrolment.lookup", patient_id=patient.id)
            ctx.commit()
        raise AppError(422, next(iter(errors.values())), errors=errors)
    assert package is not None and number is not None and therapist is not None
    existing = patient is not None
    duplicates = ongoing_in_program(ctx, patient, package.program_id) if existing else []
    if duplicates:
        ctx.audit("enrolment.duplicate_check", patient_id=patient.id, target=f"program:{package.program_id}")
        if not req.duplicate_ok:
            raise DuplicateWarning(duplicates, package.title)
    if patient is None:
        patient = User(kind=UserKind.citizen, display_name=name, personal_number=number.digits, created_at=ctx.now)
        ctx.db.add(patient)
    # The notice contacts are the person's, for all their units: a known person's are filled in where
    # missing, never replaced from here (issue 14); their unit changes them (`set_notice_contacts`).
    if email is not None and (not existing or not patient.email):
        patient.email = email
    if phone is not None and (not existing or not patient.phone):
        patient.phone = phone
    ctx.db.flush()
    unit = ctx.db.get(Unit, ctx.session.unit_id)
    starter = ctx.db.get(User, ctx.user.id)
    enrolment = create_enrolment(ctx.db, patient, unit, package, ctx.now, therapist=therapist, started_by=starter,
                                 language=language, translation=_translation(ctx, package, language),
                                 catalogue=ctx.app.catalogues.language(language))
    in_language = f" Språk: {swedish_name(language)}." if language != BASE_LANGUAGE else ""
    record(ctx, enrolment, EventKind.started,
           f"Startat i {package.title} {package.version}. Behandlare: {therapist.display_name}.{in_language}")
    ctx.audit("enrolment.create", enrolment)
    return Started(enrolment, package, existing, duplicates)


# --- customising ---------------------------------------------------------------------------------


@dataclass
class ContactData:
    """A contact as staff (or the API) give it."""

    name: str
    role: str | None = None
    phone: str | None = None
    email: str | None = None
    hours: str | None = None
    url: str | None = None
    added_by: AuthorRole = AuthorRole.therapist

    def key(self) -> tuple:
        """What makes two contacts the same contact (everything but who added it)."""
        return (self.name, self.role, self.phone, self.email, self.hours, self.url)


def contact_data(c: Contact) -> ContactData:
    """A stored contact as data."""
    return ContactData(c.name, c.role, c.phone, c.email, c.hours, c.url, c.added_by)


def check_contact(c: ContactData) -> tuple[ContactData, dict[str, str]]:
    """A contact trimmed, with errors per field (Swedish)."""
    values = {k: " ".join((getattr(c, k) or "").split()) or None for k in CONTACT_LIMITS}
    errors = {}
    if not values["name"]:
        errors["name"] = N_("Skriv kontaktens namn.")
    for key, limit in CONTACT_LIMITS.items():
        if values[key] and len(values[key]) > limit:
            errors[key] = N_("Högst %(limit)s tecken.", limit=limit)
    if values["phone"] and "phone" not in errors and not re.fullmatch(r"\+?[0-9][0-9 \-()]{3,}", values["phone"]):
        errors["phone"] = N_("Skriv telefonnumret med siffror, till exempel 0920-123 45.")
    if values["email"] and "email" not in errors:
        try:
            clean_email(values["email"])
        except ValueError as exc:
            errors["email"] = exc.args[0]  # a runtime.i18n.Text, shown in the reader's language
    if values["url"] and "url" not in errors and not re.fullmatch(r"https://[^\s]+", values["url"]):
        errors["url"] = "Skriv en webbadress som börjar med https://."
    return ContactData(added_by=c.added_by, **values), errors


def _translation(ctx: Ctx, package: Package, language: str) -> Package | None:
    """The program version's translation package in `language` (None for Swedish or when none is served)."""
    return None if language == BASE_LANGUAGE else ctx.app.store.translation(package.program_id, package.version,
                                                                           language)


def default_welcome_in(ctx: Ctx, package: Package, language: str) -> str:
    """The default welcome text of the base `package` in `language`, as an enrolment started in it gets it."""
    return default_welcome(_translation(ctx, package, language) or package, ctx.app.catalogues.language(language))


def welcome_for_language(ctx: Ctx, enrolment: Enrolment, package: Package, language: str) -> str:
    """The welcome text once the enrolment reads `language` (issue 18).

    A welcome text that is still the default of the enrolment's present language becomes the
    default of the new one; one the therapist has written or edited stays as it is (as does
    one whose default can no longer be made the same, e.g. a translation since removed: it
    cannot be told from an edited one).
    """
    if enrolment.welcome_text == default_welcome_in(ctx, package, enrolment.language):
        return default_welcome_in(ctx, package, language)
    return enrolment.welcome_text


@dataclass
class Customisation:
    """A change to an enrolment; None leaves that part as it is."""

    welcome_text: str | None = None
    contacts: list[ContactData] | None = None  # the whole list, in order
    modules: dict[str, str] | None = None  # module id -> "current" | "upcoming"
    steps: dict[str, bool] | None = None  # "module/step" -> visible
    scoring_sex: str | None = None  # "kvinna", "man", or "" (not set): how sex-dependent scores are read
    language: str | None = None  # the language the patient reads the program in (issue 18)


#: The sexes a score may be interpreted by, as the customise page names them (issue 17).
SCORING_SEXES = {"": "ej angivet", "kvinna": "kvinna", "man": "man"}


def _step_label(package: Package, module_id: str, step_id: str) -> str:
    module, _, step = package.step(module_id, step_id)
    return f"”{step['title']}” ({module['title']})"


def customise(ctx: Ctx, enrolment: Enrolment, package: Package, change: Customisation) -> list[str]:
    """Apply a customisation checked as a whole; returns what changed, in Swedish (empty: nothing).

    The caller has checked Action.enrolment_customise. Raises AppError 409 for an ended
    enrolment and 422 (with `errors`) for anything invalid, before anything is changed.
    Records one `customised` event listing the changes, and an access-log row.
    """
    if enrolment.status == EnrolmentStatus.ended:
        raise AppError(409, ENDED)
    errors: dict[str, str] = {}
    welcome = None
    if change.welcome_text is not None:
        welcome = change.welcome_text.replace("\r\n", "\n").strip()
        if len(welcome) > WELCOME_MAX:
            errors["welcome_text"] = f"Välkomsttexten får vara högst {WELCOME_MAX} tecken."
    contacts = None
    if change.contacts is not None:
        # Contacts already there are kept as they are (the patient may have added them); new ones are checked.
        existing = {contact_data(c).key() for c in enrolment.contacts}
        contacts = []
        for i, c in enumerate(change.contacts):
            if c.key() in existing:
                contacts.append(c)
                continue
            cleaned, problems = check_contact(c)
            errors.update({f"contacts.{i}.{k}": v for k, v in problems.items()})
            contacts.append(cleaned)
    rows = {m.module_id: m for m in enrolment.modules}
    modules = {}
    for module_id, state in (change.modules or {}).items():
        if module_id not in rows or package.module(module_id) is None:
            errors[f"modules.{module_id}"] = f"Modulen '{module_id}' finns inte i programmet."
        elif state not in ("current", "upcoming"):
            errors[f"modules.{module_id}"] = "Välj aktuell eller kommande."
        else:
            modules[module_id] = ModuleState(state)
    steps = {}
    for key, visible in (change.steps or {}).items():
        module_id, _, step_id = key.partition("/")
        if package.step(module_id, step_id) is None:
            errors[f"steps.{key}"] = f"Steget '{key}' finns inte i programmet."
        else:
            steps[(module_id, step_id)] = bool(visible)
    if change.scoring_sex is not None and change.scoring_sex not in SCORING_SEXES:
        errors["scoring_sex"] = "Välj kvinna, man eller ej angivet."
    language = None
    if change.language is not None:
        try:
            language = check_language(ctx.app.store, enrolment.program_id, enrolment.program_version, change.language)
        except LanguageRefused as exc:
            errors["language"] = str(exc)
    if errors:
        raise AppError(422, next(iter(errors.values())), errors=errors)

    changes: list[str] = []
    if welcome is not None and welcome == enrolment.welcome_text:
        welcome = None  # sent as it is: not a change of its own
    if language is not None and language != enrolment.language:
        changes.append(f"språk: {swedish_name(enrolment.language)} → {swedish_name(language)}")
        if welcome is None:  # a welcome text written in the same change wins
            followed = welcome_for_language(ctx, enrolment, package, language)
            if followed != enrolment.welcome_text:
                enrolment.welcome_text = followed
                changes.append(f"välkomsttexten följer med till {swedish_name(language)}")
        enrolment.language = language
    if change.scoring_sex is not None and (change.scoring_sex or None) != enrolment.scoring_sex:
        changes.append(f"kön vid bedömning av poäng: {SCORING_SEXES[enrolment.scoring_sex or '']} → "
                       f"{SCORING_SEXES[change.scoring_sex]}")
        enrolment.scoring_sex = change.scoring_sex or None
    if welcome is not None and welcome != enrolment.welcome_text:
        enrolment.welcome_text = welcome
        changes.append("välkomsttexten ändrad")
    if contacts is not None:
        changes += _set_contacts(enrolment, contacts)
    for module_id, state in modules.items():
        row = rows[module_id]
        if row.state != state:
            changes.append(f"modulen ”{package.module(module_id)['title']}”: {STATE_NAMES[row.state]} → "
                           f"{STATE_NAMES[state]}")
            row.state, row.changed_at = state, ctx.now
    settings = {(s.module_id, s.step_id): s for s in enrolment.step_settings}
    for (module_id, step_id), visible in steps.items():
        step = package.step(module_id, step_id)[2]
        before = step_visible(enrolment, module_id, step)
        row = settings.get((module_id, step_id))
        if row is None:
            if before == visible:
                continue  # the package's default already; nothing to store
            enrolment.step_settings.append(StepSetting(module_id=module_id, step_id=step_id, visible=visible,
                                                       changed_at=ctx.now, changed_by=ctx.user.id))
        elif row.visible != visible:
            row.visible, row.changed_at, row.changed_by = visible, ctx.now, ctx.user.id
        if before != visible:
            changes.append(f"steget {_step_label(package, module_id, step_id)} "
                           f"{'visas' if visible else 'dolt'}")
    if changes:
        text = "; ".join(changes)
        record(ctx, enrolment, EventKind.customised, text[0].upper() + text[1:] + ".")
    ctx.audit("enrolment.customise", enrolment)
    ctx.db.flush()
    return changes


def _set_contacts(enrolment: Enrolment, contacts: list[ContactData]) -> list[str]:
    old = [contact_data(c) for c in enrolment.contacts]
    old_keys, new_keys = [c.key() for c in old], [c.key() for c in contacts]
    if old_keys == new_keys:
        return []
    changes = [f"kontakten ”{c.name}” borttagen" for c in old if c.key() not in new_keys]
    changes += [f"kontakten ”{c.name}” tillagd" for c in contacts if c.key() not in old_keys]
    if not changes:
        changes = ["kontakternas ordning ändrad"]
    # A contact that stays keeps its row (and id), so moving and removing by id keep meaning the same contact.
    pool: dict[tuple, list[Contact]] = {}
    for row in enrolment.contacts:
        pool.setdefault(contact_data(row).key(), []).append(row)
    rows = []
    for data in contacts:
        row = pool.get(data.key(), []).pop(0) if pool.get(data.key()) else None
        if row is None:
            row = Contact(name=data.name, role=data.role, phone=data.phone, email=data.email, hours=data.hours,
                          url=data.url, added_by=data.added_by)
        rows.append(row)
    for leftover in (r for group in pool.values() for r in group):
        enrolment.contacts.remove(leftover)
    for i, row in enumerate(rows):
        row.position = i
        if row not in enrolment.contacts:
            enrolment.contacts.append(row)
    enrolment.contacts.sort(key=lambda r: r.position)
    return changes


def contacts_unit(ctx: Ctx, patient_id: int) -> int | None:
    """The unit that keeps a patient's notice contacts: that of their oldest enrolment that has not ended.

    The e-mail address and mobile number are the person's and every unit's notices use
    them, so one unit (the first that still treats the person) answers for them, not
    whichever unit changed them last (issue 14).
    """
    return ctx.db.scalar(select(Enrolment.unit_id).where(
        Enrolment.patient_id == patient_id, Enrolment.status != EnrolmentStatus.ended)
        .order_by(Enrolment.started_at, Enrolment.id).limit(1))


def set_notice_contacts(ctx: Ctx, enrolment: Enrolment, email_text: str, phone_text: str) -> bool:
    """Set the patient's e-mail address and mobile number for notices (the person's, for all their enrolments).

    Only staff of the unit that keeps them (`contacts_unit`) may (403 otherwise). Returns
    whether anything changed; refuses with 422 and a message per field (`patient_email`,
    `patient_phone`) when a value is not usable.
    """
    keeper = contacts_unit(ctx, enrolment.patient_id)
    if keeper is not None and keeper != ctx.session.unit_id:
        raise AppError(403, "Patientens e-postadress och mobilnummer för aviseringar används av flera vårdenheter. "
                            "De ändras av vårdenheten där patientens äldsta pågående moment finns.")
    errors = {}
    email = phone = None
    try:
        email = clean_email(email_text)
    except ValueError as exc:
        errors["patient_email"] = str(exc)
    try:
        phone = clean_mobile(phone_text)
    except ValueError as exc:
        errors["patient_phone"] = str(exc)
    if errors:
        raise AppError(422, next(iter(errors.values())), errors=errors)
    patient = enrolment.patient
    changed = (patient.email, patient.phone) != (email, phone)
    patient.email, patient.phone = email, phone
    if changed:
        record(ctx, enrolment, EventKind.customised, "Patientens uppgifter för aviseringar ändrades.")
        ctx.audit("patient.contact.update", enrolment)
    return changed
