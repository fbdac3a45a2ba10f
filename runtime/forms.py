"""Answers to forms and activity-plan fields, checked on the server against program.json.

Input: a form's (or plan's) question list as program.json has it, and raw answers:
question id -> list of strings (a browser form) or JSON values (the API). Output:
typed answers, or a message per question (Swedish, shown in the patient's language: runtime.i18n). The same rules hold whatever the
browser did: a question hidden by `show_if` is dropped, a required question that is
shown must be answered, a value must be one the question allows. A plan's time of day
is stored as "HH:MM", a duration as whole minutes (0–1440 unless the field says less).

An option marked `exclusive` ("Inget av detta") of a multi question is refused together
with any other option.

Scores are for the therapist: the sum of option points (single, multi) and values
(scale, number) of the scoring questions, and the band that sum falls in. A score is
only made from a complete set (issue 17): a scoring question that was shown but not
answered makes the score incomplete (no sum, no band; `missing_for_score` names the
questions), never 0. A scoring question hidden by `show_if` counts as 0, as AUDIT-C
does when the first answer is "never". Bands may depend on the sex the therapist set
for the enrolment (`bands_by_sex`); while it is not set, both readings are given.
Must not: guess a score the form does not define.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from runtime.i18n import N_, Alternatives, Number

DISPLAY = "display"
#: Longest text for a one-line `text` question without its own max_length.
TEXT_LINE_MAX = 500
#: The longest duration without a field's own max: a day, in minutes (as the builder's rule).
DURATION_MAX = 24 * 60
_CLOCK = re.compile(r"(\d{1,2})[:.](\d{2})|(\d{2})(\d{2})")
_DURATION = re.compile(r"(?:(\d{1,2})\s*(?:h|t|tim|timme|timmar)\.?)?\s*(?:(\d{1,4})\s*(?:m|min|minut|minuter)?\.?)?")
_HOURS_MINUTES = re.compile(r"(\d{1,2}):(\d{2})")
TIME_ERROR = N_("Skriv klockslaget som TT:MM, till exempel 22:30.")
DURATION_ERROR = N_("Skriv tiden som timmar:minuter eller minuter, till exempel 7:30 eller 45.")
SCALE_ERROR = N_("Välj ett värde på skalan.")
#: The dates a date answer may be (issue 14): any birth date or appointment, nothing at the calendar's ends.
EARLIEST_ANSWER_DAY = date(1900, 1, 1)
LATEST_ANSWER_DAY = date(2100, 12, 31)


@dataclass
class Checked:
    """The outcome of checking answers: typed answers, and errors by question id."""

    answers: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every answer passed."""
        return not self.errors


def raw_from_json(answers: Mapping[str, Any]) -> dict[str, list[str]]:
    """API answers (JSON values) as the raw strings a browser would send."""
    raw: dict[str, list[str]] = {}
    for key, value in answers.items():
        if value is None:
            continue
        items = value if isinstance(value, list) else [value]
        out = []
        for item in items:
            if isinstance(item, bool):
                out.append("true" if item else "false")
            elif isinstance(item, int | float | str):
                out.append(str(item))
            else:
                out.append(repr(item))  # rejected later as an impossible value
        raw[str(key)] = out
    return raw


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def condition_met(question: Mapping, answers: Mapping[str, Any]) -> bool:
    """Whether a question's `show_if` holds for answers given so far (no show_if: always)."""
    cond = question.get("show_if")
    if not cond:
        return True
    given = answers.get(cond["question"])
    if given is None:
        return False
    wanted = [cond["equals"]] if cond.get("any_of") is None else cond["any_of"]
    wanted_text = {_as_text(v) for v in wanted}
    given_items = given if isinstance(given, list) else [given]
    return any(_as_text(g) in wanted_text for g in given_items)


def _fmt(x: float) -> str:
    return f"{x:g}".replace(".", ",")


def _number_text(x: float) -> Number:
    """A bound or step in a message: Swedish as `_fmt` writes it, in the reader's language where shown."""
    return Number(x, _fmt(x))


