"""Activity plans on the staff side: schedule rules, a therapist's own plans, and changing a plan.

Input: a staff context whose access the route has checked (`runtime.services.access`),
the enrolment, its package and the plan. Output: the plan changed in the unit of work,
with a `plan_changed` event for the timeline and an access-log row; a refusal is an
`AppError` with a Swedish message (per field in `errors`).

The rules of a plan are the builder's: the schedule is checked with its `Schedule`
model (1–52 weeks between repeats, 0–31 days for late registration), and a therapist's
own plan for one patient with its `ActivityPlan` model, as if it were a plan in the
program's sources. The models' errors become Swedish messages for the therapist here
(`plan_error_text`); the pages' wording for the mistakes a form can make is kept.
Registrations never lose their field: a reset that would drop a field with
registrations (or change it between number and text) is refused. Changes are refused
once the enrolment is in maintenance or ended.

Must not: import FastAPI or the staff pages; trust field ids or types a browser sent
(the pages check them against the stored definition before they get here).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select

from builder.schema.activity_plan import ActivityPlan
from builder.schema.activity_plan import Schedule as ScheduleModel
from runtime.context import AppError, Ctx
from runtime.enrolments import plan_definition
from runtime.models import Enrolment, EnrolmentPlan, EnrolmentStatus, EventKind, Registration
from runtime.packages import Package
from runtime.schedule import EARLIEST_START, LATEST_START, WEEKDAYS, format_day, start_in_range
from runtime.services.events import record

#: Field types that hold text; a field may change between them even with registrations.
TEXTUAL = {"text", "textarea"}

# --- the builder's errors in the therapist's words ------------------------------------------------

#: Messages the staff pages have always shown, by where the error is (a field's key alone for fields).
PAGE_WORDING = {
    ("title",): "Skriv en rubrik för planen.",
    ("fields",): "Planen behöver minst ett fält som patienten fyller i.",
    ("label",): "Skriv frågan eller etiketten som patienten ser.",
    ("type",): "Välj tal, tidslängd, klockslag, kort text eller längre text.",
    ("min",): "Skriv lägsta värdet som ett tal, till exempel 0 eller 1,5.",
    ("max",): "Skriv högsta värdet som ett tal, till exempel 100.",
    ("schedule", "repeat_every_weeks"): "Ange hur ofta schemat upprepas: var 1:a till var 52:a vecka.",
    ("schedule", "registration_window_days"): "Ange 0–31 dagar för sen registrering.",
}
#: What the keys of a plan are called on the staff pages.
KEY_WORDS = {
    "title": "rubriken", "description": "instruktionen", "fields": "fälten", "id": "fältets id",
    "type": "typen", "label": "etiketten", "help": "hjälptexten", "unit": "enheten", "min": "lägsta värdet",
    "max": "högsta värdet", "step": "steget", "required": "”Måste fyllas i”", "results": "diagrammet",
    "field": "diagrammets fält", "schedule": "schemat", "repeat_every_weeks": "upprepningen",
    "registration_window_days": "dagarna för sen registrering", "days": "veckodagarna",
    "flag_missed": "”Flagga vid missad aktivitet”", "allow_comments": "”Tillåt kommentarer”",
    "activated": "”Aktiverad”",
}
#: Per pydantic error type (as builder/validate.py sorts them for authors), the therapist's message.
TYPE_WORDING = {
    "missing": "Fyll i {what}.",
    "string_type": "Skriv {what} som text.",
    "int_type": "Skriv {what} som ett heltal.",
    "float_type": "Skriv {what} som ett tal.",
    "bool_type": "Svara ja eller nej för {what}.",
    "literal_error": "{What} kan inte vara {input!r}. Välj ett av alternativen.",
    "greater_than_equal": "{What} ska vara minst {ge}.",
    "less_than_equal": "{What} ska vara högst {le}.",
    "greater_than": "{What} ska vara större än {gt}.",
    "less_than": "{What} ska vara mindre än {lt}.",
    "extra_forbidden": "{What} hör inte till en aktivitetsplan.",
    "stegvis_id": "{What} får bara ha små bokstäver a–z, siffror och bindestreck.",
}


def _where(loc: tuple) -> tuple:
    # Drop pydantic's union-member tags ("int", "float", "function-after[…]") so loc matches the data.
    return tuple(p for p in loc if isinstance(p, int) or ("[" not in p and p not in {"int", "float", "str", "bool"}))


def plan_error_text(loc: tuple, error: dict) -> str:
    """One error of the builder's plan models in the therapist's words."""
    key = next((p for p in reversed(loc) if isinstance(p, str)), "")
    fixed = PAGE_WORDING.get(loc) or (PAGE_WORDING.get((key,)) if "fields" in loc else None)
    if fixed is not None:
        return fixed
    what = KEY_WORDS.get(key, f"”{key}”" if key else "värdet")
    template = TYPE_WORDING.get(error["type"], "Kontrollera {what}.")
    return template.format(what=what, What=what[0].upper() + what[1:], input=error.get("input"),
                           **(error.get("ctx") or {}))


def model_problems(model: type[ActivityPlan] | type[ScheduleModel], document: dict) -> dict[tuple, str]:
    """Check a document with one of the builder's plan models: a Swedish message per place (empty: valid)."""
    try:
        model.model_validate(document)
    except ValidationError as exc:
        problems: dict[tuple, str] = {}
        for error in exc.errors():
            loc = _where(error["loc"])
            problems.setdefault(loc, plan_error_text(loc, error))
        return problems
    return {}


