"""Regional overlays: precedence, remove/hide, provenance, drift (issue #6)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from builder.check import check_program
from builder.cli import main
from builder.diagnostics import Diagnostics
from builder.pipeline import build_dir, check_dir
from builder.resolve import resolve_program
from builder.validate import validate_program
from tests.conftest import FIXTURES


@pytest.fixture
def trees(tmp_path, monkeypatch) -> Path:
    """The minimal base and the overlay fixture side by side; paths shown relative to them."""
    for name in ("minimal", "overlay"):
        shutil.copytree(FIXTURES / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def diagnose(root: Path) -> list[tuple[str, str, int]]:
    diags = Diagnostics()
    tree = resolve_program(root, diags)
    if tree is not None:
        program = validate_program(tree, diags)
        if program is not None:
            check_program(program, diags)
    return [(d.code, d.path, d.line) for d in diags.items]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), "utf-8")


def test_overlay__files_replace_by_path_and_add__ok(trees):
    program = check_dir(trees / "overlay", Diagnostics(), strict=True)
    assert program is not None
    assert (program.meta.id, program.meta.publisher) == ("testprogram-region", "Region Test")
    assert [m.id for m in program.modules] == ["start", "region", "fordjupning"]
    start = program.modules[0]
    assert [s.id for s in start.steps] == ["valkommen", "mitt-mal", "lokalt"]
    assert start.steps[0].meta.title == "Välkommen till regionen"
    assert start.steps[0].path == "overlay/modules/01-start/01-valkommen.md"
    assert start.steps[1].path == "minimal/modules/01-start/02-mitt-mal.md"
    assert program.lexicon["Luleå"] == "Luleå" and program.lexicon["t.ex."] == "till exempel"
    assert set(program.forms) == {"mal"} and set(program.plans) == {"steg", "stegmal"}


def test_overlay__hide_makes_step_invisible_from_start__ok(trees):
    program = check_dir(trees / "overlay", Diagnostics())
    assert {s.id: s.meta.visible for s in program.steps}["mitt-mal"] is False


def test_overlay__remove_module_step_and_plan__ok(trees):
    program_yaml = trees / "overlay/program.yaml"
    edit(program_yaml, "  - fordjupning\n", "")
    program_yaml.write_text(program_yaml.read_text() + "remove:\n  modules: [fordjupning]\n  steps: [start/mitt-mal]\n")
    (trees / "overlay/program.yaml").write_text(program_yaml.read_text().replace("hide:\n  steps: [start/mitt-mal]\n", ""))
    found = diagnose(trees / "overlay")
    assert ("REF-007", "minimal/forms/mal.yaml", 1) in found  # the form lost its only step: said, not silent
    program = check_dir(trees / "overlay", Diagnostics())
    assert [m.id for m in program.modules] == ["start", "region"]
    assert [s.id for s in program.modules[0].steps] == ["valkommen", "lokalt"]


def test_overlay__remove_unknown__error_with_suggestion(trees):
    program_yaml = trees / "overlay/program.yaml"
    program_yaml.write_text(program_yaml.read_text() + "remove:\n  steps: [start/mitt-mall]\n")
    diags = Diagnostics()
    resolve_program(trees / "overlay", diags)
    d = next(d for d in diags.items if d.code == "OVERLAY-003")
    assert (d.path, d.line) == ("overlay/program.yaml", 18)
    assert "start/mitt-mal" in d.hint


def test_overlay__errors_point_at_the_file_at_fault(trees):
    edit(trees / "overlay/modules/01-start/03-lokalt.md", "# Lokalt stöd", "### Lokalt stöd")
    edit(trees / "minimal/modules/02-fordjupning/module.yaml", "kind: deepening", "kind: djup")
    found = diagnose(trees / "overlay")
    assert ("SCHEMA-004", "minimal/modules/02-fordjupning/module.yaml", 2) in found
    edit(trees / "minimal/modules/02-fordjupning/module.yaml", "kind: djup", "kind: deepening")
    found = diagnose(trees / "overlay")
    assert ("A11Y-008", "overlay/modules/01-start/03-lokalt.md", 5) in found


def test_overlay__program_yaml_mistake__points_at_overlay(trees):
    edit(trees / "overlay/program.yaml", "publisher: Region Test", "publisher: Region Test\npublsher: x")
    found = diagnose(trees / "overlay")
    assert ("SCHEMA-001", "overlay/program.yaml", 6) in found


def test_overlay__must_name_itself__error(trees):
    edit(trees / "overlay/program.yaml", "id: testprogram-region\n", "")
    assert ("OVERLAY-005", "overlay/program.yaml", 1) in diagnose(trees / "overlay")
    edit(trees / "overlay/program.yaml", "title:", "id: testprogram\ntitle:")
    assert ("OVERLAY-006", "overlay/program.yaml", 2) in diagnose(trees / "overlay")


def test_overlay__missing_base__error(trees):
    edit(trees / "overlay/program.yaml", "extends: ../minimal", "extends: ../saknas")
    assert diagnose(trees / "overlay") == [("OVERLAY-001", "overlay/program.yaml", 1)]


def test_overlay__cycle__error(trees):
    shutil.copytree(trees / "overlay", trees / "other")
    edit(trees / "other/program.yaml", "extends: ../minimal", "extends: ../overlay")
    edit(trees / "overlay/program.yaml", "extends: ../minimal", "extends: ../other")
    found = diagnose(trees / "overlay")
    assert [c for c, _, _ in found] == ["OVERLAY-002"]


def test_overlay__manifest_records_base(trees, config):
    outcome = build_dir(trees / "overlay", config, Diagnostics())
    manifest = json.loads((outcome.package.folder / "manifest.json").read_text())
    base = manifest["base"]
    assert (base["id"], base["version"]) == ("testprogram", "0.1.0")
    assert len(base["files"]["modules/01-start/01-valkommen.md"]) == 64
    assert outcome.package.folder.parts[-2:] == ("testprogram-region", "0.1.0")


# --- drift ------------------------------------------------------------------------------

def test_drift__none_when_base_unchanged__exit_0(trees, capsys):
    assert main(["drift", "overlay"]) == 0
    assert "ingen drift" in capsys.readouterr().out


def test_drift__base_edit_of_overridden_file__warned_listed_and_accepted(trees, capsys):
    edit(trees / "minimal/modules/01-start/01-valkommen.md", "Det här är ett kort steg.", "Det här är ett nytt steg.")
    assert ("OVERLAY-101", "overlay/modules/01-start/01-valkommen.md", 1) in diagnose(trees / "overlay")
    assert check_dir(trees / "overlay", Diagnostics(), strict=True) is None
    assert main(["drift", "overlay"]) == 1
    out = capsys.readouterr().out
    assert "modules/01-start/01-valkommen.md: basen har ändrats" in out
    assert "-Det här är ett kort steg." in out and "+Det här är ett nytt steg." in out
    assert main(["drift", "overlay", "--accept", "modules/01-start/01-valkommen.md"]) == 0
    assert main(["drift", "overlay"]) == 0
    snapshot = trees / "overlay/.base/modules/01-start/01-valkommen.md"
    assert "nytt steg" in snapshot.read_text()
    assert check_dir(trees / "overlay", Diagnostics(), strict=True) is not None


def test_drift__edit_of_base_file_not_overridden__no_drift(trees):
    edit(trees / "minimal/modules/01-start/02-mitt-mal.md", "Skriv ditt mål", "Skriv gärna ditt mål")
    assert main(["drift", "overlay"]) == 0


def test_drift__new_override_not_accepted__warning_then_accept_all(trees):
    target = trees / "overlay/modules/01-start/02-mitt-mal.md"
    shutil.copy(trees / "minimal/modules/01-start/02-mitt-mal.md", target)
    assert ("OVERLAY-102", "overlay/modules/01-start/02-mitt-mal.md", 1) in diagnose(trees / "overlay")
    assert main(["drift", "overlay", "--accept-all"]) == 0
    lock = json.loads((trees / "overlay/overlay.lock").read_text())
    assert set(lock["files"]) == {"modules/01-start/01-valkommen.md", "modules/01-start/02-mitt-mal.md"}


def test_drift__base_removes_overridden_file__error(trees):
    shutil.move(trees / "minimal/modules/01-start/01-valkommen.md", trees / "minimal/modules/01-start/01-hej.md")
    found = diagnose(trees / "overlay")
    assert ("OVERLAY-004", "overlay/overlay.lock", 1) in found


def test_drift__accept_unknown_path__exit_2(trees, capsys):
    assert main(["drift", "overlay", "--accept", "modules/01-start/99-nej.md"]) == 2
    assert "ersätter inte" in capsys.readouterr().err
