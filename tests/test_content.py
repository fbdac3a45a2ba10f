"""The real FRAMÅT program stays whole and plain (issues #2 and #3).

A module that loses its steps or a form that loses its questions fails here, as
does a step whose language drifts over the LIX limits.
"""

from __future__ import annotations

import re
import statistics

import pytest

from builder.diagnostics import Diagnostics
from builder.lix import step_lix
from builder.pipeline import check_dir
from tests.conftest import ROOT

CORE = ["introduktion", "ta-vara-pa-livet", "fysisk-aktivitet", "relationer", "aktivitet", "mat",
        "aterhamtning-och-somn", "tobak-alkohol-droger", "inspiration-och-fakta"]
DEEPENING = ["hantera-smarta", "hantera-stress", "arbete", "uppfoljning"]
TITLES = ["Introduktion till programmet", "Att ta vara på livet", "F – fysisk aktivitet", "R – relationer",
          "A – aktivitet", "M – mat", "Å – återhämtning och sömnskola", "T – tobak, alkohol och droger",
          "Inspiration och fakta till programmet", "Att hantera smärta", "Att hantera stress",
          "Att behålla eller återkomma till arbete", "Uppföljning"]
PLANS = {"fysiska-rorelser": "Min plan – fysiska rörelser", "malsattning-steg": "Min målsättning för antal steg per dag",
         "antal-steg": "Antal steg under dagen", "somndagbok": "Min sömndagbok", "smartdagbok": "Smärtdagbok"}


@pytest.fixture(scope="module")
def framat():
    diags = Diagnostics()
    program = check_dir(ROOT / "content", diags, strict=True)
    assert program is not None and not diags.items, [f"{d.path}:{d.line} {d.code} {d.message}" for d in diags.items]
    return program


def test_framat__identity(framat):
    assert (framat.meta.id, framat.meta.version, framat.meta.publisher) == ("framat", "1.0.0", "Region Västerbotten")


def test_framat__all_13_modules_in_order_with_kind_and_start(framat):
    assert [m.id for m in framat.modules] == CORE + DEEPENING
    assert [m.meta.title for m in framat.modules] == TITLES
    for m in framat.modules:
        expected = ("core", "current") if m.id in CORE else ("deepening", "upcoming")
        assert (m.meta.kind, m.meta.start) == expected, m.id


def test_framat__every_module_has_sections_and_at_least_4_steps(framat):
    for m in framat.modules:
        assert len(m.steps) >= 4, m.id
        assert len(m.sections) >= 2, m.id


def _words(step) -> int:
    return step_lix(step)[1]


def test_framat__text_steps_120_to_450_words_and_15000_in_all(framat):
    counts = {s.path: _words(s) for s in framat.steps}
    assert sum(counts.values()) >= 15000
    out_of_range = {p: n for p, n in counts.items() if not 120 <= n <= 450}
    assert not out_of_range


def test_framat__plain_swedish_lix(framat):
    values = {s.path: step_lix(s)[0] for s in framat.steps}
    assert statistics.median(values.values()) <= 40
    assert max(values.values()) <= 50, max(values.items(), key=lambda kv: kv[1])


def test_framat__numbers_have_sources(framat):
    """A step that states a figure (minutes, grams, hours, glasses) says where it comes from (issue 17)."""
    figure = re.compile(r"\b\d+(?:[,–-]\d+)?\s*(?:minuter|gram|g\b|timmar|standardglas|procent|%|liter|dagar i veckan)")
    missing = [s.path for s in framat.steps if figure.search(s.source.body) and not s.meta.sources]
    assert not missing


#: The modules that give advice (issue 17): modules 3–8 and 10–12.
ADVICE = ["fysisk-aktivitet", "relationer", "aktivitet", "mat", "aterhamtning-och-somn", "tobak-alkohol-droger",
          "hantera-smarta", "hantera-stress", "arbete"]


