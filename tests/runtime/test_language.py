"""Programs in more languages in the runtime (issue 18): pairing, serving, answers, choosing the language.

Requirements tested here:
- L1 the package store pairs a translation package with exactly the program version it
  translates (manifest.translation and base), verified like any package: not one of
  another program or version, not one built against other base content, not a tampered one;
- L2 an enrolment in Finnish is served from the translation where it has the step, form or
  plan, else from the Swedish package with a note in Finnish; the patient-file rules hold
  for translation packages (staff and source files never, hidden steps never);
- L3 answers are the same in every language: given in Swedish they show in the Finnish form,
  and a form sent in Finnish scores and flags exactly as in Swedish; staff pages stay Swedish;
- L4 the therapist chooses the language at the start and on the enrolment page, the patient
  on "Mina uppgifter"; an unknown language or one without a package is refused; changes are
  recorded and access-logged; the API has the language and serves forms in it.

The fixture program is tests/fixtures/minimal (testprogram 0.1.0) with its Finnish translation
tests/fixtures/minimal-fi (testprogram-fi 0.1.0): module "start" with step "mitt-mal", the form
"mal", both activity plans and the contacts are translated; step "valkommen" and module "fordjupning" are not.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from runtime.models import AccessLogEntry, Enrolment, EnrolmentEvent, Flag, FlagKind, FormSubmission
from runtime.packages import PackageStore
from tests.runtime.conftest import ROOT, build_fixture_packages, build_package

FI = "testprogram-fi"


@pytest.fixture(scope="session")
def language_packages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test program and its Finnish translation, built once per run (read-only for tests)."""
    return build_fixture_packages(tmp_path_factory.mktemp("language-packages"), "minimal", "minimal-fi")


@pytest.fixture
def packages(language_packages: Path, tmp_path: Path) -> Path:
    """A private copy of both packages (the app fixture of conftest serves this folder)."""
    target = tmp_path / "packages"
    shutil.copytree(language_packages, target)
    return target


def _edit_manifest(folder: Path, change) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text("utf-8"))
    change(manifest)
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), "utf-8")


def _set_language(app, eid: int, code: str) -> None:
    with app.state.stegvis.db.session() as db:
        db.get(Enrolment, eid).language = code


# --- L1: pairing -------------------------------------------------------------------------------


def test_store__pairs_the_translation_with_its_program_version__ok(packages):
    store = PackageStore(packages)
    report = store.scan()
    assert report.refused == {}
    paired = store.translations("testprogram", "0.1.0")
    assert list(paired) == ["fi"]
    assert paired["fi"].program_id == FI and paired["fi"].translation.language == "fi"
    assert store.translation("testprogram", "0.1.0", "fi") is paired["fi"]
    assert store.translation("testprogram", "0.1.0", "en") is None
    assert store.translations("testprogram", "0.2.0") == {}
    assert store.translations(FI, "0.1.0") == {}  # a translation has no translations of its own


@pytest.mark.parametrize("change", [
    pytest.param(lambda m: m["translation"].update({"of": "annat-program"}) or m["base"].update(id="annat-program"),
                 id="another-program"),
    pytest.param(lambda m: m["translation"].update({"version": "0.2.0"}) or m["base"].update(version="0.2.0"),
                 id="another-version"),
    pytest.param(lambda m: m["base"].update(content_hash="0" * 64), id="other-base-content"),
    pytest.param(lambda m: m["translation"].update({"language": "FI; drop"}), id="bad-language-code"),
    pytest.param(lambda m: m["translation"].update({"language": "sv"}), id="swedish-is-not-a-translation"),
    pytest.param(lambda m: m["base"].update(version="9.9.9"), id="manifest-contradicts-itself"),
])
def test_store__translation_of_something_else__not_paired(packages, change):
    _edit_manifest(packages / FI / "0.1.0", change)
    store = PackageStore(packages)
    assert store.scan().refused == {}  # verified and served, just not a translation of testprogram 0.1.0
    assert store.get(FI, "0.1.0") is not None
    assert store.translations("testprogram", "0.1.0") == {}


def test_store__tampered_translation__refused_and_not_paired(packages):
    fragment = packages / FI / "0.1.0" / "fragments" / "start" / "mitt-mal.json"
    fragment.write_text(fragment.read_text("utf-8").replace("Tavoitteeni", "Tavoitteeni!"), "utf-8")
    store = PackageStore(packages)
    report = store.scan()
    assert f"{FI}/0.1.0" in report.refused
    assert store.translations("testprogram", "0.1.0") == {}


