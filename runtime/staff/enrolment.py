"""Starting and customising an enrolment (moment): the staff pages.

Input: a staff request context (`StaffDep`) and a posted form. The work (checks, the
enrolment, its lifecycle event and access-log row) is `runtime.services.enrolment`,
which the JSON API shares.

Method support, section 7: the therapist starts the program for a personnummer or
samordningsnummer, then tailors it: edits the welcome text, adds contacts, sets
modules current or upcoming, hides or shows steps. The starter becomes the
therapist; a citizen administrator may choose the therapist among the unit's
therapists. Starting a second enrolment in the same program is allowed, after a
warning.

Pages:
  GET/POST /personal/moment/nytt            start (Action.enrolment_start)
  GET      /personal/moment/{eid}/anpassa   the customisation view (Action.enrolment_read)
  POST     /personal/moment/{eid}/anpassa   one section of it (Action.enrolment_customise)

Must not: decide roles here (runtime.services.access does); write a personnummer into an
event, a log row or a log line.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter
from fastapi.responses import Response

from runtime.enrolments import step_visible
from runtime.language import language_codes, native_name, swedish_name
from runtime.models import (
    Enrolment,
    EnrolmentStatus,
    Role,
)
from runtime.packages import BASE_LANGUAGE, Package, version_key
from runtime.services.access import Action, allowed, enrolment_package, require, unit_enrolment
from runtime.services.enrolment import (
    ENDED,
    SCORING_SEXES,
    WELCOME_MAX,
    ContactData,
    Customisation,
    DuplicateWarning,
    StartRequest,
    check_contact,
    contact_data,
    customise,
    set_notice_contacts,
    start_enrolment,
    unit_therapists,
)
from runtime.staff.common import render_staff
from runtime.web import AppError, CsrfForm, Ctx, StaffDep, first, redirect

router = APIRouter(include_in_schema=False)

@dataclass
class VersionChoice:
    """One version in the start form's program list."""

    value: str  # "<program id>/<version>"
    label: str
    selected: bool


@dataclass
class ProgramChoice:
    """A served program with its versions (an optgroup of the start form)."""

    title: str
    versions: list[VersionChoice]


def program_choices(ctx: Ctx, chosen: str | None) -> list[ProgramChoice]:
    """Served programs by title, each with its versions newest first; the chosen or the first newest is selected."""
    by_program: dict[str, list[Package]] = {}
    for p in ctx.app.store.all():
        if p.translation is None:  # a translation is read through its base, never enrolled in (issue 18)
            by_program.setdefault(p.program_id, []).append(p)
    out = []
    for program_id, packages in sorted(by_program.items(), key=lambda kv: kv[1][0].title.lower()):
        packages.sort(key=lambda p: version_key(p.version), reverse=True)
        versions = [VersionChoice(f"{program_id}/{p.version}",
                                  f"{p.title} {p.version}{' (senaste)' if i == 0 else ''}", False)
                    for i, p in enumerate(packages)]
        out.append(ProgramChoice(packages[0].title, versions))
    values = [v for c in out for v in c.versions]
    selected = next((v for v in values if v.value == chosen), values[0] if values else None)
    if selected is not None:
        selected.selected = True
    return out


@dataclass
class LanguageOption:
    """A language of the start form: Swedish, or one that some served program version has a translation in."""

    code: str
    label: str  # "finska (suomi)"
    selected: bool


def language_options(ctx: Ctx, chosen: str | None) -> tuple[list[LanguageOption], list[str]]:
    """The start form's languages, and per language that needs it which program versions have it (the help text).

    The form works without JavaScript, so the list holds every language any served program
    version can be read in; the server refuses one the chosen version lacks (issue 18).
    """
    found: dict[str, list[str]] = {}
    for p in ctx.app.store.all():
        if p.translation is None:
            for code in ctx.app.store.translations(p.program_id, p.version):
                found.setdefault(code, []).append(f"{p.title} {p.version}")
    chosen = chosen or BASE_LANGUAGE
    options = [LanguageOption(BASE_LANGUAGE, "svenska", chosen == BASE_LANGUAGE)]
    options += [LanguageOption(code, f"{swedish_name(code)} ({native_name(code)})", code == chosen)
                for code in sorted(found)]
    notes = [f"{swedish_name(code).capitalize()} finns för {', '.join(found[code])}." for code in sorted(found)]
    return options, notes


