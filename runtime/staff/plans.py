"""Activity plans on the staff side (issue #9): overview, preview with results, schedule, content, own plans.

The method support's workflow (metodstöd, "Aktivitetsplan"): the therapist looks
over the program's plans, previews one as the patient will see it, edits its
questions and texts for this patient if needed, sets the start date, the weekly
schedule with a time per weekday, the days allowed for late registration, "flag on
missed" and "allow comments", and ticks "Aktiverad" (a plan that is not activated is
invisible to the patient). A therapist can also make a plan of their own for one
patient. Results show as a chart and a table.

Routes (all under /personal/moment/{eid}/aktivitetsplaner, policy in runtime.services.access):

  GET        ""                          enrolment_read       the plans of the enrolment
  GET/POST   /ny                         enrolment_customise  a patient-specific plan
  GET        /{plan_pk}                  enrolment_read       preview and results
  GET/POST   /{plan_pk}/installningar    enrolment_customise  start, schedule, window, flags, activation
  GET/POST   /{plan_pk}/innehall         enrolment_customise  title, instructions, fields for this patient
  POST       /{plan_pk}/aterstall        enrolment_customise  back to the program's version

An edited or own plan lives in `EnrolmentPlan.definition` (program.json's shape:
title, description, fields, results; the schedule lives in the plan's columns).
Registrations never lose their field: a field that has registrations cannot be
removed, nor change between number and text, and a reset that would drop such a
field is refused. Changes are refused once the enrolment is in maintenance or ended
(the patient can no longer register). Every read and change writes an access-log row;
every change a `plan_changed` event for the timeline.

The rules and the changes themselves are `runtime.services.plans` (which the JSON API
shares); a therapist's own plan is checked with the builder's `ActivityPlan` model there,
and its messages are placed on these forms here.

Must not: trust field ids or types the browser sends; they are checked against the stored definition.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from markupsafe import Markup

from runtime.content import markdown
from runtime.enrolments import plan_definition, plan_schedule
from runtime.models import Enrolment, EnrolmentPlan
from runtime.packages import Package
from runtime.schedule import WEEKDAYS, format_day, iter_occasions, last_day
from runtime.services import patient
from runtime.services.access import Action, allowed, enrolment_package, unit_enrolment
from runtime.services.plans import (
    TEXTUAL,
    PlanSettingsError,
    ResetRefused,
    check_plan_settings,
    closed_reason,
    create_own_plan,
    field_usage,
    own_plan_problems,
    plan_title,
    registration_counts,
    require_open,
    reset_plan,
    save_plan_content,
    save_plan_settings,
)
from runtime.staff.common import render_staff
from runtime.views import QuestionView, fmt_number, fmt_time, plan_results, question_views
from runtime.web import AppError, CsrfForm, Ctx, RequestCtx, StaffDep, first, not_found, redirect

router = APIRouter(include_in_schema=False)

MAX_FIELDS = 5
TITLE_MAX, DESCRIPTION_MAX, LABEL_MAX, HELP_MAX, UNIT_MAX = 200, 5000, 300, 500, 30
NEXT_OCCASIONS = 5
#: Types a therapist can give a field; the program's other types (choices, scales) keep theirs.
EDITABLE_TYPES = {"number": "Tal", "duration": "Tidslängd", "time": "Klockslag", "text": "Kort text",
                  "textarea": "Längre text"}
TYPE_ERROR = "Välj tal, tidslängd, klockslag, kort text eller längre text."
#: The longest duration a field can hold, in minutes (as the builder's rule, PLAN-008).
DURATION_MAX = 24 * 60
TYPE_NAMES = {**EDITABLE_TYPES, "single": "Ett val", "multi": "Flera val", "scale": "Skala", "date": "Datum",
              "display": "Text att läsa"}
NOTICES = {"sparat": "Inställningarna är sparade.", "oforandrat": "Inget ändrades.",
           "innehall": "Frågorna och texterna är sparade för den här patienten.",
           "aterstallt": "Planen är återställd till programmets version.",
           "skapad": "Den egna aktivitetsplanen är skapad. Aktivera den när den är klar.",
           # Issue 15: a plan activated as it was made is not to be activated again.
           "skapad-aktiverad": "Den egna aktivitetsplanen är skapad och aktiverad. Patienten ser den nu."}



def _base(enrolment: Enrolment) -> str:
    return f"/personal/moment/{enrolment.id}/aktivitetsplaner"


def _notice(ctx: RequestCtx) -> str | None:
    return next((text for key, text in NOTICES.items() if key in ctx.request.query_params), None)


def _load(ctx: Ctx, eid: int, action: Action) -> tuple[Enrolment, Package]:
    enrolment = unit_enrolment(ctx, eid, action)
    return enrolment, enrolment_package(ctx, enrolment)


def _plan(enrolment: Enrolment, plan_pk: int) -> EnrolmentPlan:
    plan = next((p for p in enrolment.plans if p.id == plan_pk), None)
    if plan is None:
        raise not_found()
    return plan


def kind_text(plan: EnrolmentPlan) -> str:
    """Where the plan comes from, in words."""
    if plan.plan_id is None:
        return "Egen plan för patienten"
    return "Programmets plan, ändrad för patienten" if plan.definition else "Programmets plan"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " och " + items[-1]


def days_text(plan: EnrolmentPlan) -> str:
    """The schedule in words, days with the same time together ("Måndag och onsdag kl. 19.00, varje vecka.")."""
    if not plan.days:
        return "Inga veckodagar valda."
    by_time: dict[str, list[str]] = {}
    for day in sorted(plan.days, key=WEEKDAYS.index):
        by_time.setdefault(plan.days[day], []).append(day)
    parts = [("alla dagar" if len(days) == 7 else _and(days)) + f" kl. {hhmm.replace(':', '.')}"
             for hhmm, days in by_time.items()]
    text = "; ".join(parts)
    every = plan.repeat_every_weeks
    return f"{text[0].upper()}{text[1:]}, {'varje vecka' if every == 1 else f'var {every}:e vecka'}."


def window_text(days: int) -> str:
    """The registration window in words."""
    if days == 0:
        return "Samma dag som tillfället."
    return f"Tillfällets dag och {days} dag{'ar' if days > 1 else ''} efter."


def yes_no(value: bool) -> str:
    """"Ja" or "Nej"."""
    return "Ja" if value else "Nej"


# --- overview ------------------------------------------------------------------------------------


@dataclass
class PlanRow:
    """One plan in the overview table."""

    id: int
    title: str
    kind: str
    activated: str
    start: str
    schedule: str
    window: str
    flag_missed: str
    comments: str
    registrations: int


@router.get("/personal/moment/{eid}/aktivitetsplaner")
def plans_page(eid: int, ctx: StaffDep) -> Response:
    """The enrolment's activity plans: activated or not, start, schedule, window, flags, registrations."""
    enrolment, package = _load(ctx, eid, Action.enrolment_read)
    counts = registration_counts(ctx, enrolment.plans)
    rows = [PlanRow(p.id, plan_title(p, package), kind_text(p), yes_no(p.activated),
                    format_day(p.start_date) if p.start_date else "Inte satt", days_text(p),
                    window_text(p.registration_window_days), yes_no(p.flag_missed), yes_no(p.allow_comments),
                    counts.get(p.id, 0)) for p in enrolment.plans]
    ctx.audit("plan.list", enrolment)
    return render_staff(ctx, "staff/plans.html", title=f"Aktivitetsplaner – {enrolment.patient.display_name}",
                        enrolment=enrolment, package=package, tab="planer", rows=rows,
                        can_edit=allowed(ctx, Action.enrolment_customise, enrolment),
                        closed=closed_reason(enrolment), notice=_notice(ctx))