def test_store__newest_translation_of_a_language_wins(packages, tmp_path):
    work = tmp_path / "fixtures"
    shutil.copytree(ROOT / "tests" / "fixtures" / "minimal", work / "minimal")
    shutil.copytree(ROOT / "tests" / "fixtures" / "minimal-fi", work / "minimal-fi")
    with (work / "minimal-fi" / "program.yaml").open("a", encoding="utf-8") as handle:
        handle.write("version: 0.1.1\n")
    build_package(work / "minimal-fi", packages)
    store = PackageStore(packages)
    assert store.scan().refused == {}
    assert store.get(FI, "0.1.0") is not None
    assert store.translation("testprogram", "0.1.0", "fi").version == "0.1.1"


# --- L2: serving in the enrolment's language ---------------------------------------------------------


def test_start_page__in_finnish__translated_titles_and_untranslated_marked(app, people, anna):
    _set_language(app, people.enrolment_a, "fi")
    page = anna.get(f"/moment/{people.enrolment_a}").text
    assert "Testiohjelma" in page and ">Alku<" in page and ">Aloita<" in page
    assert ">Tavoitteeni</a>" in page
    # The untranslated step keeps its Swedish title, marked as Swedish, with a tag in Finnish.
    assert re.search(r'<a href="[^"]*/steg/start/valkommen" lang="sv">Välkommen</a> '
                     r'<span class="rt-tag rt-untranslated">Ruotsiksi</span>', page)
    assert '<html lang="fi"' in page


def test_start_page__in_swedish__no_translation_marks(app, people, anna):
    page = anna.get(f"/moment/{people.enrolment_a}").text
    assert "Testprogrammet" in page and ">Mitt mål</a>" in page
    assert "rt-untranslated" not in page and "Tavoitteeni" not in page


def test_step__translated__finnish_text_form_and_files_from_the_translation(app, people, anna):
    _set_language(app, people.enrolment_a, "fi")
    page = anna.get(f"/moment/{people.enrolment_a}/steg/start/mitt-mal").text
    assert '<article class="step" lang="fi">' in page
    assert "Kirjoita tavoitteesi tähän alle." in page and "Skriv ditt mål här nedan." not in page
    for text in ("Tupakoitko?", "Kyllä", "Jaksaminen", "Kirjoita omin sanoin.", "Vastaa niin hyvin kuin osaat.",
                 "viisi minuuttia"):
        assert text in page, text
    assert "Röker du?" not in page and "rt-untranslated" not in page
    # The form's image and the film's captions are the translation package's files.
    image = re.search(r'src="\.\./\.\./(sprak/fi/media/bilder/sol\.[0-9a-f]+\.svg)"', page)
    assert image is not None
    assert anna.get(f"/moment/{people.enrolment_a}/{image.group(1)}").status_code == 200
    captions = re.search(r'src="\.\./\.\./(sprak/fi/media/film/test\.sv\.[0-9a-f]+\.vtt)"', page)
    assert captions is not None
    assert anna.get(f"/moment/{people.enrolment_a}/{captions.group(1)}").status_code == 200


def test_step__not_translated__swedish_with_a_note_in_finnish(app, people, anna):
    _set_language(app, people.enrolment_a, "fi")
    page = anna.get(f"/moment/{people.enrolment_a}/steg/start/valkommen").text
    assert '<article class="step" lang="sv">' in page
    assert "Det här är ett kort steg." in page
    assert "Tätä osaa ei ole vielä käännetty kielellesi, joten se näytetään ruotsiksi." in page
    assert '<html lang="fi"' in page
    # Its files are the Swedish package's.
    assert re.search(r'src="\.\./\.\./filer/media/bilder/sol\.[0-9a-f]+\.svg"', page)


def test_step__outdated_translation__shown_with_the_builders_note(tmp_path, app, people, anna):
    """A translated step whose Swedish source changed since is still shown translated, with the builder's note."""
    work = tmp_path / "fixtures"
    shutil.copytree(ROOT / "tests" / "fixtures" / "minimal", work / "minimal")
    shutil.copytree(ROOT / "tests" / "fixtures" / "minimal-fi", work / "minimal-fi")
    step = work / "minimal" / "modules" / "01-start" / "02-mitt-mal.md"
    step.write_text(step.read_text("utf-8").replace("Skriv ditt mål här nedan.", "Skriv ditt eget mål nedan."),
                    "utf-8")
    out = tmp_path / "out"
    build_package(work / "minimal-fi", out)
    target = app.state.stegvis.store.root / FI / "0.1.0"
    shutil.rmtree(target)
    shutil.copytree(out / FI / "0.1.0", target)
    # Built against changed base content: the store does not pair it with the served base...
    app.state.stegvis.store.scan()
    assert app.state.stegvis.store.translations("testprogram", "0.1.0") == {}
    # ...unless the base it was built against is the one served (rebuild the base too).
    build_package(work / "minimal", out)
    base = app.state.stegvis.store.root / "testprogram" / "0.1.0"
    shutil.rmtree(base)
    shutil.copytree(out / "testprogram" / "0.1.0", base)
    app.state.stegvis.store.scan()
    translation = app.state.stegvis.store.translation("testprogram", "0.1.0", "fi")
    assert translation.translation.outdated == frozenset({"modules/01-start/02-mitt-mal.md"})
    _set_language(app, people.enrolment_a, "fi")
    page = anna.get(f"/moment/{people.enrolment_a}/steg/start/mitt-mal").text
    assert "Kirjoita tavoitteesi tähän alle." in page
    assert "Käännös voi olla vanhempi kuin ruotsinkielinen teksti." in page
    assert "rt-untranslated" not in page


