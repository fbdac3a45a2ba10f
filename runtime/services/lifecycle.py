"""Managing an enrolment: maintenance, ending, links, therapist, handover, version moves.

Input: a staff context whose access to the enrolment the route has checked, and the
values the staff member gave (as typed). Output: the enrolment changed in the unit of
work, with a lifecycle event for the timeline and an access-log row; or an `AppError`
with a Swedish reason (422 with `errors` for a wrong value, 409 for an action the
enrolment's state no longer allows).

Method support, section 9: maintenance (vidmakthållande) and ending (avsluta) cannot
be undone; both are confirmed. Maintenance keeps the modules the therapist chooses
readable for a number of days and closes writing; ending takes the program away
from the patient and needs a reason. An ended enrolment cannot be changed at all.

Version moves use the builder's package diff (builder/diff.py, builder/compat.py):
a move is allowed when the newer version's changes are patch or minor, which keep
every module, step, form, question and option id, so recorded answers stay attached.

Must not: import FastAPI or the staff pages; decide roles here (runtime.services.access
does); reverse a maintenance or an ending.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import or_, select

from builder.compat import MAJOR, MEANING, MINOR
from builder.diff import PackageDiff, PackageError, diff_packages, open_package
from runtime.context import AppError, Ctx
from runtime.enrolments import plan_from_package
from runtime.models import (
    Enrolment,
    EnrolmentModule,
    EnrolmentStatus,
    EventKind,
    ModuleState,
    Unit,
    User,
)
from runtime.packages import Package, version_key
from runtime.services.enrolment import ENDED, local_today, unit_therapists
from runtime.services.events import record

MAINTENANCE_DAYS = (1, 730)
END_TEXT_MAX = 500
REASONS = {
    "genomford": "Behandlingen är genomförd",
    "avbrot": "Patienten avbröt",
    "flyttade": "Patienten flyttade",
    "annat": "Annat",
}
IRREVERSIBLE = "Kryssa i att du förstår att det inte går att ångra."


def _not_ended(enrolment: Enrolment) -> None:
    if enrolment.status == EnrolmentStatus.ended:
        raise AppError(409, ENDED)


def int_or_none(text: str) -> int | None:
    """A typed whole number that fits the database's ids (a signed 64-bit integer), or None."""
    try:
        value = int(text.strip())
    except ValueError:
        return None
    return value if -2**63 <= value < 2**63 else None


def _invalid(errors: dict[str, str]) -> AppError:
    return AppError(422, next(iter(errors.values())), errors=errors)


# --- maintenance and ending ----------------------------------------------------------------------


def start_maintenance(ctx: Ctx, enrolment: Enrolment, package: Package, days_text: str, module_ids: list[str],
                      confirmed: bool) -> None:
    """Put an active enrolment in maintenance for 1–730 days, keeping the chosen modules (irreversible)."""
    _not_ended(enrolment)
    if enrolment.status == EnrolmentStatus.maintenance:
        raise AppError(409, "Momentet vidmakthålls redan. Vidmakthållandet går inte att ändra eller ångra; "
                            "du kan avsluta momentet.")
    errors = {}
    days = int_or_none(days_text)
    low, high = MAINTENANCE_DAYS
    if days is None or not low <= days <= high:
        errors["dagar"] = f"Skriv antal dagar som en siffra från {low} till {high}."
    rows = {m.module_id: m for m in enrolment.modules}
    chosen = set(module_ids)
    if chosen - set(rows):
        errors["moduler"] = "Välj bland programmets moduler."
    elif not chosen:
        errors["moduler"] = "Välj minst en modul som patienten ska ha kvar."
    if not confirmed:
        errors["vidmakthall-bekrafta"] = IRREVERSIBLE
    if errors:
        raise _invalid(errors)
    until = local_today(ctx) + timedelta(days=days)
    for module_id, row in rows.items():
        keep = module_id in chosen
        if keep and row.state != ModuleState.current:
            row.state, row.changed_at = ModuleState.current, ctx.now  # chosen to keep: the patient must see it
        row.in_maintenance = keep
    enrolment.status = EnrolmentStatus.maintenance
    enrolment.maintenance_started_at, enrolment.maintenance_until = ctx.now, until
    titles = [(package.module(m) or {}).get("title", m) for m in rows if m in chosen]
    record(ctx, enrolment, EventKind.maintenance,
           f"Vidmakthållande i {days} dagar, till och med {until.isoformat()}. Moduler kvar: {', '.join(titles)}.")
    ctx.audit("enrolment.maintenance", enrolment)