# --- preview and results -------------------------------------------------------------------------


@dataclass
class PreviewView:
    """A plan as the patient sees it, and its results."""

    id: int
    title: str
    kind: str
    description: Markup | None
    activated: bool
    start: str
    schedule: str
    window: str
    allow_comments: bool
    flag_missed: bool
    next_occasions: list[str]
    fields: list[QuestionView]
    headers: list[str]
    rows: list[Any]
    chart: Markup | None
    chart_summary: str | None
    goal_text: str | None
    count: int


def _owner_key(plan: EnrolmentPlan) -> str:
    # question_views caches display texts per key: an edited definition gets a key of its own content.
    if not plan.definition:
        return f"plan:{plan.plan_id}"
    digest = hashlib.sha256(json.dumps(plan.definition, sort_keys=True).encode()).hexdigest()[:16]
    return f"plan-definition:{digest}"


def preview_view(ctx: Ctx, enrolment: Enrolment, package: Package, plan: EnrolmentPlan) -> PreviewView:
    """The preview and results of a plan (reads its registrations); next occasions not yet registered."""
    tz = ctx.app.tz
    definition = plan_definition(plan, package)
    if definition is None:
        raise AppError(503, "Aktivitetsplanen finns inte i programversionen som momentet använder.")
    schedule = plan_schedule(plan)
    registered = patient.registrations(ctx, plan)
    done = {r.occasion_at for r in registered}
    upcoming = []
    if schedule is not None:
        for occ in iter_occasions(schedule, tz):
            if occ.closes_at > ctx.now and occ.at not in done:
                upcoming.append(f"{fmt_time(occ.at, tz)} (kan registreras till och med {format_day(last_day(occ, tz))})")
            if len(upcoming) >= NEXT_OCCASIONS:
                break
    fields = question_views(package, _owner_key(plan), definition["fields"], f"forhandsvisning-{plan.id}", "",
                            None, None)
    goal = patient.plan_goal(ctx, enrolment, definition)
    headers, rows, chart, summary, _label, goal_text = plan_results(definition, registered, goal, tz,
                                                                    f"diagram-{plan.id}")
    return PreviewView(plan.id, definition["title"], kind_text(plan), markdown(definition.get("description")),
                       plan.activated, format_day(plan.start_date) if plan.start_date else "Inte satt",
                       days_text(plan), window_text(plan.registration_window_days), plan.allow_comments,
                       plan.flag_missed, upcoming, fields, headers, rows, chart, summary, goal_text, len(registered))