def _number(text: str) -> float | None:
    cleaned = text.strip().replace("\u2212", "-").replace(" ", "").replace("\u00a0", "").replace(",", ".")
    if not re.fullmatch(r"-?\d+(\.\d+)?", cleaned):
        return None
    value = float(cleaned)
    return value if math.isfinite(value) else None


def _on_step(value: float, low: float | None, step: float | None) -> bool:
    if not step:
        return True
    base = low if low is not None else 0
    ratio = (value - base) / step
    return abs(ratio - round(ratio)) < 1e-9


def parse_clock(text: str) -> str | None:
    """A time of day as "HH:MM" from 22:30, 22.30, 7:05 or 2230; None when it is not one."""
    match = _CLOCK.fullmatch(text.strip())
    if match is None:
        return None
    hours, minutes = (int(g) for g in (match.groups()[:2] if match.group(1) else match.groups()[2:]))
    if hours > 23 or minutes > 59:
        return None
    return f"{hours:02d}:{minutes:02d}"


def parse_duration(text: str) -> int | None:
    """Whole minutes from 7:30, 7 tim 30 min, 7 h, 45 min or 45 (minutes); None when it is not one."""
    cleaned = " ".join(text.strip().lower().split())
    match = _HOURS_MINUTES.fullmatch(cleaned)
    if match is not None:
        hours, minutes = int(match.group(1)), int(match.group(2))
        return hours * 60 + minutes if minutes < 60 else None
    match = _DURATION.fullmatch(cleaned)
    if match is None or not cleaned or (match.group(1) is None and match.group(2) is None):
        return None
    hours, minutes = int(match.group(1) or 0), int(match.group(2) or 0)
    if match.group(1) is not None and match.group(2) is not None and minutes > 59:
        return None
    return hours * 60 + minutes


def duration_text(minutes: int | float) -> str:
    """Minutes in words: "7 tim 30 min", "8 tim", "45 min"."""
    total = int(round(minutes))
    hours, rest = divmod(abs(total), 60)
    sign = "-" if total < 0 else ""
    if not hours:
        return N_("%(sign)s%(minutes)s min", sign=sign, minutes=rest)
    if not rest:
        return N_("%(sign)s%(hours)s tim", sign=sign, hours=hours)
    return N_("%(sign)s%(hours)s tim %(minutes)s min", sign=sign, hours=hours, minutes=rest)


def clock_minutes(hhmm: str) -> int:
    """Minutes after midnight of a stored "HH:MM"."""
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _check_time_or_duration(q: Mapping, values: list[str]) -> tuple[Any, str | None]:
    if q["type"] == "time":
        clock = parse_clock(values[0]) if len(values) == 1 else None
        return (clock, None) if clock is not None else (None, TIME_ERROR)
    minutes = parse_duration(values[0]) if len(values) == 1 else None
    if minutes is None:
        return None, DURATION_ERROR
    low = q.get("min") if q.get("min") is not None else 0
    high = q.get("max") if q.get("max") is not None else DURATION_MAX
    if minutes < low:
        return None, N_("Tiden ska vara minst %(time)s.", time=duration_text(low))
    if minutes > high:
        return None, N_("Tiden får vara högst %(time)s.", time=duration_text(high))
    return minutes, None