def end_enrolment(ctx: Ctx, enrolment: Enrolment, reason_key: str, text: str, confirmed: bool) -> None:
    """End an active or maintained enrolment with a reason (irreversible): the patient loses access."""
    if enrolment.status == EnrolmentStatus.ended:
        raise AppError(409, "Momentet är redan avslutat. Det går inte att ångra.")
    errors = {}
    text = " ".join(text.split())
    if reason_key not in REASONS:
        errors["orsak"] = "Välj en orsak till att momentet avslutas."
    elif reason_key == "annat" and not text:
        errors["orsak-text"] = "Beskriv orsaken när du väljer Annat."
    if len(text) > END_TEXT_MAX:
        errors["orsak-text"] = f"Beskrivningen får vara högst {END_TEXT_MAX} tecken."
    if not confirmed:
        errors["avsluta-bekrafta"] = IRREVERSIBLE
    if errors:
        raise _invalid(errors)
    reason = REASONS[reason_key] + (f": {text}" if text else "")
    enrolment.status = EnrolmentStatus.ended
    enrolment.ended_at, enrolment.ended_by, enrolment.end_reason = ctx.now, ctx.user.id, reason
    record(ctx, enrolment, EventKind.ended, f"Avslutat. Orsak: {reason}.")
    ctx.audit("enrolment.end", enrolment)


# --- links ---------------------------------------------------------------------------------------


def linked_enrolments(ctx: Ctx, enrolment: Enrolment) -> list[Enrolment]:
    """Enrolments of the same unit linked to this one, either way round."""
    conditions = [Enrolment.linked_to_id == enrolment.id]
    if enrolment.linked_to_id is not None:
        conditions.append(Enrolment.id == enrolment.linked_to_id)
    return list(ctx.db.scalars(select(Enrolment).where(or_(*conditions), Enrolment.unit_id == enrolment.unit_id,
                                                       Enrolment.id != enrolment.id).order_by(Enrolment.started_at)))


def link_candidates(ctx: Ctx, enrolment: Enrolment) -> list[Enrolment]:
    """The patient's other ongoing enrolments in the unit that are not linked to this one."""
    linked = {e.id for e in linked_enrolments(ctx, enrolment)}
    rows = ctx.db.scalars(select(Enrolment).where(
        Enrolment.patient_id == enrolment.patient_id, Enrolment.unit_id == enrolment.unit_id,
        Enrolment.id != enrolment.id, Enrolment.status != EnrolmentStatus.ended).order_by(Enrolment.started_at))
    return [e for e in rows if e.id not in linked]


def describe(ctx: Ctx, e: Enrolment) -> str:
    """Another enrolment of the patient in words: its program and start date."""
    package = ctx.app.store.get(e.program_id, e.program_version)
    title = package.title if package else e.program_id
    return f"{title} (startat {e.started_at.astimezone(ctx.app.tz).date().isoformat()})"


def link(ctx: Ctx, enrolment: Enrolment, other_text: str) -> Enrolment:
    """Link another ongoing enrolment of the same patient in the unit to this one."""
    _not_ended(enrolment)
    other_id = int_or_none(other_text)
    other = next((e for e in link_candidates(ctx, enrolment) if e.id == other_id), None)
    if other is None:
        raise _invalid({"lanka": "Välj ett av patientens andra pågående moment på vårdenheten."})
    if enrolment.linked_to_id is None:
        enrolment.linked_to_id = other.id
    elif other.linked_to_id is None:
        other.linked_to_id = enrolment.id
    else:
        raise _invalid({"lanka": "Båda momenten är redan länkade till andra moment. Ta bort en länk först."})
    record(ctx, enrolment, EventKind.linked, f"Länkat till momentet {describe(ctx, other)}.")
    record(ctx, other, EventKind.linked, f"Länkat till momentet {describe(ctx, enrolment)}.")
    ctx.audit("enrolment.link", enrolment, f"enrolment:{other.id}")
    return other