def _start_page(ctx: Ctx, values: dict[str, str], errors: dict[str, str] | None = None, status: int = 200,
                duplicates: list[dict] | None = None, warning: str | None = None) -> Response:
    staff_roles = require(ctx, Action.enrolment_start)
    choose = Role.citizen_admin in staff_roles
    therapists = unit_therapists(ctx, ctx.session.unit_id) if choose else []
    chosen_therapist = values.get("therapist") or (str(ctx.user.id) if any(t.id == ctx.user.id for t in therapists)
                                                   else "")
    errors = errors or {}
    order = ["personal_number", "display_name", "email", "phone", "package", "language", "therapist"]
    summary = [(key, errors[key]) for key in order if key in errors]
    title = ("Fel: " if summary else "") + "Starta moment"
    languages, language_notes = language_options(ctx, values.get("language"))
    return render_staff(ctx, "staff/start.html", current="nytt", status=status, title=title, values=values,
                        languages=languages, language_notes=language_notes,
                        errors=errors, summary=summary, programs=program_choices(ctx, values.get("package")),
                        choose_therapist=choose, therapists=therapists, chosen_therapist=chosen_therapist,
                        duplicates=duplicates or [], warning=warning)


@router.get("/personal/moment/nytt")
def start_page(ctx: StaffDep) -> Response:
    """The form to start an enrolment."""
    return _start_page(ctx, {})


START_FIELDS = ("personal_number", "display_name", "email", "phone", "package", "language", "therapist")


@router.post("/personal/moment/nytt")
def start_post(ctx: StaffDep, form: CsrfForm) -> Response:
    """Start the enrolment and go on to customise it; errors and the duplicate warning show the form again."""
    require(ctx, Action.enrolment_start)
    values = {k: first(form, k)[:300] for k in START_FIELDS}
    program_id, _, version = values["package"].partition("/")
    therapist_id = None
    if values["therapist"]:
        try:
            therapist_id = int(values["therapist"])
        except ValueError:
            return _start_page(ctx, values, {"therapist": "Välj en behandlare på vårdenheten."}, 422)
    req = StartRequest(personal_number=values["personal_number"], program_id=program_id, version=version or None,
                       display_name=values["display_name"], email=values["email"], phone=values["phone"],
                       therapist_id=therapist_id, duplicate_ok=first(form, "duplicate_ok") == "ja",
                       language=values["language"] or None)
    try:
        started = start_enrolment(ctx, req)
    except DuplicateWarning as warn:
        tz = ctx.app.tz
        rows = [{"id": e.id, "started": e.started_at.astimezone(tz).date().isoformat(),
                 "status": "vidmakthålls" if e.status == EnrolmentStatus.maintenance else "pågår",
                 "therapist": e.therapist.display_name if e.therapist else "ingen behandlare"}
                for e in warn.duplicates]
        return _start_page(ctx, values, status=409, duplicates=rows, warning=warn.message)
    except AppError as exc:
        if exc.status != 422:
            raise
        ctx.db.rollback()
        return _start_page(ctx, values, exc.errors or {"personal_number": exc.message}, 422)
    notice = "namn" if started.existing_patient else "1"
    return redirect(f"/personal/moment/{started.enrolment.id}/anpassa?startat={notice}")


# --- the customisation page ----------------------------------------------------------------------


@dataclass
class StepRow:
    """A step on the customisation page: shown or hidden for this patient, and the package's default."""

    key: str  # module/step
    html_id: str
    title: str
    visible: bool
    default_visible: bool
    forms: bool


@dataclass
class SectionRow:
    """A section (avsnitt) with every step, hidden ones too."""

    title: str
    steps: list[StepRow]


@dataclass
class ModuleRow:
    """A module on the customisation page: current or upcoming, kept in maintenance, its sections."""

    id: str
    title: str
    kind: str
    state: str  # current | upcoming
    in_maintenance: bool
    sections: list[SectionRow]

    open: bool = False  # shown unfolded (just saved, or has an error)

    @property
    def hidden_count(self) -> int:
        """How many of the module's steps the patient does not see."""
        return sum(1 for s in self.sections for st in s.steps if not st.visible)

    @property
    def step_count(self) -> int:
        """How many steps the module has, hidden ones too."""
        return sum(len(s.steps) for s in self.sections)

    @property
    def hidden_titles(self) -> list[str]:
        """Titles of the module's hidden steps, in order."""
        return [st.title for s in self.sections for st in s.steps if not st.visible]


def module_rows(enrolment: Enrolment, package: Package) -> list[ModuleRow]:
    """Every module of the enrolment with its sections and every step, visible or hidden."""
    out = []
    for em in enrolment.modules:
        module = package.module(em.module_id)
        if module is None:
            continue
        sections = []
        for section in module.get("sections", []):
            steps = [StepRow(f"{module['id']}/{s['id']}", f"steg-{module['id']}-{s['id']}", s["title"],
                             step_visible(enrolment, module["id"], s), bool(s.get("visible", True)),
                             bool(s.get("forms"))) for s in section.get("steps", [])]
            sections.append(SectionRow(section["title"], steps))
        kind = "Fördjupningsmodul" if module.get("kind") == "deepening" else "Grundmodul"
        out.append(ModuleRow(module["id"], module["title"], kind, em.state.value, em.in_maintenance, sections))
    return out