@router.get("/personal/moment/{eid}/aktivitetsplaner/ny")
def new_plan_page(eid: int, ctx: StaffDep) -> Response:
    """The form for a plan of this patient's own."""
    enrolment, package = _load(ctx, eid, Action.enrolment_customise)
    ctx.audit("plan.compose", enrolment)
    return _render_new(ctx, enrolment, package, ContentForm.blank(), SettingsForm.blank())


@router.get("/personal/moment/{eid}/aktivitetsplaner/{plan_pk}")
def plan_page(eid: int, plan_pk: int, ctx: StaffDep) -> Response:
    """Preview (fields, schedule, next occasions) and results as chart and table."""
    enrolment, package = _load(ctx, eid, Action.enrolment_read)
    plan = _plan(enrolment, plan_pk)
    view = preview_view(ctx, enrolment, package, plan)
    ctx.audit("plan.read", enrolment, f"plan:{plan.id}")
    return render_staff(ctx, "staff/plan_preview.html", title=f"{view.title} – {enrolment.patient.display_name}",
                        enrolment=enrolment, package=package, tab="planer", plan=view,
                        can_edit=allowed(ctx, Action.enrolment_customise, enrolment),
                        closed=closed_reason(enrolment), notice=_notice(ctx))


# --- schedule settings ---------------------------------------------------------------------------


@dataclass
class DayRow:
    """One weekday of the schedule form: a checkbox and a time."""

    index: int
    name: str
    checked: bool
    time: str
    error: str | None = None

    @property
    def label(self) -> str:
        """"Måndag"."""
        return self.name.capitalize()

    @property
    def input_type(self) -> str:
        """"time", or "text" to show back a value a time input cannot hold (so it can be corrected)."""
        return "time" if not self.time or re.fullmatch(r"\d{2}:\d{2}", self.time) else "text"


@dataclass
class SettingsForm:
    """The schedule form's values (as stored, or as posted) and its errors by field."""

    start_date: str
    repeat_every_weeks: str
    registration_window_days: str
    flag_missed: bool
    allow_comments: bool
    activated: bool
    days: list[DayRow]
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, plan: EnrolmentPlan) -> SettingsForm:
        """The form filled in from a plan."""
        return cls(plan.start_date.isoformat() if plan.start_date else "", str(plan.repeat_every_weeks),
                   str(plan.registration_window_days), plan.flag_missed, plan.allow_comments, plan.activated,
                   [DayRow(i, d, d in plan.days, plan.days.get(d, "")) for i, d in enumerate(WEEKDAYS)])

    @staticmethod
    def values_of(plan: EnrolmentPlan) -> dict[str, Any]:
        """A plan's stored schedule as the values `parse_settings` gives."""
        return {"start_date": plan.start_date, "repeat_every_weeks": plan.repeat_every_weeks, "days": plan.days,
                "registration_window_days": plan.registration_window_days, "flag_missed": plan.flag_missed,
                "allow_comments": plan.allow_comments, "activated": plan.activated}

    @classmethod
    def blank(cls) -> SettingsForm:
        """An empty form for a new plan."""
        return cls("", "1", "0", False, False, False, [DayRow(i, d, False, "") for i, d in enumerate(WEEKDAYS)])

    def anchors(self) -> list[tuple[str, str]]:
        """(field id, message) for the error summary, in the form's order."""
        order = {"start_date": "startdatum", "repeat_every_weeks": "upprepning",
                 "registration_window_days": "sen-registrering", "days": "dag-0"}
        out = [(order[k], self.errors[k]) for k in order if k in self.errors]
        out += [(f"tid-{d.index}", d.error) for d in self.days if d.error]
        if "activated" in self.errors:
            out.append(("aktiverad", self.errors["activated"]))
        return out


