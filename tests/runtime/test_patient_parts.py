"""Issue 12: a patient is served only the patient parts of what is visible in their enrolment.

The package's manifest says whom each file is for (patient, staff, source) and which step
or module a patient file belongs to. Through pages and API a patient gets 404 for staff-only
files (the therapist guide, program.json with the scoring, the whole-program PDF, the
reviewers' pages, FHIR), for the sources, and for the files of a hidden step or of a module
that is not current; the patient API of a form leaves out scoring, points and flags. Step
pages are assembled from the package's fragments (heading, readout, parts), not cut out of
compiled pages.

The package here is the minimal program built with readouts (espeak-ng) and PDFs, once per
run (~4 s): `start` is current with `valkommen` and `mitt-mal`, `fordjupning` is upcoming.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from builder.config import BuildConfig
from builder.diagnostics import Diagnostics
from builder.pipeline import build_dir
from runtime.app import create_app
from runtime.models import EnrolmentModule, ModuleState, StepSetting
from runtime.packages import PackageStore
from tests.runtime.conftest import ROOT, Browser, make_settings, seed

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

FILES = "/moment/{e}/filer/"
STAFF_ONLY = ["program.json", "pdf/metodstod.pdf", "pdf/testprogram.pdf", "formular/mal.html",
              "fhir/Questionnaire-mal.json", "index.html", "start/index.html", "start/valkommen.html",
              "aktivitetsplaner/steg.html"]
SOURCES = ["source/program.yaml", "source/forms/mal.yaml", "source/modules/01-start/02-mitt-mal.md"]
NOT_LISTED = ["manifest.json", "manifest.json.sig", "../manifest.json", "start/../program.json", "finns-inte.pdf"]
MITT_MAL = ["audio/start/mitt-mal.mp3", "audio/start/mitt-mal.vtt", "pdf/start/mitt-mal.pdf",
            "fragments/start/mitt-mal.json", "media/film/test.sv.0220cc6b8b.vtt"]
FORDJUPNING = ["pdf/fordjupning.pdf", "pdf/fordjupning/mer.pdf", "fragments/fordjupning/mer.json",
               "media/ljud/andas.52a7d37712.mp3"]
EVERYONE = ["assets/stegvis.css", "assets/readout.js", "pdf/patientbroschyr.pdf", "media/bilder/sol.8e49a95656.svg"]


@pytest.fixture(scope="session")
def full_packages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The minimal program with readouts and PDFs (read-only for tests)."""
    out = tmp_path_factory.mktemp("full-packages")
    config = BuildConfig(out=out, audio=True, pdf=True, tts="espeak", cache=out.parent / "full-cache",
                         source_date_epoch=1700000000)
    diags = Diagnostics()
    outcome = build_dir(ROOT / "tests" / "fixtures" / "minimal", config, diags)
    assert outcome.package is not None, [str(d) for d in diags.items]
    for zip_file in out.glob("*.zip"):
        zip_file.unlink()
    return out


@pytest.fixture
def full_app(full_packages: Path, tmp_path: Path, sqlite_url: str, clock):
    target = tmp_path / "packages"
    shutil.copytree(full_packages, target)
    application = create_app(make_settings(target, sqlite_url), clock=clock, migrate=False)
    yield application
    application.state.stegvis.db.dispose()


@pytest.fixture
def patient(full_app):
    people = seed(full_app)
    browser = Browser(full_app)
    assert browser.login("anna").status_code == 303
    yield people, browser
    browser.close()


def status(browser: Browser, e: int, paths: list[str]) -> dict[str, int]:
    return {path: browser.get(FILES.format(e=e) + path).status_code for path in paths}


def make_current(app, e: int, module_id: str) -> None:
    with app.state.stegvis.db.session() as db:
        row = db.scalars(select(EnrolmentModule).where(EnrolmentModule.enrolment_id == e,
                                                       EnrolmentModule.module_id == module_id)).one()
        row.state = ModuleState.current


def hide(app, e: int, module_id: str, step_id: str, clock) -> None:
    with app.state.stegvis.db.session() as db:
        db.add(StepSetting(enrolment_id=e, module_id=module_id, step_id=step_id, visible=False, changed_at=clock.now()))


def test_manifest__says_whom_every_file_is_for(full_packages):
    manifest = json.loads((full_packages / "testprogram/0.1.0/manifest.json").read_text("utf-8"))
    files = manifest["files"]
    assert {rel for rel in STAFF_ONLY if files[rel]["audience"] != "staff"} == set()
    assert {rel for rel in files if rel.startswith("source/") and files[rel]["audience"] != "source"} == set()
    assert files["audio/start/mitt-mal.mp3"] == files["audio/start/mitt-mal.mp3"] | {"audience": "patient",
                                                                                       "step": "start/mitt-mal"}
    assert files["pdf/start.pdf"]["module"] == "start" and files["pdf/start.pdf"]["audience"] == "patient"
    assert files["media/film/test.sv.0220cc6b8b.vtt"]["used_by"] == ["start/mitt-mal"]
    assert "step" not in files["assets/stegvis.css"] and files["assets/stegvis.css"]["audience"] == "patient"


