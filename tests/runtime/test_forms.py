"""Issue #8: answers are checked on the server against the form's definition, and scored.

The definitions are shaped as program.json has them (FRAMÅT's AUDIT-C style
"alkoholvanor" form and the test program's "mal").
"""

from __future__ import annotations

from runtime.forms import check_answers, draft_answers, raw_from_json, score

AUDIT = {
    "questions": [
        {"id": "info", "type": "display", "label": "Om standardglas"},
        {"id": "hur-ofta", "type": "single", "label": "Hur ofta?", "required": True, "options": [
            {"value": "aldrig", "label": "Aldrig", "points": 0}, {"value": "manad", "label": "Månad", "points": 1},
            {"value": "vecka", "label": "Vecka", "points": 3}]},
        {"id": "glas", "type": "single", "label": "Hur många glas?", "required": True,
         "show_if": {"question": "hur-ofta", "any_of": ["manad", "vecka"]},
         "options": [{"value": "1-2", "label": "1–2", "points": 0}, {"value": "5-6", "label": "5–6", "points": 2}]},
        {"id": "mer", "type": "single", "label": "Sex eller fler?", "show_if": {"question": "glas", "equals": "5-6"},
         "options": [{"value": "nej", "label": "Nej", "points": 0}, {"value": "ja", "label": "Ja", "points": 4}]},
    ],
    "scoring": {"questions": ["hur-ofta", "glas", "mer"], "bands": [
        {"min": 0, "max": 3, "label": "Låg risk"}, {"min": 4, "max": 5, "label": "Förhöjd risk"},
        {"min": 6, "max": 9, "label": "Hög risk"}]},
}


def test_required_question__missing_is_an_error():
    checked = check_answers(AUDIT["questions"], {})
    assert checked.errors == {"hur-ofta": "Välj ett svar."}


def test_show_if__hidden_question_neither_required_nor_kept():
    checked = check_answers(AUDIT["questions"], {"hur-ofta": ["aldrig"], "glas": ["5-6"], "mer": ["ja"]})
    assert checked.ok and checked.answers == {"hur-ofta": "aldrig"}
    assert score(AUDIT, checked.answers) == (0.0, "Låg risk")


def test_show_if__shown_required_question_enforced_and_chain_followed():
    assert check_answers(AUDIT["questions"], {"hur-ofta": ["vecka"]}).errors == {"glas": "Välj ett svar."}
    checked = check_answers(AUDIT["questions"], {"hur-ofta": ["vecka"], "glas": ["5-6"], "mer": ["ja"]})
    assert checked.answers == {"hur-ofta": "vecka", "glas": "5-6", "mer": "ja"}
    assert score(AUDIT, checked.answers) == (9.0, "Hög risk")
    checked = check_answers(AUDIT["questions"], {"hur-ofta": ["manad"], "glas": ["1-2"], "mer": ["ja"]})
    assert "mer" not in checked.answers  # its condition (glas = 5-6) does not hold
    assert score(AUDIT, checked.answers) == (1.0, "Låg risk")


def test_band_boundaries():
    checked = check_answers(AUDIT["questions"], {"hur-ofta": ["vecka"], "glas": ["1-2"], "mer": ["nej"]})
    assert score(AUDIT, checked.answers) == (3.0, "Låg risk")
    checked = check_answers(AUDIT["questions"], {"hur-ofta": ["manad"], "glas": ["5-6"], "mer": ["nej"]})
    assert score(AUDIT, checked.answers) == (3.0, "Låg risk")
    checked = check_answers(AUDIT["questions"], {"hur-ofta": ["vecka"], "glas": ["5-6"], "mer": ["nej"]})
    assert score(AUDIT, checked.answers) == (5.0, "Förhöjd risk")


TYPES = [
    {"id": "t", "type": "text", "label": "T", "max_length": 6},
    {"id": "n", "type": "number", "label": "N", "min": 0, "max": 10, "step": 0.5},
    {"id": "s", "type": "scale", "label": "S", "min": 1, "max": 5},
    {"id": "m", "type": "multi", "label": "M", "options": [{"value": "a", "label": "A", "points": 1},
                                                             {"value": 2, "label": "B", "points": 2}]},
    {"id": "d", "type": "date", "label": "D"},
    {"id": "x", "type": "textarea", "label": "X"},
]


def test_types__typed_values_and_swedish_numbers():
    checked = check_answers(TYPES, {"t": [" hej  du "], "n": ["2,5"], "s": ["4"], "m": ["2", "a"],
                                    "d": ["2026-03-29"], "x": ["rad 1\r\nrad 2"]})
    assert checked.ok, checked.errors
    assert checked.answers == {"t": "hej du", "n": 2.5, "s": 4, "m": ["a", 2], "d": "2026-03-29",
                               "x": "rad 1\nrad 2"}
    assert score({"questions": TYPES, "scoring": {"questions": ["n", "s", "m"], "bands": []}},
                 checked.answers) == (9.5, None)


def test_types__values_outside_the_definition():
    bad = check_answers(TYPES, {"t": ["sju tecken"], "n": ["0,3"], "s": ["6"], "m": ["c"], "d": ["29/3"]})
    assert set(bad.errors) == {"t", "n", "s", "m", "d"}
    assert "steg om 0,5" in bad.errors["n"]
    assert check_answers(TYPES, {"n": ["11"]}).errors["n"] == "Talet får vara högst 10."
    assert check_answers(TYPES, {"n": ["inf"]}).errors["n"].startswith("Skriv ett tal")
    assert check_answers(TYPES, {"s": ["1", "2"]}).errors["s"] == "Välj ett värde på skalan."


def test_form_without_scoring__no_score():
    assert score({"questions": TYPES}, {"n": 3}) == (None, None)


def test_json_answers__converted_like_a_browser_would_send_them():
    assert raw_from_json({"a": 1, "b": [1, "x"], "c": True, "d": None}) == {"a": ["1"], "b": ["1", "x"],
                                                                            "c": ["true"]}


def test_draft__unknown_and_display_questions_dropped_nothing_checked():
    assert draft_answers(AUDIT["questions"], {"info": ["x"], "glas": ["fel"], "okand": ["y"], "mer": [" "]}) == \
        {"glas": ["fel"]}
