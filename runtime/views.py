"""Presentation: view models, wording and number and date formats for the pages.

Layer: above the services, beneath the routes. Input: program.json definitions and the
rows the services read. Output: plain dataclasses the templates only loop over (no logic
in templates), and texts: numbers the Swedish way (`fmt_number`, `plain_number`), dates
and times (`day_text`, `time_text`, `fmt_time`), the flag kinds (`FLAG_INFO`). A question
is the builder's question view (`builder.render.forms.QuestionView`) with the live form's
value and error. Static parts (Markdown texts, media paths) are cached per package. What a
patient reads is Swedish, marked for the catalogues (`runtime.i18n.N_`) and shown in the
patient's language; dates and numbers are `runtime.i18n` values that format themselves
per language (issue 18). The staff's texts are Swedish only.

Must not: query the database or change anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from babel.lists import format_list
from markupsafe import Markup
from sqlalchemy import select

from builder.render.forms import Choice
from builder.render.forms import QuestionView as FormQuestion
from runtime import accounts, charts
from runtime.content import markdown, media_file
from runtime.context import Ctx
from runtime.forms import band_text, clock_minutes, condition_met, duration_text, missing_for_score
from runtime.i18n import (
    N_,
    SWEDISH,
    Alternatives,
    Day,
    Deferred,
    Language,
    Moment,
    Number,
    format_time_of_day,
    formatting_locale,
    weekday_name,
)
from runtime.models import FlagKind, FormSubmission, PageComment, Registration, Unit, UnitRole
from runtime.packages import Package
from runtime.schedule import WEEKDAYS, Occasion, last_day
from runtime.services.access import ROLE_NAMES, Action, allowed, roles

#: Who wrote a message or comment, as the patient reads it.
YOU, YOUR_THERAPIST = N_("Du"), N_("Din behandlare")
#: The builder's hints (builder.render.forms.TIME_HINT, DURATION_HINT), marked for the catalogues:
#: the same Swedish words (tests/runtime/test_i18n.py checks that they stay the same).
TIME_HINT_TEXT = N_("klockslag, t.ex. 22:30")
DURATION_HINT_TEXT = N_("timmar:minuter eller minuter, t.ex. 7:30 eller 45")
#: A scale with at most this many steps is shown as one horizontal row of numbered boxes.
SCALE_MAX_STEPS = 11


def fmt_number(x: float | int) -> str:
    """A number the Swedish way: 1,5 and 12 000 (and as the reader's language writes it, where shown)."""
    text = f"{x:,.10g}" if isinstance(x, float) else f"{x:,}"
    return Number(x, text.replace(",", "\u00a0").replace(".", ","))


def day_text(moment: datetime | date | None, tz: ZoneInfo, year: bool = True) -> str:
    """"2 mars 2026" (or "2 mars") in the local time zone; empty for None. In the reader's language where shown."""
    if moment is None:
        return ""
    day = moment.astimezone(tz).date() if isinstance(moment, datetime) else moment
    return Day(day, year=year)


def time_text(moment: datetime | None, tz: ZoneInfo) -> str:
    """"2 mars 2026 kl. 10.05" in the local time zone; empty for None. In the reader's language where shown."""
    if moment is None:
        return ""
    return Moment(moment, tz)


def fmt_time(moment: datetime | None, tz: ZoneInfo) -> str:
    """"måndag 2 mars 2026 kl. 14.05" (empty for None). In the reader's language where shown."""
    if moment is None:
        return ""
    return Moment(moment, tz, weekday=True)


@dataclass
class QuestionView(FormQuestion):
    """One question, ready for the template: the builder's question view, plus what a live form adds.

    The builder (`builder.render.forms.QuestionView`) describes the question; here it also
    carries the patient's value and the error to show. `show_if` holds the condition's
    question and its values as the browser compares them.
    """

    value: str = ""
    error: str | None = None
    error_id: str | None = None

    @property
    def show_if_question(self) -> str:
        """The question whose answer shows this one ("" without a condition)."""
        return self.show_if["question"] if self.show_if else ""

    @property
    def show_if_values(self) -> str:
        """The answers that show this question, separated by "|"."""
        return "|".join(self.show_if["values"]) if self.show_if else ""

    @property
    def described_by(self) -> str:
        """ids for aria-describedby: help text and error message."""
        return " ".join(i for i in (self.help_id, self.error_id) if i)


@dataclass
class AnswerView:
    """A submitted answer, as the patient reads it back."""

    label: str
    text: str


@dataclass
class SubmissionView:
    """One earlier submission of a form."""

    when: str
    answers: list[AnswerView]


@dataclass
class CommentView:
    """A page comment."""

    author: str
    when: str
    body: str
    mine: bool


@dataclass(frozen=True)
class ErrorSummary:
    """The error summary at the top of a page (issue 15): a heading, a sentence, a link to each field.

    `items` are (id of the field, message); the layout shows the summary first in <main>,
    red, and runtime.js moves the focus to it.
    """

    heading: str
    items: list[tuple[str, str]]
    text: str | None = None


@dataclass
class FormView:
    """A whole form on a step page."""

    form_id: str
    html_id: str
    title: str
    description: Markup | None
    required: bool
    page_comments: bool
    questions: list[QuestionView]
    action: str
    comments_action: str
    can_write: bool = True
    questions_html: Markup | None = None  # the questions rendered once, when there is nothing to fill in
    notice: str | None = None
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (anchor, label, message)
    draft_saved: str | None = None
    submissions: list[SubmissionView] = field(default_factory=list)
    comments: list[CommentView] = field(default_factory=list)
    comment_error: str | None = None
    comment_value: str = ""


def _form_texts(package: Package, form_id: str, questions: list[dict], description: str | None) -> dict:
    def make() -> dict:
        out: dict[str, Any] = {"description": markdown(description), "display": {}, "images": {}}
        for q in questions:
            if q["type"] == "display":
                out["display"][q["id"]] = markdown(q["label"])
                if q.get("image"):
                    rel = media_file(package, q["image"])
                    out["images"][q["id"]] = f"{package.files_url}/{rel}" if rel else None
        return out

    return package.cached(f"formtext:{form_id}", make)


def plain_number(x: float | int) -> str:
    """A number with a decimal comma and no grouping: 1,5 (for scale steps and points)."""
    return f"{x:g}".replace(".", ",")


def scale_choices(q: dict) -> list[tuple[float | int, str, str]]:
    """A scale question's steps, as (value, its text, its label): (3, "3", "3 – Ganska ofta") or (2, "2", "2")."""
    step = q.get("step") or 1
    values, v = [], q["min"]
    while v <= q["max"] + 1e-9 and len(values) < 101:
        values.append(v)
        v = round(v + step, 10)
    labels = {str(k): text for k, text in (q.get("labels") or {}).items()}
    out = []
    for value in values:
        text = plain_number(value)
        label = labels.get(text) or (labels.get(str(int(value))) if float(value).is_integer() else None)
        out.append((value, text, f"{text} – {label}" if label else text))
    return out


def question_views(package: Package, owner_id: str, questions: list[dict], prefix: str, base_url: str,
                   raw: dict[str, list[str]] | None, errors: dict[str, str] | None,
                   description: str | None = None) -> list[QuestionView]:
    """Views of a question list with the given raw values and errors.

    `base_url` is the path from the page to /moment/<id>/ (for images).
    """
    raw, errors = raw or {}, errors or {}
    texts = _form_texts(package, owner_id, questions, description)
    by_id = {q["id"]: q for q in questions}
    views = []
    for q in questions:
        base = f"{prefix}-{q['id']}"
        values = raw.get(q["id"], [])
        # The same sentence as on the built page and on paper; the server refuses such an option with another.
        alone = _exclusive_note([o["label"] for o in q.get("options", []) if o.get("exclusive")]) \
            if q["type"] == "multi" else None
        help_text = _sentences(q.get("help"), alone)
        view = QuestionView(id=base, name=q["id"], type=q["type"], widget="input", input_type="text",
                            label=q["label"], required=bool(q.get("required")), help=help_text,
                            help_id=f"{base}-hjalp" if help_text else None,
                            error=errors.get(q["id"]), error_id=f"{base}-fel" if q["id"] in errors else None,
                            value=values[0] if values else "")
        kind = q["type"]
        if kind == "textarea":
            view.widget = "textarea"
        elif kind == "date":
            view.input_type = "date"
        elif kind in ("time", "duration"):
            view.unit = TIME_HINT_TEXT if kind == "time" else DURATION_HINT_TEXT
            view.attrs.update({"inputmode": "numeric" if kind == "time" else "text", "autocomplete": "off"})
        elif kind == "number":
            view.input_type = "text"
            view.attrs["inputmode"] = "decimal"
            view.unit = q.get("unit")
        elif kind in ("single", "multi"):
            view.widget = "radio" if kind == "single" else "checkbox"
            view.choices = [Choice(f"{base}-{i + 1}", str(o["value"]), o["label"], str(o["value"]) in values)
                            for i, o in enumerate(q.get("options", []))]
        elif kind == "scale":
            steps = scale_choices(q)
            view.choices = [Choice(f"{base}-{i + 1}", text, label, text in values)
                            for i, (_, text, label) in enumerate(steps)]
            # Issue 15: a labelled horizontal scale when it fits (at most 11 steps, words only at the ends);
            # otherwise the steps as a list of radio buttons, each with its own words.
            ends = [label for _, text, label in steps[1:-1] if label != text]
            if len(steps) <= SCALE_MAX_STEPS and not ends:
                view.widget = "scale"
                view.scale_ends = tuple(label.removeprefix(text).removeprefix(" – ")
                                        for _, text, label in (steps[0], steps[-1]))
            else:
                view.widget = "radio"
        elif kind == "display":
            view.widget = "display"
            view.html = texts["display"].get(q["id"])
            image = texts["images"].get(q["id"])
            view.image = f"{base_url}{image}" if image else None
            view.alt = q.get("alt")
        if q.get("max_length"):
            view.attrs["maxlength"] = str(q["max_length"])
        cond = q.get("show_if")
        if cond and cond["question"] in by_id:
            target = by_id[cond["question"]]
            wanted = [cond["equals"]] if cond.get("any_of") is None else cond["any_of"]
            option_labels = {str(o["value"]): o["label"] for o in target.get("options", [])}
            shown = Alternatives([f"”{option_labels.get(str(v), v)}”" for v in wanted])
            view.condition = N_("Besvara bara om du svarade %(answers)s på frågan ”%(question)s”.", answers=shown,
                                question=target["label"])
            view.show_if = {"question": target["id"],
                            "values": [str(v).lower() if isinstance(v, bool) else str(v) for v in wanted]}
        views.append(view)
    return views


def _sentences(first: str | None, second: str | None) -> str | None:
    """Two texts (either may be missing) as one, with a space between; a translated one stays translatable."""
    if not first or not second:
        return first or second or None
    return Deferred(lambda language: f"{language.localise(first)} {language.localise(second)}")


def _exclusive_note(labels: list[str]) -> str | None:
    """The sentence that tells which options of a multi question are chosen alone (as
    builder.render.forms.exclusive_note says it on the built page), in the reader's language."""
    if not labels:
        return None
    return N_("Om du väljer %(names)s ska du inte välja något annat alternativ.",
              names=Alternatives([f"”{label}”" for label in labels]))


def answer_text(q: dict, value: Any) -> str:
    """A stored answer in words."""
    if q["type"] in ("single", "multi"):
        labels = {str(o["value"]): o["label"] for o in q.get("options", [])}
        items = value if isinstance(value, list) else [value]
        return ", ".join(labels.get(str(v), str(v)) for v in items)
    if q["type"] in ("number", "scale") and isinstance(value, int | float):
        unit, number = q.get("unit"), fmt_number(value)
        return Deferred(lambda language: f"{language.localise(number)} {unit}") if unit else number
    if q["type"] == "duration" and isinstance(value, int | float):
        return duration_text(value)
    if q["type"] == "time" and isinstance(value, str) and ":" in value:
        clock = value
        return Deferred(lambda language: language.gettext("kl. %(time)s", time=_clock_text(clock, language)))
    return str(value)


@dataclass
class ScoreSummary:
    """A submission's score as the therapist reads it: the sum and its band, or why there is no sum."""

    score: str = ""  # "4"
    band: str = ""  # "Tyder på riskbruk (gränsvärde 4 för kvinnor)", or both readings while sex is not set
    incomplete: str = ""  # "ingen summa, eftersom …", naming the questions without an answer


def score_summary(form: dict, answers: dict, score: float | None, sex: str | None) -> ScoreSummary:
    """The score of a stored submission (empty for a form without scoring).

    A scoring question that was shown but not answered makes it incomplete, whatever was
    stored; the band follows the sex set for the enrolment now (issue 17).
    """
    if not form.get("scoring"):
        return ScoreSummary()
    missing = missing_for_score(form, answers)
    if missing:
        names = ", ".join(f"”{q['label']}”" for q in missing)
        which = f"frågan {names} inte är besvarad" if len(missing) == 1 else f"frågorna {names} inte är besvarade"
        return ScoreSummary(incomplete=f"ingen summa, eftersom {which}.")
    if score is None:
        return ScoreSummary()
    return ScoreSummary(fmt_number(score), band_text(form, score, sex) or "")


def submission_view(questions: list[dict], row: FormSubmission, tz: ZoneInfo) -> SubmissionView:
    """A submission with its answers in question order (score not shown: it is for the therapist)."""
    answers = [AnswerView(q["label"], answer_text(q, row.answers[q["id"]]))
               for q in questions if q["type"] != "display" and q["id"] in row.answers]
    return SubmissionView(fmt_time(row.submitted_at, tz), answers)


def comment_view(row: PageComment, tz: ZoneInfo) -> CommentView:
    """A page comment with who wrote it."""
    mine = row.author_role.value == "patient"
    return CommentView(YOU if mine else YOUR_THERAPIST, fmt_time(row.created_at, tz), row.body, mine)


def error_list(views: list[QuestionView]) -> list[tuple[str, str, str]]:
    """(anchor, label, message) for the error summary, in question order."""
    out = []
    for v in views:
        if v.error:
            anchor = v.choices[0].id if v.choices else v.id
            out.append((anchor, v.label, v.error))
    return out


def visible_now(questions: list[dict], answers: dict) -> set[str]:
    """Question ids whose show_if holds for these answers (for the API)."""
    return {q["id"] for q in questions if condition_met(q, answers)}


@dataclass
class OccasionView:
    """An occasion the patient can register now."""

    key: str
    when: str
    last_day: str
    html_id: str
    fields: list[QuestionView]
    comment_value: str = ""
    error: str | None = None


@dataclass
class RegistrationRow:
    """A registration in the results table."""

    when: str
    values: list[str]
    comment: str


@dataclass
class PlanView:
    """An activity plan's page."""

    id: int
    title: str
    description: Markup | None
    schedule_text: str
    window_text: str
    allow_comments: bool
    open: list[OccasionView]
    next_text: str | None
    headers: list[str]
    rows: list[RegistrationRow]
    chart: Markup | None
    chart_summary: str | None
    result_label: str | None
    goal_text: str | None
    next_opens: str | None = None  # when the next occasion can be registered ("2 mars 2026 kl. 00.00")


def schedule_text(days: dict[str, str], every: int, start: datetime | None) -> str:
    """"Måndag kl. 18.00 och onsdag kl. 18.00, varje vecka." (in the reader's language where shown)."""
    ordered = sorted(days.items(), key=lambda kv: WEEKDAYS.index(kv[0]))

    def words(language: Language) -> str:
        parts = [language.gettext("%(weekday)s kl. %(time)s", weekday=weekday_name(WEEKDAYS.index(day), language.code),
                                  time=_clock_text(hhmm, language)) for day, hhmm in ordered]
        text = format_list(parts, locale=formatting_locale(language.code))  # Swedish: "a, b och c"
        period = language.ngettext("varje vecka", "var %(num)s:e vecka", every)
        days = text[0].upper() + text[1:]
        return language.gettext("%(days)s, %(period)s.", days=days, period=period)

    return Deferred(words)


def _clock_text(hhmm: str, language: Language) -> str:
    """A stored "HH:MM" as a time of day in `language` ("18.00", "6:00 PM")."""
    hours, minutes = hhmm.split(":")
    return format_time_of_day(time(int(hours), int(minutes)), language.code)


def occasion_view(occ: Occasion, tz: ZoneInfo, fields: list[QuestionView]) -> OccasionView:
    """An open occasion with its own copy of the fields (ids made unique per occasion)."""
    return OccasionView(occ.key, Moment(occ.at, tz, weekday=True), Day(last_day(occ, tz), weekday=True),
                        f"tillfalle-{occ.at:%Y%m%d%H%M}", fields)


def plan_results(definition: dict, rows: list[Registration], goal: float | None, tz: ZoneInfo, chart_id: str,
                 language: Language = SWEDISH):
    """(headers, table rows, chart, summary, result label, goal text) of a plan's registrations.

    The chart's words are in `language` (the patient's page passes the patient's; the staff's are Swedish).
    """
    fields = [f for f in definition["fields"] if f["type"] != "display"]
    headers = [N_("Tillfälle")] + [f["label"] for f in fields] + [N_("Kommentar")]
    table = [RegistrationRow(Moment(r.occasion_at, tz, weekday=True),
                             [answer_text(f, r.values[f["id"]]) if f["id"] in r.values else "–" for f in fields],
                             r.comment or "") for r in rows]
    results = definition.get("results") or {}
    field_def = next((f for f in fields if f["id"] == results.get("field")), None)
    if field_def is None or field_def["type"] not in CHART_KINDS:
        return headers, table, None, None, None, None
    svg, summary, goal_text = _chart(field_def, rows, goal, tz, chart_id, language)
    if not any(r.values.get(field_def["id"]) not in (None, "") for r in rows):
        # Issue 15: no chart of nothing (no 0–1 axis); the page says there are no registrations yet.
        return headers, table, None, None, field_def["label"], goal_text
    return headers, table, Markup(svg), summary, field_def["label"], goal_text


#: Field types with a chart (as the builder's CHARTED_TYPES), and what draws it.
CHART_KINDS = ("number", "scale", "duration", "time", "single")


def _chart(field_def: dict, rows: list[Registration], goal: float | None, tz: ZoneInfo,
           chart_id: str, language: Language) -> tuple[str, str, str | None]:
    """(SVG, summary, goal text) of the charted field: a chart that suits its type (issue 17)."""
    fid, kind, title = field_def["id"], field_def["type"], field_def["label"]

    def day(r: Registration) -> str:
        return f"{r.occasion_at.astimezone(tz):%-d/%-m}"

    if kind == "single":
        options = [(o["label"], o["value"]) for o in field_def.get("options", [])]
        chosen = [str(r.values[fid]) for r in rows if fid in r.values]
        counts = [(label, chosen.count(str(value))) for label, value in options]
        return (charts.count_chart(chart_id, title, counts, language), charts.describe_counts(title, counts, language),
                None)
    if kind == "time":
        points = [charts.Point(day(r), float(clock_minutes(r.values[fid]))) for r in rows
                  if isinstance(r.values.get(fid), str) and ":" in r.values[fid]]
        return (charts.time_chart(chart_id, title, points, language), charts.describe_times(title, points, language),
                None)
    points = [charts.Point(day(r), float(r.values[fid])) for r in rows if isinstance(r.values.get(fid), int | float)]
    if kind == "duration":
        goal_text = duration_text(goal) if goal is not None else None
        return (charts.duration_chart(chart_id, title, points, goal, language),
                charts.describe_durations(title, points, goal, language), goal_text)
    unit = field_def.get("unit")
    axis = None
    if kind == "scale" and field_def.get("min") is not None and field_def.get("max") is not None:
        labels = {str(k): v for k, v in (field_def.get("labels") or {}).items()}
        ends = {end: labels[plain_number(end)] for end in (field_def["min"], field_def["max"])
                if plain_number(end) in labels}
        axis = charts.ScaleAxis(field_def["min"], field_def["max"], ends)
    goal_text = f"{fmt_number(goal)}{f' {unit}' if unit else ''}" if goal is not None else None
    return (charts.line_chart(chart_id, title, points, goal, unit, scale=axis, language=language),
            charts.describe(title, points, goal, unit, scale=axis, language=language), goal_text)


# --- flags (händelser att granska) ---------------------------------------------------------------


@dataclass(frozen=True)
class FlagInfo:
    """How a flag kind presents itself: a symbol, a short label, what it means, when it is raised."""

    kind: FlagKind
    symbol: str
    label: str
    meaning: str
    raised: str
    target: str  # what the flag's link leads to


FLAG_INFO: dict[FlagKind, FlagInfo] = {
    FlagKind.form_submitted: FlagInfo(
        FlagKind.form_submitted, "\u2691", "Formulär",
        "Patienten har skickat in ett formulär som du ska granska.",
        "När patienten skickar in ett formulär som är inställt på att flagga (de flesta formulär flaggar inte, "
        "så öppna patientens program för att se alla svar).",
        "svaren, med frågorna, svarsalternativen och poängen"),
    FlagKind.message: FlagInfo(
        FlagKind.message, "\u2709", "Meddelande",
        "Patienten har skrivit ett nytt meddelande till dig.",
        "När patienten skriver ett nytt meddelande eller svarar i en tråd.",
        "meddelandet"),
    FlagKind.page_comment: FlagInfo(
        FlagKind.page_comment, "\u270e", "Sidkommentar",
        "Patienten har skrivit en kommentar under ett formulär.",
        "När patienten skriver en sidkommentar under ett formulär som har sidkommentarer.",
        "kommentaren, där du också kan svara"),
    FlagKind.missed_registration: FlagInfo(
        FlagKind.missed_registration, "\u25d4", "Missad registrering",
        "Patienten har inte registrerat ett tillfälle i en aktivitetsplan.",
        "När tiden för att registrera ett tillfälle har gått ut utan registrering, i en aktiverad "
        "aktivitetsplan där du har valt ”Flagga vid missad aktivitet”. Tiden är tillfällets dag och så många "
        "dagar efter som planen tillåter sen registrering.",
        "aktivitetsplanens registreringar"),
}

HIDING = ("Dölj flaggan när du har granskat händelsen. Den försvinner då från ”Händelser att granska” och "
          "från startsidan, men händelsen finns kvar i tidslinjen. En meddelandeflagga döljs också av sig själv "
          "när du, som patientens behandlare, öppnar meddelandetråden.")


# --- the sessions page ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionView:
    """One live session on the sessions page."""

    started: str
    last_seen: str
    browser: str
    current: bool


def session_views(ctx: Ctx) -> list[SessionView]:
    """The sessions page's rows, this session first."""
    rows = accounts.live_sessions(ctx.db, ctx.user.id, ctx.app.settings, ctx.now)
    rows.sort(key=lambda row: row.id != ctx.session.id)
    return [SessionView(fmt_time(row.created_at, ctx.app.tz),
                        fmt_time(ctx.now if row.id == ctx.session.id else row.last_seen_at, ctx.app.tz),
                        accounts.browser_summary(row.user_agent), row.id == ctx.session.id) for row in rows]


# --- the staff navigation ------------------------------------------------------------------------


@dataclass(frozen=True)
class NavLink:
    href: str
    label: str
    key: str


@dataclass(frozen=True)
class StaffNav:
    unit_name: str
    unit_id: int
    units: list[tuple[int, str]]  # every unit the person has a live role in
    role_names: list[str]
    links: list[NavLink]
    current: str
    deviation_url: str | None = None  # the region's deviation reporting (RuntimeSettings.deviation_report_url)


#: (key, href, label, action that must be allowed)
LINKS = [
    ("oversikt", "/personal", "Översikt", Action.overview),
    ("nytt", "/personal/moment/nytt", "Starta moment", Action.enrolment_start),
    ("flaggor", "/personal/flaggor", "Flaggor", Action.overview),
    ("behorigheter", "/personal/behorigheter", "Behörigheter", Action.roles_manage),
    ("gallring", "/personal/gallring", "Gallring", Action.purge),
    ("loggutdrag", "/personal/loggutdrag", "Loggutdrag", Action.access_log_extract),
    ("profil", "/personal/profil", "Min profil", None),
    ("support", "/personal/support", "Support", None),
]


def staff_nav(ctx: Ctx, current: str) -> StaffNav:
    """The navigation for the staff member's roles in the session's unit."""
    units = list(ctx.db.execute(
        select(Unit.id, Unit.name).join(UnitRole, UnitRole.unit_id == Unit.id)
        .where(UnitRole.user_id == ctx.user.id, UnitRole.revoked_at.is_(None)).distinct().order_by(Unit.name)))
    names = dict((u.id, u.name) for u in units)
    mine = roles(ctx)
    links = [NavLink(href, label, key) for key, href, label, action in LINKS if action is None or allowed(ctx, action)]
    return StaffNav(unit_name=names.get(ctx.session.unit_id, ""), unit_id=ctx.session.unit_id,
                    units=[(u.id, u.name) for u in units], links=links, current=current,
                    role_names=[ROLE_NAMES[r] for r in sorted(mine, key=lambda r: list(ROLE_NAMES).index(r))],
                    deviation_url=ctx.app.settings.deviation_report_url)