NOTICES = {
    "valkomst": "Välkomsttexten är sparad.",
    "kontakter": "Kontakterna är sparade.",
    "innehall": "Moduler och steg är sparade.",
    "avisering": "Patientens uppgifter för aviseringar är sparade.",
    "bedomning": "Kön vid bedömning av poäng är sparat.",
    "sprak": "Språket är sparat.",
    "inget": "Inget ändrades.",
}


def _open_modules(errors: dict[str, str], saved_module: str | None) -> set[str]:
    """Modules to show unfolded: the one just saved and those an error is about (issue #15, point 3)."""
    out = {saved_module} if saved_module else set()
    for key in errors:
        if key.startswith("modules."):
            out.add(key.split(".", 1)[1])
        elif key.startswith("steps."):
            out.add(key.split(".", 1)[1].partition("/")[0])
    return out


def customise_page(ctx: Ctx, enrolment: Enrolment, package: Package, status: int = 200,
                   errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
                   notice: str | None = None, saved_module: str | None = None) -> Response:
    """The customisation view; read-only (with the reason) for those who may not change it.

    Modules and steps (issue #15, point 3): each module is folded (details/summary) with
    its step count and how many are hidden, and has its own form and save button; a
    summary above the modules says what the patient does not see.
    """
    errors, values = errors or {}, values or {}
    can_edit = allowed(ctx, Action.enrolment_customise, enrolment) and enrolment.status != EnrolmentStatus.ended
    if enrolment.status == EnrolmentStatus.ended:
        reason = ENDED
    elif not can_edit:
        reason = "Du kan se anpassningen men inte ändra den: bara patientens behandlare eller en " \
                 "invånaradministratör kan det."
    else:
        reason = None
    summary = [(_anchor(key), message) for key, message in errors.items()]  # (field id or None, message)
    modules = module_rows(enrolment, package)
    unfold = _open_modules(errors, saved_module)
    for m in modules:
        m.open = m.id in unfold
    ctx.audit("enrolment.read", enrolment, "page:anpassa")
    return render_staff(ctx, "staff/customise.html", current="", status=status,
                        title=("Fel: " if summary else "") + f"Anpassa – {enrolment.patient.display_name}",
                        enrolment=enrolment, package=package, tab="anpassa", can_edit=can_edit, reason=reason,
                        welcome=values.get("welcome_text", enrolment.welcome_text),
                        contacts=enrolment.contacts, modules=modules,
                        upcoming=[m for m in modules if m.state == "upcoming"],
                        hidden=[m for m in modules if m.hidden_count],
                        sex_forms=sex_scored_forms(package), sexes=SCORING_SEXES,
                        languages=[(code, f"{swedish_name(code)} ({native_name(code)})" if code != BASE_LANGUAGE
                                    else "svenska")
                                   for code in language_codes(ctx.app.store, enrolment.program_id,
                                                              enrolment.program_version)],
                        language=values.get("language", enrolment.language),
                        language_name=swedish_name(enrolment.language),
                        scoring_sex=values.get("scoring_sex", enrolment.scoring_sex or ""),
                        errors=errors, summary=summary, values=values, notice=notice)


def sex_scored_forms(package: Package) -> list[str]:
    """Titles of the forms whose score is read by sex (AUDIT-C): the customise page asks for it only then."""
    return [f["title"] for f in package.program.get("forms", {}).values()
            if (f.get("scoring") or {}).get("bands_by_sex")]


def _anchor(key: str) -> str | None:
    """The id of the field an error key is about (the page's field ids), None when there is none."""
    if key.startswith("contact-") or key in ("welcome_text", "kontakter", "patient_email", "patient_phone"):
        return key
    if key == "scoring_sex":
        return "scoring_sex-ej"
    if key == "language":
        return "language"
    if key.startswith("modules."):
        return f"modul-{key.split('.', 1)[1]}-aktuell"
    if key.startswith("steps."):
        module_id, _, step_id = key.split(".", 1)[1].partition("/")
        return f"steg-{module_id}-{step_id}-synligt"
    return None


@router.get("/personal/moment/{eid}/anpassa")
def customise_view(eid: int, ctx: StaffDep) -> Response:
    """Welcome text, contacts, modules current or upcoming, steps shown or hidden."""
    enrolment = unit_enrolment(ctx, eid, Action.enrolment_read)
    package = enrolment_package(ctx, enrolment)
    query = ctx.request.query_params
    notice = next((NOTICES[k] for k in NOTICES if query.get("sparat") == k), None)
    if "startat" in query:
        notice = "Momentet är startat. Anpassa programmet för patienten och förhandsvisa det innan patienten börjar."
        if query.get("startat") == "namn":
            notice += f" Personen fanns redan i tjänsten som {enrolment.patient.display_name}."
    saved_module = query.get("modul") if query.get("sparat") in ("innehall", "inget") else None
    return customise_page(ctx, enrolment, package, notice=notice, saved_module=saved_module)