def test_plan__translated_texts__registration_works(app, people, anna):
    _set_language(app, people.enrolment_a, "fi")
    url = f"/moment/{people.enrolment_a}/aktivitetsplaner/{people.plans_a['steg']}"
    page = anna.get(url).text
    assert "<h1>Askelmäärä</h1>" in page and "Kirjoita askeleesi." in page
    assert "rt-untranslated" not in page


def test_api__language_titles_and_forms_in_it(app, people, anna):
    _set_language(app, people.enrolment_a, "fi")
    listed = anna.api("GET", "/api/v1/enrolments").json()
    mine = next(e for e in listed if e["id"] == people.enrolment_a)
    assert (mine["language"], mine["program_title"]) == ("fi", "Testiohjelma")
    enrolment = anna.api("GET", f"/api/v1/enrolments/{people.enrolment_a}").json()
    titles = [s["title"] for m in enrolment["modules"] for sec in m["sections"] for s in sec["steps"]]
    assert titles == ["Välkommen", "Tavoitteeni"]
    form = anna.api("GET", f"/api/v1/enrolments/{people.enrolment_a}/forms/mal").json()
    roker = next(q for q in form["definition"]["questions"] if q["id"] == "roker")
    assert roker["label"] == "Tupakoitko?" and [o["label"] for o in roker["options"]] == ["Kyllä", "En"]
    assert "scoring" not in form["definition"] and "points" not in roker["options"][0]
    step = anna.api("GET", f"/api/v1/enrolments/{people.enrolment_a}/steps/start/mitt-mal").json()
    assert step["title"] == "Tavoitteeni"
    plans = anna.api("GET", f"/api/v1/enrolments/{people.enrolment_a}/plans").json()
    assert sorted(p["title"] for p in plans) == ["Askelmäärä", "Askeltavoitteeni"]
    plan = anna.api("GET", f"/api/v1/enrolments/{people.enrolment_a}/plans/{people.plans_a['steg']}").json()
    assert plan["definition"]["fields"][0]["label"] == "Askelmäärä"


# --- L2: patient files of a translation package --------------------------------------------------------


def test_translation_files__staff_and_source_files__never(app, people, anna):
    _set_language(app, people.enrolment_a, "fi")
    base = f"/moment/{people.enrolment_a}/sprak/fi"
    for rel in ("program.json", "manifest.json", "formular/mal.html", "start/mitt-mal.html", "index.html",
                "fhir/Questionnaire-mal.json", "source/forms/mal.yaml", "source/program.yaml",
                "aktivitetsplaner/steg.html", "../../testprogram/0.1.0/program.json", "finns-inte.txt"):
        assert anna.get(f"{base}/{rel}").status_code == 404, rel
    assert anna.get(f"{base}/fragments/start/mitt-mal.json").status_code == 200
    assert anna.get(f"/moment/{people.enrolment_a}/sprak/en/fragments/start/mitt-mal.json").status_code == 404


def test_translation_files__hidden_step__never(app, people, anna, tove):
    _set_language(app, people.enrolment_a, "fi")
    fragment = f"/moment/{people.enrolment_a}/sprak/fi/fragments/start/mitt-mal.json"
    assert anna.get(fragment).status_code == 200
    page = tove.get(f"/personal/moment/{people.enrolment_a}/anpassa").text
    assert 'name="steg:start/mitt-mal"' in page
    saved = tove.post(f"/personal/moment/{people.enrolment_a}/anpassa",
                      {"_section": "innehall", "steg:start/mitt-mal": "dolt", "steg:start/valkommen": "synligt",
                       "modul:start": "aktuell"})
    assert saved.status_code == 303
    assert anna.get(fragment).status_code == 404
    assert anna.get(f"/moment/{people.enrolment_a}/steg/start/mitt-mal").status_code == 404
    # The translated form's image is used only by the hidden step: not served either.
    image = next(rel for rel in app.state.stegvis.store.get(FI, "0.1.0").files if rel.startswith("media/bilder/sol"))
    assert anna.get(f"/moment/{people.enrolment_a}/sprak/fi/{image}").status_code == 404


def test_translation_files__another_patient__never(app, people, anna, bertil):
    fragment = f"/moment/{people.enrolment_a}/sprak/fi/fragments/start/mitt-mal.json"
    assert bertil.get(fragment).status_code == 404


# --- L3: answers are the same in every language ----------------------------------------------------------


