"""Rules within one form or activity plan (part of the validate stage).

Input: a validated `Form` or `ActivityPlan` and its `YamlDoc` (for positions).
Output: diagnostics only. Rules that need other files (a plan's goal taken from
another plan, an image in media/) live in `builder.check`.
"""

from __future__ import annotations

import math
import re

from builder.diagnostics import Diagnostics, did_you_mean
from builder.schema.activity_plan import CHARTED_TYPES, DURATION_MAX, GOAL_TYPES, WEEKDAYS, ActivityPlan
from builder.schema.form import TYPE_FIELDS, Form, Question
from builder.yamlsrc import YamlDoc

CHOICE = ("single", "multi")
_TIME = re.compile(r"^([01]?[0-9]|2[0-3]):[0-5][0-9]$")


def check_questions(questions: list[Question], doc: YamlDoc, base: tuple, diags: Diagnostics) -> None:
    """Ids, type-specific fields, options, ranges and show_if of a question list."""
    if not questions:
        diags.add("FORM-008", doc.path, *doc.locate(base, prefer_key=True))
    earlier: dict[str, Question] = {}
    for i, q in enumerate(questions):
        loc = (*base, i)

        def at(*keys: str, loc: tuple = loc) -> tuple[int, int]:
            return doc.locate((*loc, *keys), prefer_key=True)

        if q.id in earlier:
            diags.add("FORM-003", doc.path, *doc.locate((*loc, "id")), question=q.id)
        for name, types in TYPE_FIELDS.items():
            if getattr(q, name) is not None and q.type not in types:
                diags.add("FORM-009", doc.path, *at(name), question=q.id, field=name, type=q.type,
                          types=", ".join(sorted(types)))
        if q.type in CHOICE:
            if not q.options:
                diags.add("FORM-001", doc.path, *at("options" if q.options is not None else "type"),
                          question=q.id, type=q.type)
            seen = set()
            for j, opt in enumerate(q.options or []):
                if str(opt.value) in seen:
                    diags.add("FORM-007", doc.path, *doc.locate((*loc, "options", j, "value")),
                              value=opt.value, question=q.id)
                seen.add(str(opt.value))
            _check_exclusive(q, doc, loc, diags)
        if q.type == "scale":
            for key in ("min", "max"):
                if getattr(q, key) is None:
                    diags.add("SCHEMA-002", doc.path, *at(), key=key)
            if q.min is not None and q.max is not None and q.min >= q.max:
                diags.add("FORM-002", doc.path, *at("min"), question=q.id, min=q.min, max=q.max)
        if q.type == "number" and q.min is not None and q.max is not None and q.min > q.max:
            diags.add("FORM-011", doc.path, *at("min"), question=q.id, min=q.min, max=q.max)
        if q.type == "display" and q.image and not (q.alt or "").strip():
            diags.add("A11Y-007", doc.path, *at("image"), question=q.id)
        if q.show_if is not None:
            _check_show_if(q, earlier, doc, loc, diags)
        earlier.setdefault(q.id, q)


def _check_exclusive(q: Question, doc: YamlDoc, loc: tuple, diags: Diagnostics) -> None:
    """`exclusive` belongs to options of a multi question, and not to all of them."""
    options = q.options or []
    marked = [j for j, o in enumerate(options) if o.exclusive]
    if q.type != "multi":
        for j in marked:
            diags.add("FORM-012", doc.path, *doc.locate((*loc, "options", j, "exclusive")),
                      value=options[j].value, question=q.id, type=q.type)
    elif marked and len(marked) == len(options):
        diags.add("FORM-013", doc.path, *doc.locate((*loc, "options"), prefer_key=True), question=q.id)


def _check_show_if(q: Question, earlier: dict[str, Question], doc: YamlDoc, loc: tuple, diags: Diagnostics) -> None:
    cond = q.show_if
    target = earlier.get(cond.question)
    if target is None:
        diags.add("FORM-004", doc.path, *doc.locate((*loc, "show_if", "question")), question=cond.question,
                  suggestion=did_you_mean(cond.question, earlier))
        return
    if cond.equals is None and cond.any_of is None:
        diags.add("SCHEMA-002", doc.path, *doc.locate((*loc, "show_if"), prefer_key=True), key="equals")
        return
    if target.options:
        allowed = [str(o.value) for o in target.options]
        for value in [cond.equals] if cond.any_of is None else cond.any_of:
            if str(value) not in allowed:
                diags.add("FORM-010", doc.path, *doc.locate((*loc, "show_if")), question=q.id,
                          value=value, target=target.id, allowed=", ".join(allowed))


def score_range(q: Question) -> tuple[float, float]:
    """Lowest and highest points a question can contribute to a sum."""
    if q.type in CHOICE:
        points = [o.points or 0 for o in q.options or []] or [0]
        if q.type == "single":
            return min(points), max(points)
        # An exclusive option is chosen alone; the others in any combination.
        alone = [o.points or 0 for o in q.options or [] if o.exclusive]
        rest = [o.points or 0 for o in q.options or [] if not o.exclusive]
        together = (sum(p for p in rest if p < 0), sum(p for p in rest if p > 0))
        return min([together[0], *alone]), max([together[1], *alone])
    low = q.min if q.min is not None else 0
    high = q.max if q.max is not None else math.inf
    return low, high


def _gives_points(q: Question) -> bool:
    if q.type in CHOICE:
        return any(o.points is not None for o in q.options or [])
    return q.type in ("scale", "number")


