"""Issue 17: exclusive options of multi questions, and scoring bands that depend on sex.

Diagnostics are asserted by code, file and line on edits of the minimal fixture; the
renderings (page note, printed note, FHIR extension, therapist tables) on validated forms.
"""

from __future__ import annotations

import pytest

from builder.render.fhir import OPTION_EXCLUSIVE, questionnaire
from builder.render.forms import band_tables, form_view
from builder.render.pdf_html import print_form
from builder.schema.form import Form
from builder.schema.program import ProgramMeta
from tests.conftest import ROOT, diagnose
from tests.unit.test_diagnostics import FORM, sub

HINDER = "      - {value: ork, label: Ork, points: 1}\n"
BANDS = "  bands:\n    - {min: 0, max: 3, label: Låg}\n    - {min: 4, max: 8, label: Hög, text: Prata med din behandlare.}\n"
BY_SEX = ("  bands_by_sex:\n"
          "    kvinna:\n      - {min: 0, max: 3, label: Låg}\n      - {min: 4, max: 8, label: Hög}\n"
          "    man:\n      - {min: 0, max: 4, label: Låg}\n      - {min: 5, max: 8, label: Hög}\n")

CASES = [
    # exclusive on a single question (line 24 is the option of roker)
    ("exclusive-on-single", {FORM: sub("{value: nej, label: Nej, points: 0}", "{value: nej, label: Nej, points: 0, exclusive: true}")},
     "FORM-012", 26),
    ("every-option-exclusive", {FORM: sub("{value: tid, label: Tid, points: 1}\n" + HINDER,
                                          "{value: tid, label: Tid, points: 1, exclusive: true}\n"
                                          "      - {value: ork, label: Ork, points: 1, exclusive: true}\n")},
     "FORM-013", 37),
    ("bands-and-bands-by-sex", {FORM: sub(BANDS, BANDS + BY_SEX)}, "FORM-014", 54),
    ("bands-by-sex-gap", {FORM: sub(BANDS, BY_SEX.replace("{min: 5, max: 8, label: Hög}", "{min: 6, max: 8, label: Hög}"))},
     "FORM-006", 57),
    ("bands-by-sex-without-man", {FORM: sub(BANDS, BY_SEX.split("    man:")[0])}, "SCHEMA-002", 51),
    ("bands-by-sex-unknown-group", {FORM: sub(BANDS, BY_SEX.replace("    man:", "    men:"))}, "SCHEMA-001", 55),
]


@pytest.mark.parametrize(("edits", "code", "line"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_form_format_mistake__names_code_file_and_line(program, edits, code, line):
    found = diagnose(program(edits))
    hits = [(d.code, d.path, d.line) for d in found]
    assert (code, FORM, line) in hits, "\n".join(f"{d.path}:{d.line}: {d.code} {d.message}" for d in found)


def test_exclusive_option_and_bands_by_sex__valid__no_diagnostics(program):
    edits = {FORM: lambda t: sub(BANDS, BY_SEX)(t).replace(HINDER, HINDER + "      - {value: inget, label: Inget, exclusive: true}\n")}
    assert diagnose(program(edits)) == []


def test_exclusive_option__points_alone_not_added_to_the_others(program):
    """The highest sum counts an exclusive option alone: bands need not cover tid + ork + inget."""
    edits = {FORM: lambda t: t.replace(HINDER, HINDER + "      - {value: inget, label: Inget, points: 1, exclusive: true}\n")}
    assert diagnose(program(edits)) == []


FORM_DEF = {
    "title": "Rörelse",
    "questions": [
        {"id": "hinder", "type": "multi", "label": "Vad hindrar dig?", "help": "Välj så många du vill.",
         "options": [{"value": "tid", "label": "Tid"}, {"value": "ork", "label": "Ork"},
                     {"value": "inget", "label": "Inget hindrar dig", "exclusive": True}]},
        {"id": "glas", "type": "single", "label": "Glas?", "options": [
            {"value": "noll", "label": "Inga", "points": 0}, {"value": "fem", "label": "Fem", "points": 5}]},
    ],
    "scoring": {"questions": ["glas"], "bands_by_sex": {
        "kvinna": [{"min": 0, "max": 3, "label": "Låg"}, {"min": 4, "max": 5, "label": "Hög"}],
        "man": [{"min": 0, "max": 4, "label": "Låg"}, {"min": 5, "max": 5, "label": "Hög"}]}},
}


def test_exclusive_option__page_and_paper_say_it_is_chosen_alone():
    form = Form.model_validate(FORM_DEF)
    view = form_view("rorelse", form, lambda t: t, lambda m: m)
    note = "Om du väljer ”Inget hindrar dig” ska du inte välja något annat alternativ."
    assert view.questions[0].help == f"Välj så många du vill. {note}"
    assert view.questions[0].help_id  # aria-describedby points at it
    assert view.questions[1].help is None
    printed = print_form("rorelse", form, lambda t: t, lambda m: m, prefix="p")
    assert note in printed.questions[0].view.help


def test_exclusive_option__fhir_option_exclusive_extension():
    meta = ProgramMeta.model_validate({"id": "test", "title": "Test", "version": "1.0.0", "language": "sv",
                                       "publisher": "Region Test", "modules": ["a"]})
    resource = questionnaire(meta, "rorelse", Form.model_validate(FORM_DEF))
    options = resource["item"][0]["answerOption"]
    assert [o.get("extension") for o in options] == [None, None, [{"url": OPTION_EXCLUSIVE, "valueBoolean": True}]]
    assert "kvinnor: 0–3: Låg; 4–5: Hög | män: 0–4: Låg; 5–5: Hög" in resource["item"][-1]["text"]


def test_bands_by_sex__one_table_per_sex_for_the_therapist():
    tables = band_tables(Form.model_validate(FORM_DEF).scoring)
    assert [t.caption for t in tables] == ["Tolkning av summan för kvinnor", "Tolkning av summan för män"]
    assert tables[1].rows == [("0–4", "Låg", ""), ("5–5", "Hög", "")]


def test_framat__audit_c_bands_by_sex_and_exclusive_nothing_options():
    import yaml

    for name in ("alkoholvanor", "halsoprofil", "halsoprofil-uppfoljning"):
        scoring = yaml.safe_load((ROOT / "content" / "forms" / f"{name}.yaml").read_text("utf-8"))["scoring"]
        assert "bands" not in scoring, name
        assert scoring["bands_by_sex"]["kvinna"][1]["min"] == 4 and scoring["bands_by_sex"]["man"][1]["min"] == 5
    for name, value in (("min-rorelse", "inget"), ("tobak-nulage", "inget-just-nu")):
        form = yaml.safe_load((ROOT / "content" / "forms" / f"{name}.yaml").read_text("utf-8"))
        exclusive = [o["value"] for q in form["questions"] for o in q.get("options", []) if o.get("exclusive")]
        assert exclusive == [value], name