ANSWERS = {"_form": "mal", "mal": "Gå mer", "roker": "ja", "antal": "5", "hinder": ["tid", "ork"], "viktigt": "3"}


def _submission(app, eid: int) -> FormSubmission:
    with app.state.stegvis.db.session() as db:
        row = db.scalars(select(FormSubmission).where(FormSubmission.enrolment_id == eid)
                         .order_by(FormSubmission.id.desc())).first()
        db.expunge(row)
        return row


def test_answers__given_in_swedish__shown_in_the_finnish_form(app, people, anna):
    step = f"/moment/{people.enrolment_a}/steg/start/mitt-mal"
    assert anna.post(step, {**ANSWERS, "_action": "draft"}).status_code == 303
    _set_language(app, people.enrolment_a, "fi")
    page = anna.get(step).text
    assert "Tupakoitko?" in page
    assert re.search(r'<input type="radio"[^>]*name="roker" value="ja"[^>]*checked', page)
    assert re.search(r'name="hinder" value="ork"[^>]*checked', page)
    assert "Gå mer</textarea>" in page


def test_answers__sent_in_finnish__score_and_flag_as_in_swedish(app, people, anna, bertil, tove):
    """Patient A sends the form in Finnish, patient B the same answers in Swedish: the same score, band and flag."""
    _set_language(app, people.enrolment_a, "fi")
    for browser, eid in ((anna, people.enrolment_a), (bertil, people.enrolment_b)):
        sent = browser.post(f"/moment/{eid}/steg/start/mitt-mal", {**ANSWERS, "_action": "submit"})
        assert sent.status_code == 303, sent.text[:500]
    finnish, swedish = _submission(app, people.enrolment_a), _submission(app, people.enrolment_b)
    assert finnish.answers == swedish.answers
    assert (finnish.score, finnish.score_band) == (swedish.score, swedish.score_band)
    assert finnish.score is not None
    with app.state.stegvis.db.session() as db:
        flags = {f.enrolment_id: f.detail for f in db.scalars(select(Flag).where(Flag.kind == FlagKind.form_submitted))}
    assert flags == {people.enrolment_a: "Mitt mål", people.enrolment_b: "Mitt mål"}  # the Swedish title
    # Staff pages show the Swedish questions, whatever the patient's language.
    review = tove.get(f"/personal/moment/{people.enrolment_a}").text
    assert "Röker du?" in review and "Tupakoitko?" not in review


def test_answers__refused_in_finnish__errors_shown_on_the_finnish_form(app, people, anna):
    _set_language(app, people.enrolment_a, "fi")
    sent = anna.post(f"/moment/{people.enrolment_a}/steg/start/mitt-mal", {"_form": "mal", "_action": "submit",
                                                                          "roker": "kanske"})
    assert sent.status_code == 422
    assert "Tupakoitko?" in sent.text and "Kuvaile tavoitettasi" in sent.text


# --- L4: choosing the language -----------------------------------------------------------------------


START = {"personal_number": "194001079120", "display_name": "Greta Ny", "package": "testprogram/0.1.0"}


def test_staff_start__languages_listed__finnish_enrolment(app, people, tove):
    page = tove.get("/personal/moment/nytt").text
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', page.split('id="language"')[1])
    assert options[:2] == [("sv", "svenska"), ("fi", "finska (Suomi)")]
    assert "Finska finns för Testprogrammet 0.1.0." in page
    assert "testprogram-fi/" not in page  # a translation is never a program to enrol in
    started = tove.post("/personal/moment/nytt", {**START, "language": "fi"})
    assert started.status_code == 303
    eid = int(re.search(r"/personal/moment/(\d+)/", started.headers["location"]).group(1))
    with app.state.stegvis.db.session() as db:
        enrolment = db.get(Enrolment, eid)
        assert (enrolment.program_id, enrolment.language) == ("testprogram", "fi")
        event = db.scalars(select(EnrolmentEvent).where(EnrolmentEvent.enrolment_id == eid)).first()
        assert "Språk: finska." in event.detail


@pytest.mark.parametrize(("code", "message"), [
    ("en", "Programmet finns inte på engelska i den här versionen."),
    ("xx-!", "Välj ett språk i listan."),
    ("smj", "Programmet finns inte på lulesamiska i den här versionen."),
])
def test_staff_start__language_without_a_package__refused(app, people, tove, code, message):
    refused = tove.post("/personal/moment/nytt", {**START, "language": code})
    assert refused.status_code == 422
    assert message in refused.text
    with app.state.stegvis.db.session() as db:
        assert db.scalars(select(Enrolment).where(Enrolment.language == code)).first() is None


def test_staff_start__translation_package_as_program__refused(app, people, tove):
    refused = tove.post("/personal/moment/nytt", {**START, "package": f"{FI}/0.1.0"})
    assert refused.status_code == 422
    assert "Välj ett program och en version som lämnas ut." in refused.text