def unlink(ctx: Ctx, enrolment: Enrolment, other_text: str) -> Enrolment:
    """Remove the link between this enrolment and another."""
    _not_ended(enrolment)
    other_id = int_or_none(other_text)
    other = next((e for e in linked_enrolments(ctx, enrolment) if e.id == other_id), None)
    if other is None:
        raise _invalid({"lankade": "Momenten är inte länkade. Ladda om sidan."})
    if enrolment.linked_to_id == other.id:
        enrolment.linked_to_id = None
    if other.linked_to_id == enrolment.id:
        other.linked_to_id = None
    record(ctx, enrolment, EventKind.unlinked, f"Länken till momentet {describe(ctx, other)} är borttagen.")
    record(ctx, other, EventKind.unlinked, f"Länken till momentet {describe(ctx, enrolment)} är borttagen.")
    ctx.audit("enrolment.unlink", enrolment, f"enrolment:{other.id}")
    return other


# --- therapist and unit --------------------------------------------------------------------------


def change_therapist(ctx: Ctx, enrolment: Enrolment, therapist_text: str) -> User:
    """Make another of the unit's therapists the enrolment's therapist."""
    _not_ended(enrolment)
    therapist_id = int_or_none(therapist_text)
    therapist = next((t for t in unit_therapists(ctx, enrolment.unit_id) if t.id == therapist_id), None)
    if therapist is None:
        raise _invalid({"behandlare": "Välj en behandlare på vårdenheten."})
    if therapist.id == enrolment.therapist_id:
        raise _invalid({"behandlare": f"{therapist.display_name} är redan behandlare för momentet."})
    before = enrolment.therapist.display_name if enrolment.therapist else "ingen"
    enrolment.therapist_id = therapist.id
    record(ctx, enrolment, EventKind.therapist_changed, f"Behandlare: {before} → {therapist.display_name}.")
    ctx.audit("enrolment.therapist_change", enrolment, f"user:{therapist.id}")
    return therapist


def other_units(ctx: Ctx, enrolment: Enrolment) -> list[Unit]:
    """Every unit an enrolment can be handed over to."""
    return list(ctx.db.scalars(select(Unit).where(Unit.id != enrolment.unit_id).order_by(Unit.name, Unit.id)))


def hand_over(ctx: Ctx, enrolment: Enrolment, unit_text: str, confirmed: bool) -> Unit:
    """Move the enrolment to another unit: no therapist until theirs assigns one; links are removed."""
    _not_ended(enrolment)
    unit_id = int_or_none(unit_text)
    errors = {}
    unit = next((u for u in other_units(ctx, enrolment) if u.id == unit_id), None)
    if unit is None:
        errors["enhet"] = "Välj vårdenheten som ska ta emot momentet."
    if not confirmed:
        errors["overlamna-bekrafta"] = "Kryssa i att du förstår att er vårdenhet inte längre ser momentet."
    if errors:
        raise _invalid(errors)
    giver = ctx.db.get(Unit, enrolment.unit_id)
    for other in linked_enrolments(ctx, enrolment):
        # A link names an enrolment of the giving unit, which the receiving unit must not see.
        if other.linked_to_id == enrolment.id:
            other.linked_to_id = None
        record(ctx, other, EventKind.unlinked, "Länken är borttagen: det länkade momentet lämnades över till "
                                               "en annan vårdenhet.")
    ctx.audit("enrolment.handover", enrolment, f"unit:{unit.id}")
    enrolment.linked_to_id = None
    enrolment.unit_id, enrolment.therapist_id = unit.id, None
    record(ctx, enrolment, EventKind.handed_over,
           f"Överlämnat från {giver.name} till {unit.name}. Den mottagande vårdenheten väljer behandlare.")
    return unit


# --- version moves -------------------------------------------------------------------------------


@dataclass
class VersionOption:
    """A newer served version of the enrolment's program and whether the enrolment can move to it."""

    version: str
    level: str  # none, patch, minor, major; "okänd" when the packages could not be compared
    meaning: str
    allowed: bool
    changes: list[str] = field(default_factory=list)
    breaking: list[str] = field(default_factory=list)
    html_id: str = ""