def _int(text: str, errors: dict[str, str], key: str, message: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        errors[key] = message
        return 0


def parse_settings(form: dict[str, list[str]]) -> tuple[SettingsForm, dict[str, Any] | None]:
    """The posted schedule form, checked: (the form to show again, values for apply_plan_settings or None)."""
    posted = SettingsForm(first(form, "start_date").strip()[:20], first(form, "repeat_every_weeks")[:10],
                          first(form, "registration_window_days")[:10], first(form, "flag_missed") == "ja",
                          first(form, "allow_comments") == "ja", first(form, "activated") == "ja",
                          [DayRow(i, d, first(form, f"day-{i}") == "ja", first(form, f"time-{i}").strip()[:10])
                           for i, d in enumerate(WEEKDAYS)])
    errors: dict[str, str] = {}
    start = None
    if posted.start_date:
        try:
            start = date.fromisoformat(posted.start_date)
        except ValueError:
            errors["start_date"] = "Skriv startdatumet som ÅÅÅÅ-MM-DD, till exempel 2026-03-02."
    weeks = _int(posted.repeat_every_weeks, errors, "repeat_every_weeks",
                 "Skriv hur många veckor det är mellan upprepningarna, 1–52.")
    window = _int(posted.registration_window_days, errors, "registration_window_days",
                  "Skriv antalet dagar för sen registrering som en siffra, 0–31.")
    days = {}
    for day in posted.days:
        if not day.checked:
            continue
        if not day.time:
            day.error = f"Skriv ett klockslag för {day.name}, till exempel 18:00."
        else:
            days[day.name] = day.time.replace(".", ":")
    values = {"start_date": start, "repeat_every_weeks": weeks, "days": days, "registration_window_days": window,
              "flag_missed": posted.flag_missed, "allow_comments": posted.allow_comments,
              "activated": posted.activated}
    if not errors and not any(d.error for d in posted.days):
        try:
            check_plan_settings(**values)
        except PlanSettingsError as exc:
            errors.update(exc.errors)
    _spread_day_errors(posted, errors)
    posted.errors = errors
    ok = not errors and not any(d.error for d in posted.days)
    return posted, values if ok else None


def _spread_day_errors(posted: SettingsForm, errors: dict[str, str]) -> None:
    for key in [k for k in errors if k.startswith("day:")]:
        name = key.split(":", 1)[1]
        row = next((d for d in posted.days if d.name == name), None)
        if row is not None:
            row.error = errors.pop(key)


def _render_settings(ctx: Ctx, enrolment: Enrolment, package: Package, plan: EnrolmentPlan, form: SettingsForm,
                     status: int = 200) -> Response:
    title = plan_title(plan, package)
    return render_staff(ctx, "staff/plan_settings.html", status=status,
                        title=f"{'Fel: ' if form.errors or status == 422 else ''}Inställningar för {title}",
                        enrolment=enrolment, package=package, tab="planer", plan_id=plan.id, plan_title=title,
                        form=form, closed=closed_reason(enrolment))


@router.get("/personal/moment/{eid}/aktivitetsplaner/{plan_pk}/installningar")
def settings_page(eid: int, plan_pk: int, ctx: StaffDep) -> Response:
    """The schedule form: start date, repeat, weekdays with times, window, flags, activated."""
    enrolment, package = _load(ctx, eid, Action.enrolment_customise)
    plan = _plan(enrolment, plan_pk)
    ctx.audit("plan.read", enrolment, f"plan:{plan.id}")
    return _render_settings(ctx, enrolment, package, plan, SettingsForm.of(plan))


@router.post("/personal/moment/{eid}/aktivitetsplaner/{plan_pk}/installningar")
def settings_post(eid: int, plan_pk: int, ctx: StaffDep, form: CsrfForm) -> Response:
    """Save the schedule; errors are shown with the values as posted."""
    enrolment, package = _load(ctx, eid, Action.enrolment_customise)
    plan = _plan(enrolment, plan_pk)
    require_open(enrolment)
    posted, values = parse_settings(form)
    if values is None:
        ctx.audit("plan.read", enrolment, f"plan:{plan.id}")
        return _render_settings(ctx, enrolment, package, plan, posted, status=422)
    changed = save_plan_settings(ctx, enrolment, package, plan, values)
    return redirect(f"{_base(enrolment)}/{plan.id}?{'sparat' if changed else 'oforandrat'}=1")


# --- content: title, instructions, fields --------------------------------------------------------


@dataclass
class FieldRow:
    """One field in the content form: an existing field of the plan, or an empty row for a new one."""

    index: int
    id: str
    type: str
    label: str = ""
    help: str = ""
    unit: str = ""
    min: str = ""
    max: str = ""
    required: bool = False
    remove: bool = False
    registrations: int = 0
    original_type: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def is_new(self) -> bool:
        """An empty row for a field to add."""
        return not self.id

    @property
    def type_editable(self) -> bool:
        """Whether the form offers a choice of type (number or text)."""
        return self.is_new or self.original_type in EDITABLE_TYPES

    @property
    def type_name(self) -> str:
        """The type in words."""
        return TYPE_NAMES.get(self.type, self.type)

    @property
    def has_range(self) -> bool:
        """Whether the form offers unit, min and max (they apply when the type is number or duration)."""
        return self.type_editable

    @property
    def type_choices(self) -> list[tuple[str, str]]:
        """(type, its name) for the type menu."""
        return list(EDITABLE_TYPES.items())

    @property
    def legend(self) -> str:
        """"Fält 2: Antal steg", or "Fält 4 (nytt)" for an empty row."""
        if self.is_new:
            return f"Fält {self.index + 1} (nytt)"
        return f"Fält {self.index + 1}: {self.label}" if self.label else f"Fält {self.index + 1}"


def _num_text(value: Any) -> str:
    return fmt_number(value).replace("\u00a0", "") if isinstance(value, int | float) else ""


@dataclass
class ContentForm:
    """The content form's values and errors."""

    title: str
    description: str
    fields: list[FieldRow]
    errors: dict[str, str] = field(default_factory=dict)
    #: The row each field of the parsed definition came from (where a problem with the field is shown).
    sources: list[FieldRow] = field(default_factory=list)

    @classmethod
    def of(cls, definition: dict, usage: dict[str, int]) -> ContentForm:
        """The form filled in from a definition, with empty rows up to MAX_FIELDS."""
        rows = [FieldRow(i, f["id"], f["type"], f.get("label", ""), f.get("help") or "", f.get("unit") or "",
                         _num_text(f.get("min")), _num_text(f.get("max")), bool(f.get("required")),
                         registrations=usage.get(f["id"], 0), original_type=f["type"])
                for i, f in enumerate(definition["fields"])]
        rows += [FieldRow(i, "", "number") for i in range(len(rows), MAX_FIELDS)]
        return cls(definition.get("title", ""), (definition.get("description") or "").strip(), rows)

    @classmethod
    def blank(cls) -> ContentForm:
        """An empty form for a new plan."""
        return cls("", "", [FieldRow(i, "", "number") for i in range(MAX_FIELDS)])

    def anchors(self) -> list[tuple[str, str]]:
        """(field id, message) for the error summary."""
        out = [(k, self.errors[k]) for k in ("titel", "beskrivning", "falt") if k in self.errors]
        for row in self.fields:
            out += [(f"f{row.index}-{attr}", message) for attr, message in row.errors.items()]
        return out


def _number(text: str) -> float | int | None | str:
    """A number from a Swedish or English decimal; "" for empty, None for not a number."""
    cleaned = text.strip().replace(" ", "").replace("\u00a0", "").replace(",", ".").replace("\u2212", "-")
    if not cleaned:
        return ""
    if not re.fullmatch(r"-?\d+(\.\d+)?", cleaned) or len(cleaned) > 15:
        return None
    value = float(cleaned)
    return int(value) if value.is_integer() else value


def _new_id(taken: set[str]) -> str:
    n = 1
    while f"falt-{n}" in taken:
        n += 1
    return f"falt-{n}"


def parse_content(form: dict[str, list[str]], current: dict | None, usage: dict[str, int]
                  ) -> tuple[ContentForm, dict | None, list[str]]:
    """The posted content form, checked against the stored definition.

    Returns (the form to show again, the new definition or None on errors, a Swedish
    summary of field changes for the timeline).
    """
    existing = {f["id"]: f for f in (current or {}).get("fields", [])}
    posted = ContentForm(" ".join(first(form, "title").split())[:TITLE_MAX + 50],
                         first(form, "description").replace("\r\n", "\n").strip()[:DESCRIPTION_MAX + 500], [])
    errors = posted.errors
    if not posted.title:
        errors["titel"] = "Skriv en rubrik för planen."
    elif len(posted.title) > TITLE_MAX:
        errors["titel"] = f"Rubriken får vara högst {TITLE_MAX} tecken."
    if len(posted.description) > DESCRIPTION_MAX:
        errors["beskrivning"] = f"Instruktionen får vara högst {DESCRIPTION_MAX} tecken."
    seen: set[str] = set()
    rows: list[FieldRow] = []
    for i in range(len(existing) + MAX_FIELDS):
        if f"f{i}-id" not in form:
            continue
        fid = first(form, f"f{i}-id").strip()
        if fid and (fid not in existing or fid in seen):
            raise AppError(409, "Planen har ändrats sedan sidan laddades. Ladda om sidan och försök igen.",
                           title="Planen har ändrats")
        seen.add(fid)
        old = existing.get(fid)
        row = FieldRow(len(rows), fid, first(form, f"f{i}-type") or (old["type"] if old else "number"),
                       " ".join(first(form, f"f{i}-label").split())[:LABEL_MAX + 50],
                       " ".join(first(form, f"f{i}-help").split())[:HELP_MAX + 50],
                       " ".join(first(form, f"f{i}-unit").split())[:UNIT_MAX + 20],
                       first(form, f"f{i}-min").strip()[:20], first(form, f"f{i}-max").strip()[:20],
                       first(form, f"f{i}-required") == "ja", first(form, f"f{i}-remove") == "ja",
                       usage.get(fid, 0) if fid else 0, old["type"] if old else "")
        if old is not None and old["type"] not in EDITABLE_TYPES:
            row.type = old["type"]  # choices and scales keep their type
        if row.is_new and not any((row.label, row.help, row.unit, row.min, row.max)):
            continue  # an empty row: nothing to add
        rows.append(row)
    # Fields of the stored definition that were not in the form are kept as they are.
    for fid, old in existing.items():
        if fid not in seen:
            rows.append(FieldRow(len(rows), fid, old["type"], old.get("label", ""), old.get("help") or "",
                                 old.get("unit") or "", _num_text(old.get("min")), _num_text(old.get("max")),
                                 bool(old.get("required")), registrations=usage.get(fid, 0), original_type=old["type"]))
    fields, changes, posted.sources = _check_rows(rows, existing)
    posted.fields = rows + [FieldRow(i, "", "number") for i in range(len(rows), MAX_FIELDS)]
    if not fields and "falt" not in errors:
        errors["falt"] = "Planen behöver minst ett fält som patienten fyller i."
    if len(fields) > MAX_FIELDS and len(fields) > len(existing):
        errors["falt"] = f"En plan kan ha högst {MAX_FIELDS} fält."
    if errors or any(r.errors for r in rows):
        return posted, None, changes
    definition = {"title": posted.title, "description": posted.description, "fields": fields}
    results = _results(current, fields)
    if results:
        definition["results"] = results
    return posted, definition, changes


def _check_rows(rows: list[FieldRow], existing: dict[str, dict]) -> tuple[list[dict], list[str], list[FieldRow]]:
    """The fields the rows describe (errors go on the rows), a summary of what changed, and each field's row."""
    fields: list[dict] = []
    sources: list[FieldRow] = []
    added, removed, retyped = [], [], []
    taken = set(existing)
    for row in rows:
        old = existing.get(row.id)
        if row.remove and old is not None:
            if row.registrations:
                row.errors["remove"] = (f"”{old.get('label')}” kan inte tas bort: patienten har registrerat värden i "
                                        f"fältet ({row.registrations} registreringar), och de skulle inte gå att "
                                        "visa längre. Ändra texten i stället.")
            else:
                removed.append(old.get("label", row.id))
                continue
        if row.type not in TYPE_NAMES or (row.type not in EDITABLE_TYPES and (old is None or old["type"] != row.type)):
            row.errors["type"] = TYPE_ERROR
            continue
        if old is not None and old["type"] != row.type and row.registrations \
                and not (old["type"] in TEXTUAL and row.type in TEXTUAL):
            row.errors["type"] = (f"Fältet kan inte byta typ från {TYPE_NAMES[old['type']].lower()} till "
                                  f"{TYPE_NAMES[row.type].lower()}: patienten har {row.registrations} "
                                  "registreringar i det, och de sparade värdena skulle inte passa.")
        if not row.label:
            row.errors["label"] = "Skriv frågan eller etiketten som patienten ser."
        elif len(row.label) > LABEL_MAX:
            row.errors["label"] = f"Etiketten får vara högst {LABEL_MAX} tecken."
        if len(row.help) > HELP_MAX:
            row.errors["help"] = f"Hjälptexten får vara högst {HELP_MAX} tecken."
        item = dict(old) if old is not None else {"id": _new_id(taken), "type": row.type}
        taken.add(item["id"])
        item["type"], item["label"], item["required"] = row.type, row.label, row.required
        if row.help:
            item["help"] = row.help
        else:
            item.pop("help", None)
        if row.type == "number":
            item.pop("max_length", None)
            _number_attrs(row, item)
        elif row.type == "duration":
            item.pop("max_length", None)
            _duration_attrs(row, item)
        else:
            for key in ("unit", "min", "max", "step"):
                if row.type != "scale" or key == "unit":
                    item.pop(key, None)
        if old is None:
            added.append(row.label)
        elif old["type"] != row.type:
            retyped.append(row.label)
        fields.append(item)
        sources.append(row)
    changes = []
    if added:
        changes.append("nya fält: " + ", ".join(f"”{x}”" for x in added))
    if removed:
        changes.append("borttagna fält: " + ", ".join(f"”{x}”" for x in removed))
    if retyped:
        changes.append("ny typ: " + ", ".join(f"”{x}”" for x in retyped))
    return fields, changes, sources


def _number_attrs(row: FieldRow, item: dict) -> None:
    if len(row.unit) > UNIT_MAX:
        row.errors["unit"] = f"Enheten får vara högst {UNIT_MAX} tecken."
    low, high = _number(row.min), _number(row.max)
    if low is None:
        row.errors["min"] = "Skriv lägsta värdet som ett tal, till exempel 0 eller 1,5."
    if high is None:
        row.errors["max"] = "Skriv högsta värdet som ett tal, till exempel 100."
    if isinstance(low, int | float) and isinstance(high, int | float) and low > high:
        row.errors["max"] = "Högsta värdet ska vara större än eller lika med lägsta värdet."
    for key, value in (("unit", row.unit), ("min", low), ("max", high)):
        if value == "" or value is None:
            item.pop(key, None)
        else:
            item[key] = value


def _duration_attrs(row: FieldRow, item: dict) -> None:
    """A duration's lowest and highest value: whole minutes, 0 to a day (issue 17); it has no unit."""
    if row.unit:
        row.errors["unit"] = "En tidslängd har ingen enhet: den visas i timmar och minuter. Lämna enheten tom."
    item.pop("unit", None)
    bounds = {}
    for key in ("min", "max"):
        value = _number(getattr(row, key))
        if value == "":
            item.pop(key, None)
            continue
        if value is None or not float(value).is_integer() or not 0 <= value <= DURATION_MAX:
            row.errors[key] = f"Skriv ett helt antal minuter från 0 till {DURATION_MAX}, till exempel 480 för 8 timmar."
            continue
        item[key] = bounds[key] = int(value)
    if "min" in bounds and "max" in bounds and bounds["min"] >= bounds["max"]:
        row.errors["max"] = "Högsta värdet ska vara större än lägsta värdet."


def _results(current: dict | None, fields: list[dict]) -> dict | None:
    """The chart's field: the old one while it can still be charted, else the first number, duration or time.

    A program plan without a chart stays without one.
    """
    old = (current or {}).get("results")
    numeric = [f["id"] for f in fields if f["type"] in ("number", "scale", "duration", "time")]
    if old and old.get("field") in numeric:
        return old
    if current is not None and not old:
        return None
    return {"field": numeric[0]} if numeric else None


def same_content(current: dict, new: dict) -> bool:
    """Whether a posted definition says what the current one says (so nothing needs storing)."""
    def norm(d: dict) -> dict:
        return {"title": d.get("title"), "description": (d.get("description") or "").strip(),
                "results": d.get("results"),
                "fields": [{**f, "required": bool(f.get("required"))} for f in d.get("fields", [])]}

    return norm(current) == norm(new)


def _render_content(ctx: Ctx, enrolment: Enrolment, package: Package, plan: EnrolmentPlan, form: ContentForm,
                    status: int = 200, error: str | None = None) -> Response:
    title = plan_title(plan, package)
    return render_staff(ctx, "staff/plan_content.html", status=status,
                        title=f"{'Fel: ' if status != 200 else ''}Frågor och texter i {title}",
                        enrolment=enrolment, package=package, tab="planer", plan_id=plan.id, plan_title=title,
                        form=form, can_reset=bool(plan.plan_id and plan.definition), error=error,
                        kind=kind_text(plan), closed=closed_reason(enrolment))


@router.get("/personal/moment/{eid}/aktivitetsplaner/{plan_pk}/innehall")
def content_page(eid: int, plan_pk: int, ctx: StaffDep) -> Response:
    """Edit the plan's title, instructions and fields for this patient."""
    enrolment, package = _load(ctx, eid, Action.enrolment_customise)
    plan = _plan(enrolment, plan_pk)
    definition = plan_definition(plan, package)
    if definition is None:
        raise AppError(503, "Aktivitetsplanen finns inte i programversionen som momentet använder.")
    ctx.audit("plan.read", enrolment, f"plan:{plan.id}")
    return _render_content(ctx, enrolment, package, plan, ContentForm.of(definition, field_usage(ctx, plan)))


@router.post("/personal/moment/{eid}/aktivitetsplaner/{plan_pk}/innehall")
def content_post(eid: int, plan_pk: int, ctx: StaffDep, form: CsrfForm) -> Response:
    """Store the edited plan in the enrolment (the program's version stays for the reset)."""
    enrolment, package = _load(ctx, eid, Action.enrolment_customise)
    plan = _plan(enrolment, plan_pk)
    require_open(enrolment)
    current = plan_definition(plan, package)
    if current is None:
        raise AppError(503, "Aktivitetsplanen finns inte i programversionen som momentet använder.")
    posted, definition, changes = parse_content(form, current, field_usage(ctx, plan))
    if definition is not None and plan.plan_id is None:
        definition = _own_plan_checked(posted, None, definition, SettingsForm.values_of(plan))
    if definition is None:
        ctx.audit("plan.read", enrolment, f"plan:{plan.id}")
        return _render_content(ctx, enrolment, package, plan, posted, status=422)
    if same_content(current, definition):
        ctx.audit("plan.read", enrolment, f"plan:{plan.id}")
        return redirect(f"{_base(enrolment)}/{plan.id}?oforandrat=1")
    save_plan_content(ctx, enrolment, plan, definition, changes)
    return redirect(f"{_base(enrolment)}/{plan.id}?innehall=1")


@router.post("/personal/moment/{eid}/aktivitetsplaner/{plan_pk}/aterstall")
def reset_post(eid: int, plan_pk: int, ctx: StaffDep, form: CsrfForm) -> Response:
    """Back to the program's version of the plan, unless that would leave registrations without their field."""
    enrolment, package = _load(ctx, eid, Action.enrolment_customise)
    plan = _plan(enrolment, plan_pk)
    require_open(enrolment)
    try:
        reset = reset_plan(ctx, enrolment, package, plan)
    except ResetRefused as exc:
        ctx.audit("plan.read", enrolment, f"plan:{plan.id}")
        return _render_content(ctx, enrolment, package, plan,
                               ContentForm.of(plan.definition, field_usage(ctx, plan)), status=409, error=exc.message)
    if not reset:
        return redirect(f"{_base(enrolment)}/{plan.id}?oforandrat=1")
    return redirect(f"{_base(enrolment)}/{plan.id}?aterstallt=1")


# --- a plan of the patient's own -----------------------------------------------------------------


def _render_new(ctx: Ctx, enrolment: Enrolment, package: Package, content: ContentForm, settings: SettingsForm,
                status: int = 200) -> Response:
    return render_staff(ctx, "staff/plan_new.html", status=status,
                        title=f"{'Fel: ' if status != 200 else ''}Ny aktivitetsplan – {enrolment.patient.display_name}",
                        enrolment=enrolment, package=package, tab="planer", content=content, form=settings,
                        anchors=content.anchors() + settings.anchors(), closed=closed_reason(enrolment))


@router.post("/personal/moment/{eid}/aktivitetsplaner/ny")
def new_plan_post(eid: int, ctx: StaffDep, form: CsrfForm) -> Response:
    """Create a patient-specific plan: title, instructions, 1–5 fields, and its schedule."""
    enrolment, package = _load(ctx, eid, Action.enrolment_customise)
    require_open(enrolment)
    content, definition, _ = parse_content(form, None, {})
    settings, values = parse_settings(form)
    if definition is not None and values is not None:
        definition = _own_plan_checked(content, settings, definition, values)
    if definition is None or values is None:
        ctx.audit("plan.compose", enrolment)
        return _render_new(ctx, enrolment, package, content, settings, status=422)
    plan = create_own_plan(ctx, enrolment, definition, values)
    return redirect(f"{_base(enrolment)}/{plan.id}?{'skapad-aktiverad' if plan.activated else 'skapad'}=1")


#: Where on the forms a problem with a field's key is shown (others go to the field's label).
FIELD_KEYS = {"type", "label", "help", "unit", "min", "max"}
#: Where on the schedule form a problem with a schedule key is shown.
SCHEDULE_KEYS = {"start_date", "repeat_every_weeks", "registration_window_days", "days", "activated"}


def _own_plan_checked(content: ContentForm, settings: SettingsForm | None, definition: dict,
                      values: dict[str, Any]) -> dict | None:
    """The definition when the builder's ActivityPlan accepts it; else None, with its messages on the forms."""
    problems = own_plan_problems(definition, values)
    for loc, message in problems.items():
        head = loc[0] if loc else ""
        if head == "title":
            content.errors.setdefault("titel", message)
        elif head == "description":
            content.errors.setdefault("beskrivning", message)
        elif head == "fields" and len(loc) > 2 and isinstance(loc[1], int) and loc[1] < len(content.sources):
            key = loc[2] if loc[2] in FIELD_KEYS else "label"
            content.sources[loc[1]].errors.setdefault(key, message)
        elif head == "schedule" and settings is not None:
            key = loc[1] if len(loc) > 1 and loc[1] in SCHEDULE_KEYS else "days"
            settings.errors.setdefault(key, message)
        else:
            content.errors.setdefault("falt", message)
    return None if problems else definition