def own_plan_problems(definition: dict[str, Any], schedule: dict[str, Any]) -> dict[tuple, str]:
    """A therapist's own plan (program.json's shape, and its schedule) checked with the builder's `ActivityPlan`.

    Keys are where the problem is, as in the document: ("title",), ("fields", 0, "label"),
    ("schedule", "days")…
    """
    document = {**definition, "schedule": {k: v for k, v in schedule.items() if k in ScheduleModel.model_fields}}
    return model_problems(ActivityPlan, document)


# --- schedule settings ----------------------------------------------------------------------------


def check_days(days: dict[str, str]) -> dict[str, str]:
    """Validate a schedule's weekdays and times (raises ValueError with a Swedish message)."""
    out = {}
    for day, hhmm in days.items():
        if day not in WEEKDAYS:
            raise ValueError(f"Okänd veckodag '{day}'. Skriv {', '.join(WEEKDAYS)}.")
        parts = str(hhmm).split(":")
        if len(parts) != 2 or not all(p.isdigit() for p in parts) or not (0 <= int(parts[0]) <= 23) \
                or not (0 <= int(parts[1]) <= 59):
            raise ValueError(f"Klockslaget '{hhmm}' för {day} ska skrivas TT:MM, till exempel 18:00.")
        out[day] = f"{int(parts[0]):02d}:{int(parts[1]):02d}"
    if not out:
        raise ValueError("Ange minst en veckodag med ett klockslag.")
    return out