def test_staff_enrolment_page__change_language__recorded_and_logged(app, people, tove):
    url = f"/personal/moment/{people.enrolment_a}/anpassa"
    page = tove.get(url).text
    assert "Patienten läser programmet på svenska." in page
    assert tove.post(url, {"_section": "sprak", "language": "fi"}).status_code == 303
    assert "Patienten läser programmet på finska." in tove.get(url).text
    refused = tove.post(url, {"_section": "sprak", "language": "en"})
    assert refused.status_code == 422 and "Programmet finns inte på engelska" in refused.text
    with app.state.stegvis.db.session() as db:
        assert db.get(Enrolment, people.enrolment_a).language == "fi"
        texts = [e.detail for e in db.scalars(select(EnrolmentEvent).where(EnrolmentEvent.enrolment_id == people.enrolment_a))]
        # The seeded welcome text is the program's default, so it follows (see the welcome tests below).
        assert "Språk: svenska → finska; välkomsttexten följer med till finska." in texts
        assert db.scalars(select(AccessLogEntry).where(AccessLogEntry.enrolment_id == people.enrolment_a,
                                                       AccessLogEntry.action == "enrolment.customise")).first()


def test_staff_api__start_and_change_language(app, people, tove):
    started = tove.api("POST", "/api/v1/staff/enrolments", {**{k: v for k, v in START.items() if k != "package"},
                                                           "program_id": "testprogram", "version": "0.1.0",
                                                           "language": "fi"})
    assert started.status_code == 201, started.text
    assert started.json()["language"] == "fi"
    eid = started.json()["id"]
    changed = tove.api("PATCH", f"/api/v1/staff/enrolments/{eid}", {"language": "sv"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["language"] == "sv"
    refused = tove.api("PATCH", f"/api/v1/staff/enrolments/{eid}", {"language": "en"})
    assert refused.status_code == 422
    assert refused.json()["errors"]["language"].startswith("Programmet finns inte på engelska")


def test_patient_settings__choose_finnish__pages_follow_and_logged(app, people, anna):
    page = anna.get("/mina-uppgifter").text
    select_html = page.split(f'id="sprak-{people.enrolment_a}"')[1].split("</select>")[0]
    assert re.findall(r'<option value="(\w+)" lang="(\w+)"[^>]*>([^<]+)</option>', select_html) == [
        ("sv", "sv", "Svenska"), ("fi", "fi", "Suomi")]
    saved = anna.post("/mina-uppgifter/sprak", {"enrolment": str(people.enrolment_a), "language": "fi"})
    assert saved.status_code == 303
    assert '<html lang="fi"' in anna.get("/mina-uppgifter").text
    assert "Tavoitteeni" in anna.get(f"/moment/{people.enrolment_a}").text
    with app.state.stegvis.db.session() as db:
        assert db.get(Enrolment, people.enrolment_a).language == "fi"
        assert db.get(Enrolment, people.enrolment_b).language == "sv"
        texts = [e.detail for e in db.scalars(select(EnrolmentEvent).where(EnrolmentEvent.enrolment_id == people.enrolment_a))]
        assert "Patienten bytte språk: svenska → finska." in texts
        logged = db.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "enrolment.language.update")).all()
        assert [(r.enrolment_id, r.target) for r in logged] == [(people.enrolment_a, "language:fi")]


@pytest.mark.parametrize("code", ["en", "xx", "fi'><script>"])
def test_patient_settings__unavailable_language__refused(app, people, anna, code):
    _set_language(app, people.enrolment_a, "fi")
    refused = anna.post("/mina-uppgifter/sprak", {"enrolment": str(people.enrolment_a), "language": code})
    assert refused.status_code == 422
    assert "Valitse kieli luettelosta." in refused.text
    with app.state.stegvis.db.session() as db:
        assert db.get(Enrolment, people.enrolment_a).language == "fi"


def test_patient_settings__another_patients_enrolment__404(app, people, anna):
    refused = anna.post("/mina-uppgifter/sprak", {"enrolment": str(people.enrolment_b), "language": "fi"})
    assert refused.status_code == 404
    with app.state.stegvis.db.session() as db:
        assert db.get(Enrolment, people.enrolment_b).language == "sv"


def test_translation_removed__enrolment_in_finnish_reads_swedish(app, people, anna):
    _set_language(app, people.enrolment_a, "fi")
    shutil.rmtree(app.state.stegvis.store.root / FI)
    app.state.stegvis.store.scan()
    page = anna.get(f"/moment/{people.enrolment_a}/steg/start/mitt-mal").text
    assert "Skriv ditt mål här nedan." in page and "Röker du?" in page
    assert "Tätä osaa ei ole vielä käännetty kielellesi" in page


