"""Issue #9: moving an enrolment to a newer version of its program.

Requirement: a therapist can move an enrolment to a newer served version when the
compatibility check of the diff issue (builder/diff.py, builder/compat.py) allows it:
patch and minor changes are allowed, major ones are refused with the breaking changes
listed; answers stay attached to their questions.

Fixture: the minimal test program built as 0.1.0 (the suite's package), 0.2.0 (minor:
a new step, a new module and a new activity plan) and 1.0.0 (major: a question removed).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from runtime.models import (
    Enrolment,
    EnrolmentEvent,
    EnrolmentModule,
    EnrolmentPlan,
    EnrolmentStatus,
    EventKind,
    FormSubmission,
    ModuleState,
    StepSetting,
)

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = ROOT / "tests" / "fixtures" / "minimal"
ANSWERS = {"_action": "submit", "mal": "Gå mer", "roker": "nej", "hinder": "tid", "viktigt": "3"}


def _set_version(src: Path, version: str) -> None:
    program = src / "program.yaml"
    program.write_text(program.read_text("utf-8").replace("version: 0.1.0", f"version: {version}"), "utf-8")


@pytest.fixture(scope="module")
def versions(built_packages: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A package folder with testprogram 0.1.0, 0.2.0 (minor) and 1.0.0 (major), built once for the module."""
    from conftest import build_package

    work = tmp_path_factory.mktemp("versions")
    out = work / "packages"
    shutil.copytree(built_packages, out)
    minor = work / "src-0.2.0"
    shutil.copytree(MINIMAL, minor)
    _set_version(minor, "0.2.0")
    program = minor / "program.yaml"
    program.write_text(program.read_text("utf-8").replace("  - fordjupning\n", "  - fordjupning\n  - extra\n"), "utf-8")
    (minor / "modules" / "01-start" / "03-nytt.md").write_text(
        "---\ntitle: Nytt steg\nsection: Kom igång\n---\n# Nytt steg\n\nEtt nytt steg att läsa.\n", "utf-8")
    (minor / "modules" / "03-extra").mkdir()
    (minor / "modules" / "03-extra" / "module.yaml").write_text(
        "title: Extra\nkind: deepening\nstart: current\n", "utf-8")
    (minor / "modules" / "03-extra" / "01-las.md").write_text(
        "---\ntitle: Läs mer\nsection: Extra\n---\n# Läs mer\n\nMer att läsa.\n", "utf-8")
    (minor / "activity-plans" / "somn.yaml").write_text(
        "title: Sömn\nfields:\n  - id: timmar\n    type: number\n    label: Timmar sömn\n    min: 0\n    max: 24\n"
        "schedule:\n  days: {tisdag: \"08:00\"}\n  activated: true\nresults:\n  field: timmar\n", "utf-8")
    build_package(minor, out)
    major = work / "src-1.0.0"
    shutil.copytree(minor, major)
    program = major / "program.yaml"
    program.write_text(program.read_text("utf-8").replace("version: 0.2.0", "version: 1.0.0"), "utf-8")
    form = major / "forms" / "mal.yaml"
    text = form.read_text("utf-8")
    start = text.index("  - id: hinder")
    stop = text.index("  - id: viktigt")
    text = text[:start] + text[stop:]
    form.write_text(text.replace("questions: [roker, hinder, viktigt]", "questions: [roker, viktigt]"), "utf-8")
    build_package(major, out)
    for zip_file in out.glob("*.zip"):
        zip_file.unlink()
    return out


@pytest.fixture
def served(app, packages: Path, versions: Path):
    """The app serving all three versions."""
    for folder in (versions / "testprogram").iterdir():
        target = packages / "testprogram" / folder.name
        if not target.exists():
            shutil.copytree(folder, target)
    app.state.stegvis.store.scan()
    assert {p.version for p in app.state.stegvis.store.all()} == {"0.1.0", "0.2.0", "1.0.0"}
    return app


def session(app):
    return app.state.stegvis.db.session()


def test_newer_versions__listed_with_their_class(served, people, login_as):
    page = login_as("tove").get(f"/personal/moment/{people.enrolment_a}/hantera")
    assert page.status_code == 200
    minor = page.text.split('id="version-0-2-0"')[1].split('class="rt-version"')[0]
    assert "Klass: <strong>minor</strong>" in minor and "Flytta till version 0.2.0" in minor
    assert "Steg tillagt: start/nytt" in minor
    major = page.text.split('id="version-1-0-0"')[1]
    assert "Klass: <strong>major</strong>" in major and "Kan inte användas för momentet" in major
    assert "Fråga borttagen: mal/hinder" in major and "Flytta till version 1.0.0" not in major


def test_start_page__newest_version_preselected(served, people, login_as):
    page = login_as("tove").get("/personal/moment/nytt")
    assert '<option value="testprogram/1.0.0" selected>Testprogrammet 1.0.0 (senaste)</option>' in page.text
    assert '<option value="testprogram/0.1.0">Testprogrammet 0.1.0</option>' in page.text