def package_diff(old: Package, new: Package) -> PackageDiff:
    """The builder's diff of two served packages (cached with the newer one; packages never change)."""
    return new.cached(f"diff-from:{old.version}:{old.manifest_sha256}",
                      lambda: diff_packages(open_package(Path(old.root)), open_package(Path(new.root))))


def version_options(ctx: Ctx, package: Package) -> list[VersionOption]:
    """Newer served versions of the program, oldest first, with their compatibility class."""
    newer = sorted((p for p in ctx.app.store.all() if p.program_id == package.program_id
                    and version_key(p.version) > version_key(package.version)), key=lambda p: version_key(p.version))
    out = []
    for p in newer:
        html_id = "version-" + "".join(c if c.isalnum() else "-" for c in p.version)
        try:
            d = package_diff(package, p)
        except PackageError as exc:
            out.append(VersionOption(p.version, "okänd", f"Versionerna gick inte att jämföra: {exc}", False,
                                     html_id=html_id))
            continue
        level = d.level
        out.append(VersionOption(p.version, level.label, MEANING.get(level, "inga ändringar i det patienten får"),
                                 level <= MINOR, [c.message for c in d.changes],
                                 [c.message for c in d.changes if c.level is MAJOR], html_id))
    return out


def move_version(ctx: Ctx, enrolment: Enrolment, package: Package, version: str) -> Package:
    """Move the enrolment to a newer served version whose changes are patch or minor.

    New modules get the package's start state (kept in maintenance only if the enrolment
    is active), the hide/show choices of steps that no longer exist are dropped, plans new
    in the package are added, not activated. Answers are untouched: a minor change keeps
    every form and question id.
    """
    _not_ended(enrolment)
    option = next((o for o in version_options(ctx, package) if o.version == version), None)
    target = ctx.app.store.get(package.program_id, version) if option is not None else None
    if option is None or target is None:
        raise _invalid({"version": "Välj en nyare version av programmet som lämnas ut."})
    if not option.allowed:
        detail = "; ".join(option.breaking[:5]) or option.meaning
        raise _invalid({option.html_id: f"Version {version} kan inte användas för momentet: ändringarna är av klass "
                                        f"{option.level} och påverkar det patienten redan har gjort ({detail})."})
    rows = {m.module_id: m for m in enrolment.modules}
    in_maintenance = enrolment.status == EnrolmentStatus.maintenance
    new_ids = [m["id"] for m in target.program.get("modules", [])]
    added_modules = []
    for position, module in enumerate(target.program.get("modules", [])):
        row = rows.get(module["id"])
        if row is None:
            row = EnrolmentModule(module_id=module["id"], state=ModuleState(module.get("start", "current")),
                                  in_maintenance=not in_maintenance, changed_at=ctx.now)
            enrolment.modules.append(row)
            added_modules.append(module["title"])
        row.position = position
    for module_id, row in rows.items():
        if module_id not in new_ids:
            enrolment.modules.remove(row)
    for setting in list(enrolment.step_settings):
        if target.step(setting.module_id, setting.step_id) is None:
            enrolment.step_settings.remove(setting)
    have = {p.plan_id for p in enrolment.plans if p.plan_id}
    added_plans = []
    for plan_id, plan in sorted(target.program.get("activity_plans", {}).items()):
        if plan_id not in have:
            enrolment.plans.append(plan_from_package(plan_id, plan, ctx.now, activated=False))
            added_plans.append(plan.get("title", plan_id))
    before = enrolment.program_version
    enrolment.program_version = target.version
    detail = f"Flyttat från version {before} till {target.version} (ändringar av klass {option.level})."
    if added_modules:
        detail += f" Nya moduler: {', '.join(added_modules)}."
    if added_plans:
        detail += f" Nya aktivitetsplaner (inte aktiverade): {', '.join(added_plans)}."
    record(ctx, enrolment, EventKind.version_moved, detail)
    ctx.audit("enrolment.version_move", enrolment, f"version:{target.version}")
    ctx.db.flush()
    return target
