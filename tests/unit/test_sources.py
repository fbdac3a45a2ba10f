"""Sources of a step (issue 17): the `sources:` model and its diagnostics.

Codes and locations are the contract (STEP-005..STEP-008); wording is free to change.
"""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from builder.diagnostics import Diagnostics
from builder.schema.module import ModuleMeta
from builder.schema.step import Source, StepMeta
from builder.validate import check_sources_read
from builder.yamlsrc import parse_yaml
from tests.conftest import diagnose

START = "modules/01-start"
WELCOME = f"{START}/01-valkommen.md"
GOAL = f"{START}/02-mitt-mal.md"
MORE = "modules/02-fordjupning/01-mer.md"
MODULE = f"{START}/module.yaml"
GOOD = {"title": "Fysisk aktivitet", "publisher": "Folkhälsomyndigheten",
        "url": "https://www.folkhalsomyndigheten.se/", "read": dt.date(2026, 12, 2)}


def front(*lines: str):
    """An edit that adds lines to a step's front matter, after `section:`."""

    def edit(text: str) -> str:
        head, sep, rest = text.partition("\n---\n")
        return head + "\n" + "\n".join(lines) + sep + rest

    return edit


SOURCE = ("sources:", "  - title: Fysisk aktivitet", "    publisher: Folkhälsomyndigheten",
          "    url: https://www.folkhalsomyndigheten.se/", "    read: 2026-11-30")


def found(root) -> list[tuple[str, str, int]]:
    return [(d.code, d.path, d.line) for d in diagnose(root)]


# --- the model ---------------------------------------------------------------------------


def test_source_model__all_four_keys__ok():
    meta = StepMeta(title="T", section="S", sources=[Source(**GOOD)])
    assert meta.sources[0].url == "https://www.folkhalsomyndigheten.se/"
    assert StepMeta(title="T", section="S").sources == []
    assert StepMeta(title="T", section="S").sources_required is None
    assert ModuleMeta(title="M", kind="core", start="current").sources_required is False


@pytest.mark.parametrize("url", ["http://www.1177.se/", "www.1177.se", "https://", "https://www.1177.se/ sömn",
                                 "ftp://example.se/x"])
def test_source_model__address_not_https__error(url):
    with pytest.raises(ValidationError) as exc:
        Source(**GOOD | {"url": url})
    assert exc.value.errors()[0]["type"] == "stegvis_https"


@pytest.mark.parametrize("missing", ["title", "publisher", "url", "read"])
def test_source_model__each_key_required__error(missing):
    with pytest.raises(ValidationError):
        Source(**{k: v for k, v in GOOD.items() if k != missing})


def test_source_model__unknown_key__error():
    with pytest.raises(ValidationError):
        Source(**GOOD | {"link": "https://www.1177.se/"})


# --- diagnostics ------------------------------------------------------------------------


def test_sources__in_front_matter__no_diagnostics(program):
    assert diagnose(program({GOAL: front(*SOURCE)})) == []


def test_source_unknown_key__schema_001_at_key_with_suggestion(program):
    root = program({GOAL: front(*SOURCE, "    adress: https://www.1177.se/")})
    d = next(d for d in diagnose(root) if d.code == "SCHEMA-001")
    assert (d.path, d.line) == (GOAL, 10)
    assert "publisher, read, title, url" in d.hint


def test_source_missing_url__schema_002(program):
    root = program({GOAL: front(*[line for line in SOURCE if "url:" not in line])})
    assert ("SCHEMA-002", GOAL, 6) in found(root)


def test_source_read_not_a_date__schema_003(program):
    root = program({GOAL: front(*SOURCE[:-1], "    read: igår")})
    assert ("SCHEMA-003", GOAL, 9) in found(root)


def test_source_address_without_https__step_005_at_its_line(program):
    root = program({GOAL: front(*SOURCE[:3], "    url: www.folkhalsomyndigheten.se", SOURCE[4])})
    d = next(d for d in diagnose(root) if d.code == "STEP-005")
    assert (d.path, d.line, d.col) == (GOAL, 8, 10)
    assert "https://" in d.hint


def test_source_read_in_future__step_006_at_its_line(program):
    root = program({GOAL: front(*SOURCE[:4], "    read: 2999-01-01")})
    d = next(d for d in diagnose(root) if d.code == "STEP-006")
    assert (d.path, d.line) == (GOAL, 9)
    assert d.severity == "error" and "2999-01-01" in d.message


def test_source_read_today__ok_and_tomorrow__step_006():
    doc = parse_yaml("title: T\nsection: S\nsources:\n  - {title: A, publisher: B, url: 'https://a.se/', read: 2026-12-02}\n",
                     "x.md", Diagnostics())
    meta = StepMeta.model_validate(doc.data)
    diags = Diagnostics()
    check_sources_read(meta, doc, diags, today=dt.date(2026, 12, 2))
    assert diags.items == []
    check_sources_read(meta, doc, diags, today=dt.date(2026, 12, 1))
    assert [(d.code, d.line) for d in diags.items] == [("STEP-006", 4)]


def test_advice_module__step_without_sources__step_007_at_title(program):
    root = program({MODULE: lambda t: t + "sources_required: true\n"})
    hits = [h for h in found(root) if h[0] == "STEP-007"]
    assert hits == [("STEP-007", WELCOME, 2), ("STEP-007", GOAL, 2)]
    d = next(d for d in diagnose(root) if d.code == "STEP-007")
    assert d.severity == "warning"


def test_advice_module__step_with_sources_or_opting_out__no_step_007(program):
    root = program({MODULE: lambda t: t + "sources_required: true\n", GOAL: front(*SOURCE),
                    WELCOME: front("sources_required: false")})
    assert [h for h in found(root) if h[0] == "STEP-007"] == []


def test_step_requiring_sources_in_other_module__step_007(program):
    root = program({MORE: front("sources_required: true")})
    assert ("STEP-007", MORE, 2) in found(root)


def test_modules_without_setting__no_step_007(program):
    assert "STEP-007" not in {h[0] for h in found(program())}


def test_source_line_in_body__step_008_at_its_line(program):
    root = program({WELCOME: lambda t: t + "\nKällor: 1177 och Folkhälsomyndigheten.\n"})
    d = next(d for d in diagnose(root) if d.code == "STEP-008")
    assert (d.path, d.line) == (WELCOME, 22)
    assert "Källor: 1177" in d.message


def test_word_källa_inside_sentence__no_step_008(program):
    root = program({WELCOME: lambda t: t + "\nEn bra källa: 1177.\n\n## Källor\n\nSe nedan.\n"})
    assert "STEP-008" not in {h[0] for h in found(root)}