def test_minor_move__modules_and_plans_added_choices_kept_answers_stay(served, people, login_as, anna):
    e = people.enrolment_a
    assert anna.post(f"/moment/{e}/steg/start/mitt-mal/formular/mal", ANSWERS).status_code == 303
    tove = login_as("tove")
    tove.post(f"/personal/moment/{e}/anpassa", {"_section": "innehall", "steg:start/valkommen": "dolt"})
    now = served.state.stegvis.clock.now()
    with session(served) as db:
        db.add(StepSetting(enrolment_id=e, module_id="start", step_id="borttaget", visible=True, changed_at=now))
    moved = tove.post(f"/personal/moment/{e}/version", {"version": "0.2.0"})
    assert moved.status_code == 303 and moved.headers["location"].endswith("?klart=version")
    with session(served) as db:
        row = db.get(Enrolment, e)
        assert row.program_version == "0.2.0"
        modules = list(db.scalars(select(EnrolmentModule).where(EnrolmentModule.enrolment_id == e)
                                  .order_by(EnrolmentModule.position)))
        assert [(m.module_id, m.state, m.position) for m in modules] == [
            ("start", ModuleState.current, 0), ("fordjupning", ModuleState.upcoming, 1),
            ("extra", ModuleState.current, 2)]
        settings = {(s.module_id, s.step_id): s.visible for s in db.scalars(
            select(StepSetting).where(StepSetting.enrolment_id == e))}
        assert settings == {("start", "valkommen"): False}  # the vanished step's choice is dropped
        plans = {p.plan_id: (p.activated, p.start_date) for p in db.scalars(
            select(EnrolmentPlan).where(EnrolmentPlan.enrolment_id == e))}
        assert plans["somn"] == (False, None)  # new plans come in, not activated
        assert plans["steg"][0] is True  # the patient's own plans are as they were
        (submission,) = db.scalars(select(FormSubmission).where(FormSubmission.enrolment_id == e))
        assert submission.answers["hinder"] == ["tid"]
    (event,) = [d for k, d in _events(served, e) if k == EventKind.version_moved]
    assert event == ("Flyttat från version 0.1.0 till 0.2.0 (ändringar av klass minor). Nya moduler: Extra. "
                     "Nya aktivitetsplaner (inte aktiverade): Sömn.")
    start = anna.get(f"/moment/{e}")
    assert "steg/start/nytt" in start.text and "steg/extra/las" in start.text
    assert "steg/start/valkommen" not in start.text
    step = anna.get(f"/moment/{e}/steg/start/mitt-mal")
    assert "Dina inskickade svar (1)" in step.text
    answers = step.text.split("Dina inskickade svar (1)")[1].split("</details>")[0]
    assert re.search(r"<dt>Vad hindrar dig\?</dt>\s*<dd>Tid</dd>", answers)  # the answer under its question
    page = tove.get(moved.headers["location"])
    assert "Momentet använder nu den nya versionen." in page.text and "Flytta till version 0.2.0" not in page.text


def test_major_move__refused_with_the_breaking_changes(served, people, login_as):
    e = people.enrolment_a
    refused = login_as("tove").post(f"/personal/moment/{e}/version", {"version": "1.0.0"})
    assert refused.status_code == 422
    assert "Version 1.0.0 kan inte användas för momentet: ändringarna är av klass major" in refused.text
    assert "Fråga borttagen: mal/hinder" in refused.text
    with session(served) as db:
        assert db.get(Enrolment, e).program_version == "0.1.0"
    assert not [k for k, _ in _events(served, e) if k == EventKind.version_moved]


@pytest.mark.parametrize("version", ["0.1.0", "9.9.9", "", "../0.2.0"])
def test_move__same_older_or_unknown_version__refused(served, people, login_as, version):
    refused = login_as("tove").post(f"/personal/moment/{people.enrolment_a}/version", {"version": version})
    assert refused.status_code == 422 and "Välj en nyare version av programmet som lämnas ut." in refused.text


def test_move__refused_for_wrong_role_other_unit_and_ended(served, people, login_as):
    e = people.enrolment_a
    assert login_as("tim").post(f"/personal/moment/{e}/version", {"version": "0.2.0"}).status_code == 403
    assert login_as("olle").post(f"/personal/moment/{e}/version", {"version": "0.2.0"}).status_code == 404
    assert login_as("anna").post(f"/personal/moment/{e}/version", {"version": "0.2.0"}).status_code == 403
    with session(served) as db:
        db.get(Enrolment, e).status = EnrolmentStatus.ended
    ended = login_as("cissi").post(f"/personal/moment/{e}/version", {"version": "0.2.0"})
    assert ended.status_code == 409
    with session(served) as db:
        assert db.get(Enrolment, e).program_version == "0.1.0"


def test_move_in_maintenance__new_modules_not_kept(served, people, login_as, anna):
    e = people.enrolment_a
    tove = login_as("tove")
    tove.post(f"/personal/moment/{e}/vidmakthall", {"dagar": "30", "moduler": "start", "bekrafta": "ja"})
    assert tove.post(f"/personal/moment/{e}/version", {"version": "0.2.0"}).status_code == 303
    with session(served) as db:
        extra = db.scalar(select(EnrolmentModule).where(EnrolmentModule.enrolment_id == e,
                                                        EnrolmentModule.module_id == "extra"))
        assert extra.in_maintenance is False
        assert db.scalar(select(func.count()).select_from(Enrolment).where(
            Enrolment.id == e, Enrolment.status == EnrolmentStatus.maintenance)) == 1
    start = anna.get(f"/moment/{e}")
    assert "steg/extra/las" not in start.text and "steg/start/nytt" in start.text


def _events(app, eid: int):
    with session(app) as db:
        return [(e.kind, e.detail) for e in db.scalars(select(EnrolmentEvent).where(EnrolmentEvent.enrolment_id == eid)
                                                      .order_by(EnrolmentEvent.id))]