def test_translation_files__every_file_by_its_audience_and_the_base_rules(app, people, anna):
    """Each file of the translation package: staff and source never; a base file's scope holds in the translation.

    The translation ships the base's media, but a medium only its untranslated steps use has no
    `used_by` in the translation's manifest; the base's says whom it is for (andas.mp3: only
    the deepening module's step, which is not open to the patient), and that rule holds.
    """
    store = app.state.stegvis.store
    translation, base = store.get(FI, "0.1.0"), store.get("testprogram", "0.1.0")
    hidden_audio = next(rel for rel in translation.files if rel.startswith("media/ljud/andas.") and rel.endswith(".mp3"))
    assert translation.entry(hidden_audio).used_by is None and base.entry(hidden_audio).used_by == ["fordjupning/mer"]
    seen = {}
    for rel, entry in sorted(translation.manifest.files.items()):
        status = anna.get(f"/moment/{people.enrolment_a}/sprak/fi/{rel}").status_code
        seen[rel] = status
        if entry.audience.value != "patient" or rel == hidden_audio:
            assert status == 404, rel
        else:
            assert status == 200, rel
    assert sorted(set(seen.values())) == [200, 404]


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (the offline voice)")
def test_step__translated__readout_from_the_translation(tmp_path, app, people, anna):
    """With readouts, a translated step's MP3 and sentence cues are the translation's (Finnish voice), served to the patient."""
    from builder.config import BuildConfig
    from builder.diagnostics import Diagnostics
    from builder.pipeline import build_dir

    out = tmp_path / "out"
    outcome = build_dir(ROOT / "tests" / "fixtures" / "minimal-fi",
                        BuildConfig(out=out, audio=True, pdf=False, tts="espeak", cache=tmp_path / "cache",
                                    source_date_epoch=1700000000), Diagnostics())
    assert outcome.package is not None
    target = app.state.stegvis.store.root / FI / "0.1.0"
    shutil.rmtree(target)
    shutil.copytree(out / FI / "0.1.0", target)
    app.state.stegvis.store.scan()
    translation = app.state.stegvis.store.translation("testprogram", "0.1.0", "fi")
    readout = translation.step("start", "mitt-mal")[2]["readout"]
    assert translation.manifest.audio[readout["mp3"]]["voice"].startswith("fi")
    _set_language(app, people.enrolment_a, "fi")
    page = anna.get(f"/moment/{people.enrolment_a}/steg/start/mitt-mal").text
    assert f'src="../../sprak/fi/{readout["mp3"]}"' in page
    assert f'src="../../sprak/fi/{readout["cues"]}" srclang="fi"' in page
    for rel in (readout["mp3"], readout["cues"]):
        assert anna.get(f"/moment/{people.enrolment_a}/sprak/fi/{rel}").status_code == 200


# --- L2: program-wide files (brochure, program PDF) in the enrolment's language -------------------------


