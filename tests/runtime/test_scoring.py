"""Issue 17 in the runtime, through HTTP: scores only from complete answers, AUDIT-C bands by
the sex the therapist sets, and exclusive options refused with another.

The test program here is the minimal fixture plus an AUDIT-C style form "alkohol" (bands
by sex; the third question optional, so that a patient can skip it) with a multi question
whose "Inget av detta" option is exclusive, embedded in the step "Mitt mål".
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from runtime.models import Enrolment, EnrolmentEvent, FormSubmission
from tests.runtime.conftest import ROOT, build_package

ALKOHOL = """\
title: Alkohol
flag_on_submit: true
questions:
  - id: hur-ofta
    type: single
    label: Hur ofta dricker du alkohol?
    required: true
    options:
      - {value: aldrig, label: Aldrig, points: 0}
      - {value: manad, label: En gång i månaden, points: 1}
      - {value: vecka, label: 2–3 gånger i veckan, points: 3}
  - id: glas
    type: single
    label: Hur många glas en vanlig dag?
    required: true
    show_if: {question: hur-ofta, any_of: [manad, vecka]}
    options:
      - {value: 1-2, label: 1–2 glas, points: 0}
      - {value: 3-4, label: 3–4 glas, points: 1}
  - id: sex-glas
    type: single
    label: Hur ofta dricker du sex glas eller fler?
    show_if: {question: hur-ofta, any_of: [manad, vecka]}
    options:
      - {value: aldrig, label: Aldrig, points: 0}
      - {value: varje-vecka, label: Varje vecka, points: 3}
  - id: varfor
    type: multi
    label: Varför dricker du?
    help: Välj så många du vill.
    options:
      - {value: fest, label: På fest}
      - {value: mat, label: Till maten}
      - {value: inget, label: Inget av detta, exclusive: true}
scoring:
  questions: [hur-ofta, glas, sex-glas]
  bands_by_sex:
    kvinna:
      - {min: 0, max: 3, label: Under gränsen för riskbruk}
      - {min: 4, max: 7, label: Tyder på riskbruk}
    man:
      - {min: 0, max: 4, label: Under gränsen för riskbruk}
      - {min: 5, max: 7, label: Tyder på riskbruk}
"""

FORM = "/moment/{e}/steg/start/mitt-mal/formular/alkohol"
FOUR = {"_action": "submit", "hur-ofta": "vecka", "glas": "3-4", "sex-glas": "aldrig"}  # 3 + 1 + 0


@pytest.fixture(scope="module")
def built_packages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The minimal test program with the "alkohol" form (replaces the suite's package for this module)."""
    source = tmp_path_factory.mktemp("scoring-src") / "minimal"
    shutil.copytree(ROOT / "tests" / "fixtures" / "minimal", source)
    (source / "forms" / "alkohol.yaml").write_text(ALKOHOL, "utf-8")
    step = source / "modules" / "01-start" / "02-mitt-mal.md"
    step.write_text(step.read_text("utf-8").replace("::: form mal\n:::\n", "::: form mal\n:::\n\n::: form alkohol\n:::\n"),
                    "utf-8")
    out = tmp_path_factory.mktemp("scoring-packages")
    build_package(source, out)
    for zip_file in out.glob("*.zip"):
        zip_file.unlink()
    return out


def submissions(app) -> list[FormSubmission]:
    with app.state.stegvis.db.session() as db:
        return list(db.scalars(select(FormSubmission).where(FormSubmission.form_id == "alkohol")))


def review_section(tove, e: int) -> str:
    page = tove.get(f"/personal/moment/{e}").text
    start = page.index('id="formular-alkohol"')
    return page[start:page.index("</section>", start)]


def set_sex(tove, e: int, sex: str):
    return tove.post(f"/personal/moment/{e}/anpassa", {"_section": "bedomning", "scoring_sex": sex})


def test_audit_c_skipped_question__ofullstandigt_not_a_band(app, people, anna, login_as):
    e = people.enrolment_a
    response = anna.post(FORM.format(e=e), {"_action": "submit", "hur-ofta": "manad", "glas": "1-2"})
    assert response.status_code == 303
    [row] = submissions(app)
    assert (row.score, row.score_band) == (None, None)  # not 1 point, "Under gränsen"
    tove = login_as("tove")
    assert set_sex(tove, e, "kvinna").status_code == 303
    answers = review_section(tove, e)
    assert "Poäng: <strong>ofullständigt</strong>" in answers
    assert "frågan ”Hur ofta dricker du sex glas eller fler?” inte är besvarad" in answers
    assert "Under gränsen" not in answers and "Poäng: <strong>1</strong>" not in answers
    flags = tove.get(f"/personal/moment/{e}").text
    assert "Formuläret ”Alkohol”, poängen är ofullständig." in flags