def _check_one(q: Mapping, values: list[str], max_text: int) -> tuple[Any, str | None]:
    kind = q["type"]
    if kind in ("text", "textarea"):
        text = values[0] if len(values) == 1 else " ".join(values)
        text = text.replace("\r\n", "\n").strip()
        if kind == "text":
            text = " ".join(text.split())
        limit = q.get("max_length") or (TEXT_LINE_MAX if kind == "text" else max_text)
        if len(text) > limit:
            return None, N_("Texten är för lång: högst %(limit)s tecken, du har skrivit %(length)s.", limit=limit,
                              length=len(text))
        return text, None
    if kind == "single":
        if len(values) != 1:
            return None, N_("Välj ett av alternativen.")
        for option in q.get("options", []):
            if _as_text(option["value"]) == values[0]:
                return option["value"], None
        return None, N_("Välj ett av alternativen.")
    if kind == "multi":
        options = {_as_text(o["value"]): o["value"] for o in q.get("options", [])}
        if any(v not in options for v in values):
            return None, N_("Välj bland alternativen.")
        chosen = set(values)
        alone = [o for o in q.get("options", []) if o.get("exclusive") and _as_text(o["value"]) in chosen]
        if alone and len(chosen) > 1:
            names = Alternatives([f"”{o['label']}”" for o in alone])
            return None, N_("Du kan inte välja %(names)s tillsammans med något annat. Välj bara det, eller ta bort det.",
                            names=names)
        return [o["value"] for o in q.get("options", []) if _as_text(o["value"]) in chosen], None
    if kind in ("scale", "number"):
        if len(values) != 1:
            return None, N_("Skriv ett tal.") if kind == "number" else SCALE_ERROR
        value = _number(values[0])
        low, high, step = q.get("min"), q.get("max"), q.get("step")
        if kind == "scale":
            step = step or 1
        if value is None:
            return None, N_("Skriv ett tal, till exempel 12 eller 1,5.") if kind == "number" else SCALE_ERROR
        if low is not None and value < low:
            return None, N_("Talet ska vara minst %(low)s.", low=_number_text(low)) if kind == "number" else SCALE_ERROR
        if high is not None and value > high:
            return None, N_("Talet får vara högst %(high)s.", high=_number_text(high)) if kind == "number" \
                else SCALE_ERROR
        if not _on_step(value, low, step):
            return None, N_("Talet ska gå jämnt upp i steg om %(step)s.", step=_number_text(step))
        return (int(value) if value.is_integer() else value), None
    if kind in ("time", "duration"):
        return _check_time_or_duration(q, values)
    if kind == "date":
        if len(values) != 1:
            return None, N_("Skriv ett datum som ÅÅÅÅ-MM-DD.")
        try:
            day = date.fromisoformat(values[0].strip())
        except ValueError:
            return None, N_("Skriv ett datum som ÅÅÅÅ-MM-DD, till exempel 2026-03-02.")
        if not EARLIEST_ANSWER_DAY <= day <= LATEST_ANSWER_DAY:  # issue 14: 0001-01-01 was accepted
            return None, N_("Skriv ett datum mellan %(first)s och %(last)s.", first=EARLIEST_ANSWER_DAY.isoformat(),
                            last=LATEST_ANSWER_DAY.isoformat())
        return day.isoformat(), None
    return None, N_("Frågan kan inte besvaras.")


def check_answers(questions: list[Mapping], raw: Mapping[str, list[str]], max_text: int = 10000) -> Checked:
    """Check raw answers against the questions, in order (show_if sees earlier answers)."""
    result = Checked()
    for q in questions:
        if q["type"] == DISPLAY:
            continue
        if not condition_met(q, result.answers):
            continue
        values = [v for v in raw.get(q["id"], []) if v is not None and str(v).strip() != ""]
        if not values:
            if q.get("required"):
                result.errors[q["id"]] = N_("Svara på frågan.") if q["type"] not in ("single", "multi", "scale") \
                    else N_("Välj ett svar.")
            continue
        value, error = _check_one(q, [str(v) for v in values], max_text)
        if error:
            result.errors[q["id"]] = error
        else:
            result.answers[q["id"]] = value
    return result


def draft_answers(questions: list[Mapping], raw: Mapping[str, list[str]], max_text: int = 10000) -> dict[str, list[str]]:
    """What to keep of unsent answers: known questions only, texts capped, nothing checked."""
    known = {q["id"] for q in questions if q["type"] != DISPLAY}
    return {qid: [str(v)[:max_text] for v in values][:100] for qid, values in raw.items()
            if qid in known and any(str(v).strip() for v in values)}


