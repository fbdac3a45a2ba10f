"""Answers to forms and activity-plan fields, checked on the server against program.json.

Input: a form's (or plan's) question list as program.json has it, and raw answers:
question id -> list of strings (a browser form) or JSON values (the API). Output:
typed answers, or a Swedish message per question. The same rules hold whatever the
browser did: a question hidden by `show_if` is dropped, a required question that is
shown must be answered, a value must be one the question allows.

Scores are for the therapist: the sum of option points (single, multi) and values
(scale, number) of the scoring questions, and the band that sum falls in. A question
that was not shown or not answered adds nothing. Must not: guess a score the form
does not define.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

DISPLAY = "display"
#: Longest text for a one-line `text` question without its own max_length.
TEXT_LINE_MAX = 500
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


def _check_one(q: Mapping, values: list[str], max_text: int) -> tuple[Any, str | None]:
    kind = q["type"]
    if kind in ("text", "textarea"):
        text = values[0] if len(values) == 1 else " ".join(values)
        text = text.replace("\r\n", "\n").strip()
        if kind == "text":
            text = " ".join(text.split())
        limit = q.get("max_length") or (TEXT_LINE_MAX if kind == "text" else max_text)
        if len(text) > limit:
            return None, f"Texten är för lång: högst {limit} tecken, du har skrivit {len(text)}."
        return text, None
    if kind == "single":
        if len(values) != 1:
            return None, "Välj ett av alternativen."
        for option in q.get("options", []):
            if _as_text(option["value"]) == values[0]:
                return option["value"], None
        return None, "Välj ett av alternativen."
    if kind == "multi":
        options = {_as_text(o["value"]): o["value"] for o in q.get("options", [])}
        if any(v not in options for v in values):
            return None, "Välj bland alternativen."
        chosen = set(values)
        return [o["value"] for o in q.get("options", []) if _as_text(o["value"]) in chosen], None
    if kind in ("scale", "number"):
        if len(values) != 1:
            return None, "Skriv ett tal." if kind == "number" else "Välj ett värde på skalan."
        value = _number(values[0])
        low, high, step = q.get("min"), q.get("max"), q.get("step")
        if kind == "scale":
            step = step or 1
        if value is None:
            return None, "Skriv ett tal, till exempel 12 eller 1,5." if kind == "number" else "Välj ett värde på skalan."
        if low is not None and value < low:
            return None, f"Talet ska vara minst {_fmt(low)}." if kind == "number" else "Välj ett värde på skalan."
        if high is not None and value > high:
            return None, f"Talet får vara högst {_fmt(high)}." if kind == "number" else "Välj ett värde på skalan."
        if not _on_step(value, low, step):
            return None, f"Talet ska gå jämnt upp i steg om {_fmt(step)}."
        return (int(value) if value.is_integer() else value), None
    if kind == "date":
        if len(values) != 1:
            return None, "Skriv ett datum som ÅÅÅÅ-MM-DD."
        try:
            day = date.fromisoformat(values[0].strip())
        except ValueError:
            return None, "Skriv ett datum som ÅÅÅÅ-MM-DD, till exempel 2026-03-02."
        if not EARLIEST_ANSWER_DAY <= day <= LATEST_ANSWER_DAY:  # issue 14: 0001-01-01 was accepted
            return None, (f"Skriv ett datum mellan {EARLIEST_ANSWER_DAY.isoformat()} och "
                          f"{LATEST_ANSWER_DAY.isoformat()}.")
        return day.isoformat(), None
    return None, "Frågan kan inte besvaras."


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
                result.errors[q["id"]] = "Svara på frågan." if q["type"] not in ("single", "multi", "scale") \
                    else "Välj ett svar."
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


def score(form: Mapping, answers: Mapping[str, Any]) -> tuple[float | None, str | None]:
    """(sum, band label) of a form with scoring; (None, None) for a form without."""
    scoring = form.get("scoring")
    if not scoring:
        return None, None
    by_id = {q["id"]: q for q in form["questions"]}
    total = 0.0
    for qid in scoring.get("questions", []):
        q = by_id.get(qid)
        if q is not None and qid in answers:
            total += _points(q, answers[qid])
    band = next((b["label"] for b in scoring.get("bands", []) if b["min"] <= total <= b["max"]), None)
    return total, band