def test_framat__advice_modules_require_sources_and_every_step_names_them(framat):
    assert [m.id for m in framat.modules if m.meta.sources_required] == ADVICE
    for m in framat.modules:
        if m.id in ADVICE:
            for s in m.steps:
                assert s.meta.sources, s.path
                assert all(src.url.startswith("https://") for src in s.meta.sources), s.path
    assert not [s.path for s in framat.steps if re.search(r"^Källa:", s.source.body, re.M)]


def test_framat__forms_and_writing_tasks(framat):
    forms = framat.forms
    assert len(forms) >= 10
    assert all(fd.form.questions for fd in forms.values())
    assert any(fd.form.required for fd in forms.values())
    assert sum(fd.form.page_comments for fd in forms.values()) >= 3
    assert any(fd.form.flag_on_submit for fd in forms.values())
    scored = forms["alkoholvanor"].form.scoring
    # AUDIT-C: the risk limit is 4 points for women and 5 for men (issue 17).
    assert scored is not None and scored.bands_by_sex is not None
    assert [b.min for b in scored.bands_by_sex.kvinna] == [0, 4] and [b.min for b in scored.bands_by_sex.man] == [0, 5]
    baseline, follow_up = forms["halsoprofil"].form, forms["halsoprofil-uppfoljning"].form
    # The follow-up repeats every question so the answers compare; only the closing writing task
    # differs (at the start: what to change; at the end: what changed and what to keep doing).
    same = [q.model_dump() for q in baseline.questions[:-1]]
    assert [q.model_dump() for q in follow_up.questions[:len(same)]] == same
    assert baseline.questions[-1].id not in {q.id for q in follow_up.questions}


def test_framat__forms_spread_over_modules(framat):
    modules_with_forms = {s.module_id for s in framat.steps if any(d.name == "form" for d in s.body.directives)}
    assert len(modules_with_forms) >= 10


def test_framat__activity_plans_inactive_until_activated(framat):
    assert {pid: pd.plan.title for pid, pd in framat.plans.items()} == PLANS
    for pd in framat.plans.values():
        assert pd.plan.schedule.activated is False
        assert pd.plan.results is not None
    assert framat.plans["antal-steg"].plan.results.goal_from.plan == "malsattning-steg"


def test_framat__sleep_and_pain_diaries_are_daily_plans(framat):
    """Issue 17: the diaries are activity plans registered every day, no longer one-off forms."""
    week = {"måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag"}
    sleep, pain = framat.plans["somndagbok"].plan, framat.plans["smartdagbok"].plan
    for plan in (sleep, pain):
        assert set(plan.schedule.days) == week and plan.schedule.activated is False
    types = {f.id: f.type for f in sleep.fields}
    assert types["lade-mig"] == types["steg-upp"] == "time"
    assert types["somna"] == types["vaken"] == types["sovtid"] == "duration"
    assert sleep.results.field == "lade-mig"
    pain_types = {f.id: f.type for f in pain.fields}
    assert pain_types["smartniva"] == "scale" and pain_types["somn"] == "single"
    assert pain.results.field == "smartniva"
    assert "somndagbok" not in framat.forms and "smartdagbok" not in framat.forms
    steps = {s.id: s for s in framat.steps}
    for step_id in ("somndagbok", "smartdagbok"):
        step = steps[step_id]
        assert not [d for d in step.body.directives if d.name == "form"]
        assert "aktivitetsplan" in step.source.body and "Dina aktivitetsplaner" in step.source.body
    assert "”Min sömndagbok”" in steps["somndagbok"].source.body


def test_framat__sleep_school_and_film(framat):
    sleep = next(m for m in framat.modules if m.id == "aterhamtning-och-somn")
    assert "Sömnskola" in [s.title for s in sleep.sections]
    films = [d for s in framat.steps for d in s.body.directives if d.name == "video"]
    # Issue 17: the film is made from a storyboard of the program's own pictures, not a dead URL.
    assert films and all(d.arg in framat.films for d in films)
    for film in framat.films.values():
        assert 5 <= len(film.storyboard.scenes) <= 8
        assert all(s.image.startswith("bilder/") and s.alt.strip() and s.narration.strip() for s in film.storyboard.scenes)
