"""YAML is read as YAML 1.2 with positions (issue #2: authoring format)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from builder.diagnostics import Diagnostics
from builder.yamlsrc import dump_yaml, parse_yaml


def parse(text: str):
    diags = Diagnostics()
    doc = parse_yaml(text, "x.yaml", diags)
    return doc, diags.items


def test_scalars__follow_yaml_1_2_core_schema__ok():
    doc, found = parse("a: 18:00\nb: no\nc: yes\nd: true\ne: 2026-10-02\nf: 1.5\ng: 7\nh: ~\ni: '7'\nj: 0770-72 00 00\n")
    assert not found
    assert doc.data == {"a": "18:00", "b": "no", "c": "yes", "d": True, "e": dt.date(2026, 10, 2), "f": 1.5,
                        "g": 7, "h": None, "i": "7", "j": "0770-72 00 00"}


def test_positions__recorded_for_keys_and_values__ok():
    doc, _ = parse("title: A\nquestions:\n  - id: q1\n    label: Hej\n")
    assert doc.locate(("questions", 0, "label")) == (4, 12)
    assert doc.locate(("questions", 0, "label"), prefer_key=True) == (4, 5)
    assert doc.locate(("questions", 0, "missing")) == (3, 5)


def test_line_offset__shifts_positions_for_front_matter__ok():
    diags = Diagnostics()
    doc = parse_yaml("title: A\nsection: B\n", "s.md", diags, line_offset=1)
    assert doc.locate(("section",)) == (3, 10)


def test_invalid_date__stays_text__ok():
    doc, _ = parse("on: 2026-13-45\n")
    assert doc.data == {"on": "2026-13-45"}


def test_anchor_without_alias__error():
    _, found = parse("a: *missing\n")
    assert [d.code for d in found] == ["YAML-001"]


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_any_text__never_raises__ok(text):
    diags = Diagnostics()
    doc = parse_yaml(text, "x.yaml", diags)  # any input gives a document or diagnostics, never an exception
    assert doc is not None or [d.code for d in diags.items] in (["YAML-001"], ["YAML-002"]), text


def test_dump_yaml__reads_back_as_the_same_data__ok():
    """Generated program.yaml of an overlay package (issue #6): "08" must stay text, not become 8."""
    data = {"code": "08", "time": "18:00", "word": "no", "flag": "true", "number": "1.5", "date": "2026-10-02",
            "day": dt.date(2026, 10, 2), "count": 8, "empty": "", "none": None, "yes": True, "list": ["0", "Ö2"],
            "text": "Ring 1177: alla dagar", "nested": {"7": "sju"}}
    doc, found = parse(dump_yaml(data))
    assert not found and doc.data == data


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text() | st.dates()
                    | st.floats(allow_nan=False, allow_infinity=False),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
                    max_leaves=8))
def test_dump_yaml__any_data_round_trips__ok(data):
    doc, found = parse(dump_yaml({"value": data}))
    assert not found and doc.data == {"value": data}