def _points(q: Mapping, value: Any) -> float:
    if q["type"] in ("single", "multi"):
        chosen = {_as_text(v) for v in (value if isinstance(value, list) else [value])}
        return sum(o.get("points") or 0 for o in q.get("options", []) if _as_text(o["value"]) in chosen)
    if q["type"] in ("scale", "number") and isinstance(value, int | float):
        return float(value)
    return 0.0


#: Who a `bands_by_sex` list is for, as the therapist reads it ("gränsvärde 4 för kvinnor").
SEX_PLURAL = {"kvinna": "kvinnor", "man": "män"}


def _answered(value: Any) -> bool:
    return value is not None and value != "" and value != []


def missing_for_score(form: Mapping, answers: Mapping[str, Any]) -> list[Mapping]:
    """Scoring questions that were shown but not answered (empty: the score is complete).

    A question whose `show_if` does not hold for the answers was not shown: it counts as 0.
    """
    scoring = form.get("scoring")
    if not scoring:
        return []
    by_id = {q["id"]: q for q in form["questions"]}
    out = []
    for qid in scoring.get("questions", []):
        q = by_id.get(qid)
        if q is not None and condition_met(q, answers) and not _answered(answers.get(qid)):
            out.append(q)
    return out


@dataclass
class Reading:
    """How a sum reads in one band list: the band's label, for whom, and the threshold that applied."""

    label: str
    who: str = ""  # "" (everyone), "kvinnor" or "män"
    threshold: str = ""  # "gränsvärde 4", "under gränsvärdet 5", or "" for a single band

    @property
    def text(self) -> str:
        """The label with its threshold: "Tyder på riskbruk (gränsvärde 4 för kvinnor)"; the label alone for everyone."""
        if not self.who:
            return self.label
        return f"{self.label} ({self.threshold} för {self.who})" if self.threshold else f"{self.label} (för {self.who})"


def readings(form: Mapping, total: float, sex: str | None) -> list[Reading]:
    """The band the sum falls in: in the one list, in the list of `sex`, or in both lists while sex is not set."""
    scoring = form.get("scoring") or {}
    by_sex = scoring.get("bands_by_sex")
    if by_sex:
        chosen = [sex] if sex in SEX_PLURAL else list(SEX_PLURAL)
        sets = [(s, by_sex.get(s, [])) for s in chosen]
    else:
        sets = [("", scoring.get("bands", []))]
    out = []
    for who, bands in sets:
        i = next((i for i, b in enumerate(bands) if b["min"] <= total <= b["max"]), None)
        if i is None:
            continue
        threshold = ""
        if i > 0:
            threshold = f"gränsvärde {_fmt(bands[i]['min'])}"
        elif i + 1 < len(bands):
            threshold = f"under gränsvärdet {_fmt(bands[i + 1]['min'])}"
        out.append(Reading(bands[i]["label"], SEX_PLURAL.get(who, ""), threshold))
    return out


def band_text(form: Mapping, total: float, sex: str | None) -> str | None:
    """The interpretation of a sum in words for the therapist (None: no band covers it)."""
    found = readings(form, total, sex)
    if not found:
        return None
    if len(found) == 1:
        return found[0].text
    both = "; ".join(f"för {r.who}: {r.label}" + (f" ({r.threshold})" if r.threshold else "") for r in found)
    return f"Kön för bedömningen är inte angivet – {both}"


def score(form: Mapping, answers: Mapping[str, Any], sex: str | None = None) -> tuple[float | None, str | None]:
    """(sum, band) of a form with scoring; (None, None) for a form without, or an incomplete set of answers.

    With `bands_by_sex` and `sex` not set, the band is None (the therapist's review shows both readings).
    """
    scoring = form.get("scoring")
    if not scoring or missing_for_score(form, answers):
        return None, None
    by_id = {q["id"]: q for q in form["questions"]}
    total = 0.0
    for qid in scoring.get("questions", []):
        q = by_id.get(qid)
        if q is not None and qid in answers:
            total += _points(q, answers[qid])
    found = readings(form, total, sex)
    return total, (found[0].text if len(found) == 1 else None)