def test_staff_only_and_source_files__404_for_the_patient(patient):
    people, anna = patient
    e = people.enrolment_a
    assert status(anna, e, STAFF_ONLY + SOURCES + NOT_LISTED) == dict.fromkeys(STAFF_ONLY + SOURCES + NOT_LISTED,
                                                                               404)


def test_visible_step_and_program_wide_files__served(patient):
    people, anna = patient
    e = people.enrolment_a
    wanted = MITT_MAL + EVERYONE + ["pdf/start.pdf", "audio/start/valkommen.mp3", "pdf/start/valkommen.pdf"]
    assert status(anna, e, wanted) == dict.fromkeys(wanted, 200)


def test_hidden_step__its_pdf_mp3_cues_fragment_and_only_media_404_and_the_module_pdf_too(full_app, patient, clock):
    people, anna = patient
    e = people.enrolment_a
    hide(full_app, e, "start", "mitt-mal", clock)
    assert status(anna, e, MITT_MAL + ["pdf/start.pdf"]) == dict.fromkeys(MITT_MAL + ["pdf/start.pdf"], 404)
    # The image both steps show is still the visible step's.
    assert status(anna, e, ["media/bilder/sol.8e49a95656.svg", "pdf/start/valkommen.pdf"]) == {
        "media/bilder/sol.8e49a95656.svg": 200, "pdf/start/valkommen.pdf": 200}
    assert anna.get(f"/moment/{e}/steg/start/mitt-mal").status_code == 404


def test_upcoming_module__its_files_404_until_the_therapist_makes_it_current(full_app, patient, clock):
    people, anna = patient
    e = people.enrolment_a
    assert status(anna, e, FORDJUPNING) == dict.fromkeys(FORDJUPNING, 404)
    make_current(full_app, e, "fordjupning")
    # `mer` is hidden by default in the package: the module's PDF (which prints it) stays closed too.
    assert status(anna, e, FORDJUPNING) == dict.fromkeys(FORDJUPNING, 404)
    with full_app.state.stegvis.db.session() as db:
        db.add(StepSetting(enrolment_id=e, module_id="fordjupning", step_id="mer", visible=True,
                           changed_at=clock.now()))
    assert status(anna, e, FORDJUPNING) == dict.fromkeys(FORDJUPNING, 200)


def test_other_patients_files__404(patient, full_app):
    people, anna = patient
    assert status(anna, people.enrolment_b, ["assets/stegvis.css", "pdf/start/valkommen.pdf"]) == {
        "assets/stegvis.css": 404, "pdf/start/valkommen.pdf": 404}


def test_form_api__no_scoring_points_or_flags_for_the_patient(patient):
    people, anna = patient
    response = anna.api("GET", f"/api/v1/enrolments/{people.enrolment_a}/forms/mal")
    assert response.status_code == 200
    definition = response.json()["definition"]
    assert definition["title"] == "Mitt mål" and definition["required"] is True
    assert "scoring" not in definition and "flag_on_submit" not in definition
    options = [o for q in definition["questions"] for o in q.get("options", [])]
    assert options and all(set(o) == {"value", "label"} for o in options)
    assert "Prata med din behandlare" not in response.text and "Poängen" not in response.text


def test_step_page__assembled_from_the_fragment_with_heading_readout_and_working_form(patient):
    people, anna = patient
    e = people.enrolment_a
    page = anna.get(f"/moment/{e}/steg/start/mitt-mal").text
    assert '<audio controls preload="none" src="../../filer/audio/start/mitt-mal.mp3" data-readout>' in page
    assert 'src="../../filer/audio/start/mitt-mal.vtt"' in page
    assert page.count("<h1") == 1 and "Mitt mål</span></h1>" in page  # the body's own heading, none added
    assert '<span data-s="' in page  # sentences marked for the highlight
    assert f'action="/moment/{e}/steg/start/mitt-mal"' in page and 'name="_form" value="mal"' in page
    assert 'name="_csrf"' in page and 'action="#"' not in page  # the runtime's form, not the package's blank
    assert 'src="../../filer/media/film/test.sv.0220cc6b8b.vtt"' in page


def test_unknown_package_format__refused_with_a_clear_log_line(full_packages, tmp_path, caplog):
    target = tmp_path / "packages"
    shutil.copytree(full_packages, target)
    manifest_path = target / "testprogram/0.1.0/manifest.json"
    manifest = json.loads(manifest_path.read_text("utf-8"))
    manifest["format"] = 1
    manifest_path.write_text(json.dumps(manifest), "utf-8")
    caplog.set_level(logging.INFO, logger="stegvis.runtime.packages")
    store = PackageStore(target)
    assert store.scan().loaded == []
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(lines) == 1 and "paketformat 1" in lines[0] and "läser format 2" in lines[0], lines