def test_audit_c_first_answer_never__hidden_questions_count_as_zero(app, people, anna, login_as):
    e = people.enrolment_a
    tove = login_as("tove")
    set_sex(tove, e, "man")
    assert anna.post(FORM.format(e=e), {"_action": "submit", "hur-ofta": "aldrig"}).status_code == 303
    [row] = submissions(app)
    assert row.score == 0.0 and row.score_band == "Under gränsen för riskbruk (under gränsvärdet 5 för män)"
    assert "Poäng: <strong>0</strong> – Under gränsen för riskbruk (under gränsvärdet 5 för män)" \
        in review_section(tove, e)


def test_audit_c_four_points__risk_for_a_woman_not_for_a_man_and_the_threshold_named(app, people, anna, login_as):
    e = people.enrolment_a
    assert anna.post(FORM.format(e=e), FOUR).status_code == 303
    [row] = submissions(app)
    assert row.score == 4.0 and row.score_band is None  # sex not set when it was sent
    tove = login_as("tove")
    unset = review_section(tove, e)
    assert ("Poäng: <strong>4</strong> – Kön för bedömningen är inte angivet – för kvinnor: Tyder på riskbruk "
            "(gränsvärde 4); för män: Under gränsen för riskbruk (under gränsvärdet 5)") in unset

    page = tove.get(f"/personal/moment/{e}/anpassa").text
    assert "Kön vid bedömning av poäng" in page and 'value="" checked' in page
    assert set_sex(tove, e, "kvinna").headers["location"].endswith("sparat=bedomning")
    woman = review_section(tove, e)
    assert "Poäng: <strong>4</strong> – Tyder på riskbruk (gränsvärde 4 för kvinnor)" in woman

    set_sex(tove, e, "man")
    man = review_section(tove, e)
    assert "Poäng: <strong>4</strong> – Under gränsen för riskbruk (under gränsvärdet 5 för män)" in man
    assert "Tyder på riskbruk" not in man

    with app.state.stegvis.db.session() as db:
        assert db.get(Enrolment, e).scoring_sex == "man"
        texts = [ev.detail for ev in db.scalars(select(EnrolmentEvent).where(EnrolmentEvent.enrolment_id == e))]
    assert any("Kön vid bedömning av poäng: ej angivet → kvinna" in t for t in texts), texts


def test_scoring_sex__stored_band_names_the_threshold_when_set_before_sending(app, people, anna, login_as):
    e = people.enrolment_a
    set_sex(login_as("tove"), e, "kvinna")
    anna.post(FORM.format(e=e), FOUR)
    [row] = submissions(app)
    assert row.score_band == "Tyder på riskbruk (gränsvärde 4 för kvinnor)"


def test_scoring_sex__unknown_value_refused_and_only_the_therapist_may_set_it(app, people, anna, login_as):
    e = people.enrolment_a
    tove = login_as("tove")
    bad = set_sex(tove, e, "annat")
    assert bad.status_code == 422 and "Välj kvinna, man eller ej angivet." in bad.text
    assert set_sex(anna, e, "kvinna").status_code in (401, 403, 404)
    with app.state.stegvis.db.session() as db:
        assert db.get(Enrolment, e).scoring_sex is None


def test_exclusive_option_with_another__422_with_the_swedish_message_at_the_field(app, people, anna):
    e = people.enrolment_a
    page = anna.get(FORM.format(e=e).rsplit("/formular", 1)[0]).text
    assert "Välj så många du vill. Om du väljer ”Inget av detta” ska du inte välja något annat alternativ." in page
    response = anna.post(FORM.format(e=e), {**FOUR, "varfor": ["fest", "inget"]})
    assert response.status_code == 422
    message = "Du kan inte välja ”Inget av detta” tillsammans med något annat. Välj bara det, eller ta bort det."
    assert message in response.text and 'aria-invalid="true"' in response.text
    assert submissions(app) == []
    api = anna.api("POST", f"/api/v1/enrolments/{e}/forms/alkohol/submissions",
                   {"answers": {"hur-ofta": "aldrig", "varfor": ["inget", "mat"]}})
    assert api.status_code == 422 and api.json()["errors"] == {"varfor": message}
    alone = anna.post(FORM.format(e=e), {**FOUR, "varfor": ["inget"]})
    assert alone.status_code == 303 and submissions(app)[0].answers["varfor"] == ["inget"]