CONTACT_FIELDS = ("name", "role", "phone", "email", "hours", "url")


@router.post("/personal/moment/{eid}/anpassa")
def customise_post(eid: int, ctx: StaffDep, form: CsrfForm) -> Response:
    """Save one section of the customisation (`_section`): welcome text, contacts, or modules and steps."""
    enrolment = unit_enrolment(ctx, eid, Action.enrolment_customise)
    package = enrolment_package(ctx, enrolment)
    section = first(form, "_section")
    change, values, saved, after = Customisation(), {}, "kontakter", ""
    current = [contact_data(c) for c in enrolment.contacts]
    if section == "avisering":
        return _save_notice_contacts(ctx, enrolment, package, first(form, "patient_email")[:300],
                                     first(form, "patient_phone")[:100])
    if section == "valkomst":
        values["welcome_text"] = first(form, "welcome_text")[:WELCOME_MAX + 1]
        change.welcome_text, saved = values["welcome_text"], "valkomst"
    elif section == "kontakt-ny":
        values = {f"contact-{k}": first(form, f"contact-{k}")[:600] for k in CONTACT_FIELDS}
        new, problems = check_contact(ContactData(**{k: values[f"contact-{k}"] for k in CONTACT_FIELDS}))
        if problems:
            return _refused(ctx, enrolment, package, {f"contact-{k}": v for k, v in problems.items()}, values)
        change.contacts = current + [new]
    elif section in ("kontakt-bort", "kontakt-upp", "kontakt-ned"):
        index = next((i for i, c in enumerate(enrolment.contacts) if str(c.id) == first(form, "contact")), None)
        if index is None:
            return _refused(ctx, enrolment, package, {"kontakter": "Kontakten finns inte längre. Ladda om sidan."})
        if section == "kontakt-bort":
            del current[index]
        else:
            other = index - 1 if section == "kontakt-upp" else index + 1
            if 0 <= other < len(current):
                current[index], current[other] = current[other], current[index]
        change.contacts = current
    elif section == "sprak":
        values["language"] = first(form, "language")[:40]
        change.language, saved = values["language"], "sprak"
    elif section == "bedomning":
        values["scoring_sex"] = first(form, "scoring_sex")[:20]
        change.scoring_sex, saved = values["scoring_sex"], "bedomning"
    elif section == "innehall":
        change.modules = {key[len("modul:"):]: {"aktuell": "current", "kommande": "upcoming"}.get(first(form, key), "?")
                          for key in form if key.startswith("modul:")}
        change.steps = {}
        for key in form:
            if key.startswith("steg:"):
                choice = first(form, key)
                if choice not in ("synligt", "dolt"):
                    return _refused(ctx, enrolment, package, {f"steps.{key[5:]}": "Välj synligt eller dolt."})
                change.steps[key[5:]] = choice == "synligt"
        saved = "innehall"
        module_id = first(form, "modul")
        if module_id and package.module(module_id) is not None:
            after = f"&modul={module_id}#modul-{module_id}"
    else:
        raise AppError(400, "Okänd del av anpassningen. Ladda om sidan och försök igen.")
    try:
        changes = customise(ctx, enrolment, package, change)
    except AppError as exc:
        if exc.status not in (409, 422):
            raise
        ctx.db.rollback()
        enrolment = unit_enrolment(ctx, eid, Action.enrolment_customise)
        return _refused(ctx, enrolment, package, exc.errors or {"anpassning": exc.message}, values, exc.status)
    return redirect(f"/personal/moment/{eid}/anpassa?sparat={saved if changes else 'inget'}{after}")


def _save_notice_contacts(ctx: Ctx, enrolment: Enrolment, package: Package, email_text: str,
                          phone_text: str) -> Response:
    """The patient's e-mail address and mobile number for "Avisera" notices (the person's, for all their enrolments)."""
    try:
        changed = set_notice_contacts(ctx, enrolment, email_text, phone_text)
    except AppError as exc:
        return _refused(ctx, enrolment, package, exc.errors or {"patient_email": exc.message},
                        {"patient_email": email_text, "patient_phone": phone_text}, exc.status)
    return redirect(f"/personal/moment/{enrolment.id}/anpassa?sparat={'avisering' if changed else 'inget'}")


def _refused(ctx: Ctx, enrolment: Enrolment, package: Package, errors: dict[str, str],
             values: dict[str, str] | None = None, status: int = 422) -> Response:
    return customise_page(ctx, enrolment, package, status=status, errors=errors, values=values)