@pytest.fixture(scope="session")
def pdf_packages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test program and its Finnish translation with their PDFs (read-only for tests)."""
    from builder.config import BuildConfig
    from builder.diagnostics import Diagnostics
    from builder.pipeline import build_dir

    out = tmp_path_factory.mktemp("language-pdf-packages")
    for name in ("minimal", "minimal-fi"):
        diags = Diagnostics()
        outcome = build_dir(ROOT / "tests" / "fixtures" / name,
                            BuildConfig(out=out, audio=False, pdf=True, cache=out.parent / "language-pdf-cache",
                                        source_date_epoch=1700000000), diags)
        assert outcome.package is not None, [str(d) for d in diags.items]
    return out


def _serve(app, built: Path, *names: str) -> None:
    """Replace the served packages of these names by the built ones and read the store again."""
    store = app.state.stegvis.store
    for name in names:
        shutil.rmtree(store.root / name)
        shutil.copytree(built / name, store.root / name)
    assert store.scan().refused == {}


def _print_links(page: str) -> list[tuple[str, str, str]]:
    return re.findall(r'<p class="print-link"><a href="([^"]+)" type="application/pdf"([^>]*)>([^<]+)</a>', page)


def test_start_page__finnish_with_translated_pdfs__links_the_translations_brochure(app, people, anna, pdf_packages):
    _serve(app, pdf_packages, "testprogram", FI)
    _set_language(app, people.enrolment_a, "fi")
    page = anna.get(f"/moment/{people.enrolment_a}").text
    root = f"/moment/{people.enrolment_a}"
    # The whole-program PDF prints every step and is staff-only: never linked for the patient.
    assert _print_links(page) == [(f"{root}/sprak/fi/pdf/patientbroschyr.pdf", "", "Tietoa ohjelmasta PDF-tiedostona")]
    assert "rt-untranslated\">Tätä osaa" not in page
    brochure = anna.get(f"{root}/sprak/fi/pdf/patientbroschyr.pdf")
    assert brochure.status_code == 200 and brochure.content.startswith(b"%PDF")
    assert brochure.content == (pdf_packages / FI / "0.1.0" / "pdf" / "patientbroschyr.pdf").read_bytes()


def test_start_page__finnish_translation_without_pdfs__swedish_brochure_with_a_note(app, people, anna, pdf_packages):
    _serve(app, pdf_packages, "testprogram")  # the translation served is built without PDFs
    assert app.state.stegvis.store.translation("testprogram", "0.1.0", "fi") is not None
    _set_language(app, people.enrolment_a, "fi")
    page = anna.get(f"/moment/{people.enrolment_a}").text
    root = f"/moment/{people.enrolment_a}"
    assert _print_links(page) == [(f"{root}/filer/pdf/patientbroschyr.pdf", ' hreflang="sv"',
                                   "Tietoa ohjelmasta PDF-tiedostona")]
    assert ('<span class="rt-untranslated">Tätä osaa ei ole vielä käännetty kielellesi, '
            "joten se näytetään ruotsiksi.</span></p>") in page
    assert anna.get(f"{root}/filer/pdf/patientbroschyr.pdf").status_code == 200


def test_start_page__swedish__every_linked_program_file_can_be_fetched(app, people, anna, pdf_packages):
    _serve(app, pdf_packages, "testprogram", FI)
    page = anna.get(f"/moment/{people.enrolment_a}").text
    links = _print_links(page)
    assert links == [(f"/moment/{people.enrolment_a}/filer/pdf/patientbroschyr.pdf", "", "Om programmet som PDF")]
    assert "rt-untranslated" not in page
    assert anna.get(links[0][0]).status_code == 200
    assert anna.get(f"/moment/{people.enrolment_a}/filer/pdf/testprogram.pdf").status_code == 404


# --- L4: the welcome text and contacts in the enrolment's language -----------------------------------

WELCOME_SV = ("Välkommen till Testprogrammet!\n\nEtt litet program som prövar varje del av formatet.\n\n"
              "Börja med den första modulen. Skriv ett meddelande till din behandlare om du undrar något.")
WELCOME_FI = ("Tervetuloa ohjelmaan Testiohjelma!\n\nPieni ohjelma, joka kokeilee formaatin jokaista osaa.\n\n"
              "Aloita ensimmäisestä moduulista. Kirjoita viesti ammattilaiselle, jos sinulla on kysyttävää.")


def _welcome_and_contacts(app, eid: int) -> tuple[str, list[tuple[str, str | None]]]:
    with app.state.stegvis.db.session() as db:
        enrolment = db.get(Enrolment, eid)
        return enrolment.welcome_text, [(c.name, c.role) for c in enrolment.contacts]


def test_staff_start__in_finnish__welcome_and_contacts_from_the_translation(app, people, tove, anna):
    started = tove.post("/personal/moment/nytt", {**START, "language": "fi"})
    assert started.status_code == 303
    eid = int(re.search(r"/personal/moment/(\d+)/", started.headers["location"]).group(1))
    assert _welcome_and_contacts(app, eid) == (WELCOME_FI, [("1177", "Tekninen tuki")])


def test_staff_start__in_swedish__welcome_and_contacts_from_the_base(app, people, tove):
    started = tove.post("/personal/moment/nytt", {**START, "language": "sv"})
    assert started.status_code == 303
    eid = int(re.search(r"/personal/moment/(\d+)/", started.headers["location"]).group(1))
    assert _welcome_and_contacts(app, eid) == (WELCOME_SV, [("1177", "Teknisk hjälp")])


def test_staff_api__start_in_finnish__welcome_and_contacts_from_the_translation(app, people, tove):
    started = tove.api("POST", "/api/v1/staff/enrolments", {**{k: v for k, v in START.items() if k != "package"},
                                                           "program_id": "testprogram", "version": "0.1.0",
                                                           "language": "fi"})
    assert started.status_code == 201, started.text
    assert _welcome_and_contacts(app, started.json()["id"]) == (WELCOME_FI, [("1177", "Tekninen tuki")])


def test_staff_change_language__default_welcome_follows_both_ways(app, people, tove):
    url = f"/personal/moment/{people.enrolment_a}/anpassa"
    assert _welcome_and_contacts(app, people.enrolment_a)[0] == WELCOME_SV
    assert tove.post(url, {"_section": "sprak", "language": "fi"}).status_code == 303
    assert _welcome_and_contacts(app, people.enrolment_a)[0] == WELCOME_FI
    assert tove.post(url, {"_section": "sprak", "language": "sv"}).status_code == 303
    assert _welcome_and_contacts(app, people.enrolment_a)[0] == WELCOME_SV
    with app.state.stegvis.db.session() as db:
        texts = [e.detail for e in db.scalars(select(EnrolmentEvent).where(EnrolmentEvent.enrolment_id == people.enrolment_a))]
    assert "Språk: svenska → finska; välkomsttexten följer med till finska." in texts
    assert "Språk: finska → svenska; välkomsttexten följer med till svenska." in texts


def test_staff_change_language__edited_welcome_kept(app, people, tove):
    url = f"/personal/moment/{people.enrolment_a}/anpassa"
    assert tove.post(url, {"_section": "valkomst", "welcome_text": "Hej Anna! Välkommen."}).status_code == 303
    assert tove.post(url, {"_section": "sprak", "language": "fi"}).status_code == 303
    with app.state.stegvis.db.session() as db:
        enrolment = db.get(Enrolment, people.enrolment_a)
        assert (enrolment.language, enrolment.welcome_text) == ("fi", "Hej Anna! Välkommen.")
        texts = [e.detail for e in db.scalars(select(EnrolmentEvent).where(EnrolmentEvent.enrolment_id == people.enrolment_a))]
    assert "Språk: svenska → finska." in texts


def test_staff_api__language_and_welcome_in_one_change__the_written_welcome_wins(app, people, tove):
    changed = tove.api("PATCH", f"/api/v1/staff/enrolments/{people.enrolment_a}",
                       {"language": "fi", "welcome_text": "Hei Anna!"})
    assert changed.status_code == 200, changed.text
    assert _welcome_and_contacts(app, people.enrolment_a)[0] == "Hei Anna!"
    # The present welcome text sent back unchanged with a new language is no text of the therapist's own.
    changed = tove.api("PATCH", f"/api/v1/staff/enrolments/{people.enrolment_b}",
                       {"language": "fi", "welcome_text": WELCOME_SV})
    assert changed.status_code == 200, changed.text
    assert _welcome_and_contacts(app, people.enrolment_b)[0] == WELCOME_FI


def test_patient_settings__choose_finnish__default_welcome_follows_edited_kept(app, people, anna, tove):
    saved = anna.post("/mina-uppgifter/sprak", {"enrolment": str(people.enrolment_a), "language": "fi"})
    assert saved.status_code == 303
    assert _welcome_and_contacts(app, people.enrolment_a)[0] == WELCOME_FI
    assert "Tervetuloa ohjelmaan Testiohjelma!" in anna.get(f"/moment/{people.enrolment_a}").text
    url = f"/personal/moment/{people.enrolment_a}/anpassa"
    assert tove.post(url, {"_section": "valkomst", "welcome_text": "Hei Anna!"}).status_code == 303
    assert anna.post("/mina-uppgifter/sprak", {"enrolment": str(people.enrolment_a), "language": "sv"}).status_code == 303
    with app.state.stegvis.db.session() as db:
        enrolment = db.get(Enrolment, people.enrolment_a)
        assert (enrolment.language, enrolment.welcome_text) == ("sv", "Hei Anna!")


# --- L3: the staff preview shows the program in the enrolment's language --------------------------------


def test_staff_preview__finnish__program_texts_in_finnish_chrome_swedish(app, people, tove):
    _set_language(app, people.enrolment_a, "fi")
    root = f"/personal/moment/{people.enrolment_a}/forhandsvisning"
    page = tove.get(root).text
    assert "<h1>Testiohjelma</h1>" in page and ">Tavoitteeni</a>" in page
    assert "Patienten läser programmet på finska" in page
    assert '<html lang="sv"' in page and ">Dina moduler<" in page  # the page's own texts stay Swedish
    assert re.search(r'<a href="[^"]*/steg/start/valkommen" lang="sv">Välkommen</a> '
                     r'<span class="rt-tag rt-untranslated">På svenska</span>', page)
    step = tove.get(f"{root}/steg/start/mitt-mal").text
    assert '<article class="step" lang="fi">' in step
    assert "Kirjoita tavoitteesi tähän alle." in step and "Tupakoitko?" in step
    assert "Skriv ditt mål här nedan." not in step and "Röker du?" not in step
    assert "rt-untranslated" not in step
    image = re.search(r'src="\.\./\.\./(sprak/fi/media/bilder/sol\.[0-9a-f]+\.svg)"', step)
    assert image is not None
    assert tove.get(f"{root}/{image.group(1)}").status_code == 200
    assert tove.get(f"{root}/sprak/fi/program.json").status_code == 404  # the patient-file rules hold
    untranslated = tove.get(f"{root}/steg/start/valkommen").text
    assert '<article class="step" lang="sv">' in untranslated and "Det här är ett kort steg." in untranslated
    assert "Steget finns inte på finska än, så patienten ser det på svenska." in untranslated


def test_staff_preview__swedish__as_before(app, people, tove):
    root = f"/personal/moment/{people.enrolment_a}/forhandsvisning"
    page = tove.get(root).text
    assert "<h1>Testprogrammet</h1>" in page and ">Mitt mål</a>" in page
    assert "Patienten läser programmet på" not in page and "rt-untranslated" not in page
    step = tove.get(f"{root}/steg/start/mitt-mal").text
    assert '<article class="step" lang="sv">' in step and "Röker du?" in step and "rt-untranslated" not in step