def check_scoring(form: Form, doc: YamlDoc, diags: Diagnostics) -> None:
    """A score sums points of known, point-giving questions into gap-free bands."""
    scoring = form.scoring
    if scoring is None:
        return
    by_id = {q.id: q for q in form.questions}
    low = high = 0.0
    for i, qid in enumerate(scoring.questions):
        q = by_id.get(qid)
        where = doc.locate(("scoring", "questions", i))
        if q is None:
            diags.add("FORM-005", doc.path, *where, question=qid, problem="som inte finns i formuläret",
                      suggestion=did_you_mean(qid, by_id))
            continue
        if not _gives_points(q):
            diags.add("FORM-005", doc.path, *where, question=qid, problem="som inte ger några poäng")
            continue
        lo, hi = score_range(q)
        low, high = low + lo, high + hi
    if scoring.bands and scoring.bands_by_sex is not None:
        diags.add("FORM-014", doc.path, *doc.locate(("scoring", "bands_by_sex"), prefer_key=True))
    if scoring.bands_by_sex is not None:
        for sex, bands in scoring.band_sets().items():
            _check_bands(bands, ("scoring", "bands_by_sex", sex), low, high, doc, diags)
    else:
        _check_bands(scoring.bands, ("scoring", "bands"), low, high, doc, diags)


def _check_bands(bands: list, where: tuple, low: float, high: float, doc: YamlDoc, diags: Diagnostics) -> None:
    """One band list covers every possible sum, rising, without gaps or overlaps (FORM-006)."""
    fmt = lambda x: ("∞" if x == math.inf else f"{x:g}")  # noqa: E731
    problems = []
    for j, band in enumerate(bands):
        if band.min > band.max:
            problems.append((j, f"har min {fmt(band.min)} större än max {fmt(band.max)}"))
        if j:
            prev = bands[j - 1]
            if band.min <= prev.max:
                problems.append((j, f"överlappar: '{prev.label}' slutar på {fmt(prev.max)} och '{band.label}' börjar på {fmt(band.min)}"))
            elif band.min - prev.max > 1 or (band.min - prev.max == 1 and not _integral(bands)):
                problems.append((j, f"lämnar en lucka mellan {fmt(prev.max)} och {fmt(band.min)}"))
    if bands and bands[0].min > low:
        problems.append((0, f"täcker inte den lägsta summan {fmt(low)}"))
    if bands and high != math.inf and bands[-1].max < high:
        problems.append((len(bands) - 1, f"täcker inte den högsta summan {fmt(high)}"))
    for j, problem in problems:
        diags.add("FORM-006", doc.path, *doc.locate((*where, j)), where=".".join(where), problem=problem,
                  low=fmt(low), high=fmt(high))


def _integral(bands) -> bool:
    return all(float(b.min).is_integer() and float(b.max).is_integer() for b in bands)


def check_plan(plan: ActivityPlan, doc: YamlDoc, diags: Diagnostics) -> None:
    """Weekdays, times and the charted field of an activity plan."""
    days = plan.schedule.days
    if not days:
        diags.add("PLAN-004", doc.path, *doc.locate(("schedule", "days"), prefer_key=True))
    for day, time in days.items():
        if day not in WEEKDAYS:
            diags.add("PLAN-001", doc.path, *doc.locate(("schedule", "days", day), prefer_key=True),
                      value=day, suggestion=did_you_mean(day.lower(), WEEKDAYS))
        if not _TIME.match(time):
            diags.add("PLAN-002", doc.path, *doc.locate(("schedule", "days", day)), value=time)
    for i, f in enumerate(plan.fields):
        if f.type == "duration":
            _check_duration(f, doc, ("fields", i), diags)
        elif f.type == "scale" and f.min is not None and f.max is not None:
            labels = f.labels or {}
            missing = [str(end) for end in (f.min, f.max) if end not in labels]
            if missing:
                diags.add("PLAN-010", doc.path, *doc.locate(("fields", i, "labels" if f.labels else "type"),
                                                            prefer_key=True),
                          question=f.id, ends=" och ".join(missing))
    results = plan.results
    if results is None:
        return
    fields = {f.id: f for f in plan.fields}
    charted = {fid: f for fid, f in fields.items() if f.type in CHARTED_TYPES}
    target = fields.get(results.field)
    if target is None:
        diags.add("PLAN-003", doc.path, *doc.locate(("results", "field")), field=results.field,
                  suggestion=did_you_mean(results.field, charted))
    elif target.type not in CHARTED_TYPES:
        diags.add("PLAN-007", doc.path, *doc.locate(("results", "field")), field=results.field, type=target.type,
                  suggestion=(" Planens fält som kan visas: " + ", ".join(f"'{c}'" for c in charted) + ".")
                  if charted else "")
    elif target.type not in GOAL_TYPES:
        for key in ("goal", "goal_from"):
            if getattr(results, key) is not None:
                diags.add("PLAN-009", doc.path, *doc.locate(("results", key), prefer_key=True),
                          field=results.field, type=target.type, key=key)
    if results.goal is not None and results.goal_from is not None:
        diags.add("PLAN-006", doc.path, *doc.locate(("results", "goal_from"), prefer_key=True))


def _check_duration(f: Question, doc: YamlDoc, loc: tuple, diags: Diagnostics) -> None:
    """A duration's bounds are whole minutes within a day, min below max."""
    for key in ("min", "max"):
        value = getattr(f, key)
        if value is None:
            continue
        problem = None
        if not float(value).is_integer():
            problem = "som inte är ett helt antal minuter"
        elif not 0 <= value <= DURATION_MAX:
            problem = f"utanför 0–{DURATION_MAX} minuter"
        elif key == "max" and f.min is not None and f.min >= value:
            problem = f"som inte är större än min {f.min:g}"
        if problem:
            diags.add("PLAN-008", doc.path, *doc.locate((*loc, key)), question=f.id, key=key, value=f"{value:g}",
                      problem=problem)
