"""Forms as FHIR R4B Questionnaire resources (validated by fhir.resources).

Mapping: text -> string, textarea -> text, single -> choice, multi -> choice with
repeats, scale -> choice over the scale's values (with labels), number -> integer
or decimal with min/max extensions, date -> date, display -> display. show_if ->
enableWhen; option points -> the ordinalValue extension; an exclusive option of a
multi question -> the questionnaire-optionExclusive extension; form scoring bands
(one list, or one per sex) are described in an item of type display for the therapist.
"""

from __future__ import annotations

import json

from fhir.resources.R4B.questionnaire import Questionnaire

from builder.render.forms import SEX_PLURAL
from builder.schema.form import Form, Question
from builder.schema.program import ProgramMeta

ORDINAL = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
UNIT = "http://hl7.org/fhir/StructureDefinition/questionnaire-unit"
MAX_DECIMALS = "http://hl7.org/fhir/StructureDefinition/maxDecimalPlaces"
#: "If this answerOption is selected, no other possible answers may be selected" (R4B and R5).
OPTION_EXCLUSIVE = "http://hl7.org/fhir/StructureDefinition/questionnaire-optionExclusive"
TYPES = {"text": "string", "textarea": "text", "single": "choice", "multi": "choice", "scale": "choice",
         "date": "date", "display": "display"}


def _is_int(*values) -> bool:
    return all(v is None or float(v).is_integer() for v in values)


def _num(value):
    return int(value) if float(value).is_integer() else value


def _coding(system: str, value: str, label: str) -> dict:
    return {"system": system, "code": str(value), "display": label}


def _item(q: Question, system: str, by_id: dict[str, Question]) -> dict:
    item: dict = {"linkId": q.id, "text": q.label}
    if q.type == "number":
        integer = _is_int(q.min, q.max, q.step or 1)
        item["type"] = "integer" if integer else "decimal"
        key = "valueInteger" if integer else "valueDecimal"
        ext = [{"url": url, key: _num(v)} for url, v in ((MIN_VALUE, q.min), (MAX_VALUE, q.max)) if v is not None]
        if q.unit:
            ext.append({"url": UNIT, "valueCoding": {"display": q.unit}})
        if ext:
            item["extension"] = ext
    else:
        item["type"] = TYPES[q.type]
    if q.type != "display":
        item["required"] = q.required
    if q.type == "multi":
        item["repeats"] = True
    if q.max_length:
        item["maxLength"] = q.max_length
    if q.type in ("single", "multi"):
        item["answerOption"] = []
        for o in q.options or []:
            option = {"valueCoding": _coding(f"{system}/{q.id}", o.value, o.label)}
            if o.points is not None:
                option.setdefault("extension", []).append({"url": ORDINAL, "valueDecimal": o.points})
            if o.exclusive and q.type == "multi":
                option.setdefault("extension", []).append({"url": OPTION_EXCLUSIVE, "valueBoolean": True})
            item["answerOption"].append(option)
    elif q.type == "scale":
        labels, step = q.labels or {}, q.step or 1
        values, v = [], q.min
        while v <= q.max + 1e-9 and len(values) < 101:
            values.append(_num(v))
            v = round(v + step, 10)
        item["answerOption"] = [
            {"valueCoding": _coding(f"{system}/{q.id}", value, f"{value} – {labels[value]}" if value in labels else str(value)),
             "extension": [{"url": ORDINAL, "valueDecimal": value}]}
            for value in values
        ]
    if q.help:
        item["item"] = [{"linkId": f"{q.id}.hjalp", "type": "display", "text": q.help}]
    if q.show_if is not None:
        target = by_id[q.show_if.question]
        values = [q.show_if.equals] if q.show_if.any_of is None else q.show_if.any_of
        item["enableWhen"] = [_enable_when(target, v, system) for v in values]
        if len(values) > 1:
            item["enableBehavior"] = "any"
    return item


def _enable_when(target: Question, value, system: str) -> dict:
    cond = {"question": target.id, "operator": "="}
    if target.type in ("single", "multi", "scale"):
        cond["answerCoding"] = {"system": f"{system}/{target.id}", "code": str(value)}
    elif isinstance(value, bool):
        cond["answerBoolean"] = value
    elif isinstance(value, int):
        cond["answerInteger"] = value
    elif isinstance(value, float):
        cond["answerDecimal"] = value
    else:
        cond["answerString"] = str(value)
    return cond


def questionnaire(program: ProgramMeta, form_id: str, form: Form) -> dict:
    """A FHIR R4B Questionnaire (as JSON-ready dict) for one form."""
    system = f"urn:stegvis:{program.id}:{form_id}"
    by_id = {q.id: q for q in form.questions}
    resource = {
        "resourceType": "Questionnaire",
        "id": f"{program.id}-{form_id}",
        "url": f"urn:stegvis:{program.id}:questionnaire:{form_id}",
        "version": program.version,
        "name": "".join(part.capitalize() for part in form_id.split("-")),
        "title": form.title,
        "status": "active",
        "language": program.language,
        "publisher": program.publisher,
        "item": [_item(q, system, by_id) for q in form.questions],
    }
    if form.description:
        resource["description"] = form.description
    if form.scoring and any(form.scoring.band_sets().values()):
        sets = []
        for sex, bands in form.scoring.band_sets().items():
            listed = "; ".join(f"{b.min:g}–{b.max:g}: {b.label}" for b in bands)
            sets.append(f"{SEX_PLURAL[sex]}: {listed}" if sex else listed)
        resource["item"].append({"linkId": "poangtolkning", "type": "display",
                                 "text": f"Poäng (summa av {', '.join(form.scoring.questions)}): {' | '.join(sets)}"})
    # Validate against the FHIR model; a failure here is a bug in this mapping.
    return json.loads(Questionnaire.model_validate(resource).model_dump_json(exclude_none=True))