class PlanSettingsError(ValueError):
    """A plan's schedule settings break the rules: a Swedish message per field.

    Keys: start_date, repeat_every_weeks, registration_window_days, days (no weekday
    chosen), activated, and "day:<weekday>" for a weekday's time.
    """

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def check_day_times(days: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(weekday -> "HH:MM", errors by "day:<weekday>") of a schedule's days; none chosen is allowed here."""
    out, errors = {}, {}
    for day, hhmm in days.items():
        try:
            out.update(check_days({day: hhmm}))
        except ValueError as exc:
            errors[f"day:{day}"] = str(exc)
    return dict(sorted(out.items(), key=lambda kv: WEEKDAYS.index(kv[0]))), errors


def check_plan_settings(*, start_date: date | None, repeat_every_weeks: int, days: dict[str, str],
                        registration_window_days: int, flag_missed: bool, allow_comments: bool,
                        activated: bool) -> dict[str, Any]:
    """A plan's schedule settings checked and normalised (the staff pages and the API share this).

    Rules: the builder's `Schedule` model (1–52 weeks between repeats, 0–31 days for late
    registration), valid weekdays
    with HH:MM times, and an activated plan needs a start date and at least one weekday
    (a plan that is not activated may lack both: the patient does not see it).
    Raises PlanSettingsError with every problem at once.
    """
    checked, errors = check_day_times(days)
    problems = model_problems(ScheduleModel, {
        "repeat_every_weeks": repeat_every_weeks, "days": checked, "registration_window_days": registration_window_days,
        "flag_missed": flag_missed, "allow_comments": allow_comments, "activated": activated})
    for loc, message in problems.items():
        key = str(loc[0]) if loc else "days"
        errors.setdefault(key, PAGE_WORDING.get(("schedule", key), message))
    if activated and start_date is None:
        errors["start_date"] = "Ange ett startdatum innan planen aktiveras."
    if start_date is not None and not start_in_range(start_date):
        errors["start_date"] = (f"Startdatumet ska ligga mellan {EARLIEST_START.isoformat()} och "
                                f"{LATEST_START.isoformat()}.")
    if activated and not checked and not any(k.startswith("day:") for k in errors):
        errors["days"] = "Välj minst en veckodag med ett klockslag innan planen aktiveras."
    if errors:
        raise PlanSettingsError(errors)
    return {"start_date": start_date, "repeat_every_weeks": repeat_every_weeks, "days": checked,
            "registration_window_days": registration_window_days, "flag_missed": flag_missed,
            "allow_comments": allow_comments, "activated": activated}


#: The schedule settings in words, for the timeline.
PLAN_SETTING_NAMES = {"start_date": "startdatum", "repeat_every_weeks": "upprepning",
                      "days": "veckodagar och klockslag", "registration_window_days": "dagar för sen registrering",
                      "flag_missed": "flagga vid missad registrering", "allow_comments": "kommentarer",
                      "activated": "aktiverad"}


def apply_plan_settings(plan: EnrolmentPlan, now: datetime, **values: Any) -> list[str]:
    """Check (`check_plan_settings`) and set a plan's schedule; returns the names of what changed, in Swedish."""
    new = check_plan_settings(**values)
    changed = [PLAN_SETTING_NAMES[k] for k, v in new.items() if getattr(plan, k) != v]
    if new["activated"] and new["flag_missed"] and not (plan.activated and plan.flag_missed):
        # Missed registrations count from now: before, the patient did not see the plan (or nothing flagged).
        plan.missed_checked_until = now
    for key, value in new.items():
        setattr(plan, key, value)
    plan.updated_at = now
    return changed


# --- changing a plan ------------------------------------------------------------------------------


def closed_reason(enrolment: Enrolment) -> str | None:
    """Why the plans of an enrolment cannot be changed now (None when they can)."""
    if enrolment.status == EnrolmentStatus.maintenance:
        return ("Momentet är i vidmakthållande. Patienten kan inte registrera längre, så aktivitetsplanerna "
                "går inte att ändra.")
    if enrolment.status == EnrolmentStatus.ended:
        return "Momentet är avslutat. Aktivitetsplanerna går inte att ändra."
    return None


def require_open(enrolment: Enrolment) -> None:
    """Refuse (403) a change to the plans of an enrolment in maintenance or ended."""
    reason = closed_reason(enrolment)
    if reason:
        raise AppError(403, reason, title="Går inte att ändra")


def plan_title(plan: EnrolmentPlan, package: Package) -> str:
    """The plan's title (the enrolment's copy, else the program's)."""
    return (plan_definition(plan, package) or {}).get("title") or "Aktivitetsplan"


def registration_counts(ctx: Ctx, plans: list[EnrolmentPlan]) -> dict[int, int]:
    """Registrations per plan id."""
    ids = [p.id for p in plans]
    if not ids:
        return {}
    rows = ctx.db.execute(select(Registration.plan_id, func.count()).where(Registration.plan_id.in_(ids))
                          .group_by(Registration.plan_id))
    return {plan_id: n for plan_id, n in rows}


def field_usage(ctx: Ctx, plan: EnrolmentPlan) -> dict[str, int]:
    """How many registrations hold a value for each field id."""
    usage: dict[str, int] = {}
    for values in ctx.db.scalars(select(Registration.values).where(Registration.plan_id == plan.id)):
        for key in values or {}:
            usage[key] = usage.get(key, 0) + 1
    return usage


def save_plan_settings(ctx: Ctx, enrolment: Enrolment, package: Package, plan: EnrolmentPlan,
                       values: dict[str, Any]) -> list[str]:
    """Check and store a plan's schedule, with its event and access-log row (pages and the API).

    Raises AppError 403 when the enrolment is closed, 422 with `errors` when a value breaks the rules.
    """
    require_open(enrolment)
    try:
        changed = apply_plan_settings(plan, ctx.now, **values)
    except PlanSettingsError as exc:
        raise AppError(422, str(exc), errors=exc.errors) from None
    if changed:
        state = (f"Planen är aktiverad från {format_day(plan.start_date)}." if plan.activated
                 else "Planen är inte aktiverad.")
        record(ctx, enrolment, EventKind.plan_changed,
               f"Aktivitetsplanen ”{plan_title(plan, package)}”: ändrade {', '.join(changed)}. {state}")
    ctx.audit("plan.customise", enrolment, f"plan:{plan.id}")
    return changed


def save_plan_content(ctx: Ctx, enrolment: Enrolment, plan: EnrolmentPlan, definition: dict[str, Any],
                      changes: list[str]) -> None:
    """Store an edited plan in the enrolment (the program's version stays for a reset); `changes` for the timeline.

    A therapist's own plan must stay a valid `ActivityPlan`: refused with 422 and `errors` otherwise.
    """
    require_open(enrolment)
    if plan.plan_id is None:
        schedule = {"repeat_every_weeks": plan.repeat_every_weeks, "days": plan.days,
                    "registration_window_days": plan.registration_window_days, "flag_missed": plan.flag_missed,
                    "allow_comments": plan.allow_comments, "activated": plan.activated}
        _refuse_problems(own_plan_problems(definition, schedule))
    plan.definition, plan.updated_at = definition, ctx.now
    detail = f"Frågor och texter i aktivitetsplanen ”{definition['title']}” ändrades för patienten"
    record(ctx, enrolment, EventKind.plan_changed, detail + (f" ({'; '.join(changes)})." if changes else "."))
    ctx.audit("plan.edit", enrolment, f"plan:{plan.id}")


class ResetRefused(AppError):
    """A reset would leave registrations without their field (409)."""


def reset_plan(ctx: Ctx, enrolment: Enrolment, package: Package, plan: EnrolmentPlan) -> bool:
    """Back to the program's version of the plan; False when it already is.

    Refused (ResetRefused, 409) when registrations would lose their field, and (AppError 409)
    for a plan of the patient's own, which has no program version.
    """
    require_open(enrolment)
    original = package.plan(plan.plan_id) if plan.plan_id else None
    if original is None:
        raise AppError(409, "Planen är patientens egen och har ingen version i programmet att återställa till.")
    if not plan.definition:
        return False
    usage = field_usage(ctx, plan)
    kept = {f["id"]: f["type"] for f in original["fields"]}
    ours = {f["id"]: f for f in plan.definition.get("fields", [])}
    lost = [ours[fid].get("label", fid) for fid, n in usage.items()
            if n and fid in ours and (fid not in kept or (kept[fid] != ours[fid]["type"]
                                                            and not {kept[fid], ours[fid]["type"]} <= TEXTUAL))]
    if lost:
        raise ResetRefused(409, "Planen kan inte återställas: patienten har registrerat värden i "
                                + ", ".join(f"”{x}”" for x in lost)
                                + ", som programmets version inte har (eller har som en annan typ). Värdena skulle "
                                  "inte gå att visa längre.")
    plan.definition, plan.updated_at = None, ctx.now
    record(ctx, enrolment, EventKind.plan_changed,
           f"Aktivitetsplanen ”{original['title']}” återställdes till programmets version.")
    ctx.audit("plan.reset", enrolment, f"plan:{plan.id}")
    return True


def _refuse_problems(problems: dict[tuple, str]) -> None:
    if problems:
        errors = {".".join(str(p) for p in loc): message for loc, message in problems.items()}
        raise AppError(422, next(iter(errors.values())), errors=errors)


def create_own_plan(ctx: Ctx, enrolment: Enrolment, definition: dict[str, Any],
                    values: dict[str, Any]) -> EnrolmentPlan:
    """A plan of the patient's own, checked with the builder's `ActivityPlan` (422 with `errors` otherwise)."""
    require_open(enrolment)
    _refuse_problems(own_plan_problems(definition, values))
    plan = EnrolmentPlan(enrolment_id=enrolment.id, plan_id=None, definition=definition, days={},
                         updated_at=ctx.now)
    apply_plan_settings(plan, ctx.now, **values)
    enrolment.plans.append(plan)
    ctx.db.flush()
    state = f"aktiverad från {format_day(plan.start_date)}" if plan.activated else "inte aktiverad"
    record(ctx, enrolment, EventKind.plan_changed,
           f"Egen aktivitetsplan ”{definition['title']}” skapades med {len(definition['fields'])} fält, {state}.")
    ctx.audit("plan.create", enrolment, f"plan:{plan.id}")
    return plan
