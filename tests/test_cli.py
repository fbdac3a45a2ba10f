"""The CLI contract: commands, formats and exit codes (issue #2)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from builder.cli import main
from tests.conftest import ROOT


def test_check__valid_program__exit_0_and_writes_nothing(program, tmp_path, monkeypatch, capsys):
    root = program()
    monkeypatch.chdir(tmp_path)
    assert main(["check", str(root)]) == 0
    assert not (tmp_path / "dist").exists()


def test_check__content_error__exit_1_with_file_line_and_hint(program, capsys):
    root = program({"modules/01-start/module.yaml": lambda t: t.replace("kind: core", "kind: kärna")})
    assert main(["check", str(root)]) == 1
    err = capsys.readouterr().err
    assert "modules/01-start/module.yaml:2:7: error SCHEMA-004:" in err
    assert "Tips: Tillåtna värden: core, deepening." in err
    assert "Traceback" not in err


def test_check__json_format__machine_readable(program, capsys):
    root = program({"forms/mal.yaml": lambda t: t.replace("type: date", "type: datum")})
    assert main(["check", str(root), "--format", "json"]) == 1
    items = json.loads(capsys.readouterr().out)
    assert items[0]["code"] == "SCHEMA-004" and items[0]["line"] == 47 and items[0]["path"].endswith("forms/mal.yaml")
    assert set(items[0]) == {"path", "line", "col", "code", "severity", "message", "hint"}


def test_check__github_format__workflow_annotations(program, capsys):
    root = program({"forms/mal.yaml": lambda t: t.replace("type: date", "type: datum")})
    assert main(["check", str(root), "--format", "github"]) == 1
    line = capsys.readouterr().out.strip().splitlines()[0]
    assert line.startswith("::error file=") and "forms/mal.yaml,line=47,col=11,title=SCHEMA-004::" in line


def test_check__strict_makes_warnings_fail(program, capsys):
    root = program({"modules/01-start/01-valkommen.md": lambda t: t.replace("[nästa steg om målet]", "[klicka här]")})
    assert main(["check", str(root)]) == 0
    assert main(["check", str(root), "--strict"]) == 1
    assert "error A11Y-004" in capsys.readouterr().err


def test_silenced_warning__not_reported(program, capsys):
    root = program({
        "modules/01-start/01-valkommen.md": lambda t: t.replace("[nästa steg om målet]", "[klicka här]"),
        "program.yaml": lambda t: t + "silence: [A11Y-004]\n",
    })
    assert main(["check", str(root), "--strict"]) == 0


def test_build__writes_package_and_zip(program, tmp_path, capsys):
    root = program()
    assert main(["build", str(root), "--out", str(tmp_path / "out"), "--no-audio", "--no-pdf"]) == 0
    assert (tmp_path / "out/testprogram/0.1.0/manifest.json").is_file()
    assert (tmp_path / "out/testprogram-0.1.0.zip").is_file()


def test_build__defaults_to_content_and_regions(tmp_path, monkeypatch, program):
    root = program()
    (tmp_path / "proj").mkdir()
    root.rename(tmp_path / "proj" / "content")
    monkeypatch.chdir(tmp_path / "proj")
    assert main(["build"]) == 0
    assert (tmp_path / "proj/dist/testprogram/0.1.0/index.html").is_file()


def test_missing_program_dir__exit_2(tmp_path, capsys):
    assert main(["check", str(tmp_path / "nope")]) == 2
    assert "finns inte" in capsys.readouterr().err


def test_bad_usage__exit_2():
    with pytest.raises(SystemExit) as exc:
        main(["build", "--format", "xml"])
    assert exc.value.code == 2


def test_unwritable_out__exit_2(program, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["build", str(program()), "--out", str(blocker / "dist")]) == 2


def test_build_py_and_console_script__same_command(program, tmp_path):
    root = program({"forms/mal.yaml": lambda t: t.replace("type: date", "type: datum")})
    via_build_py = subprocess.run([sys.executable, str(ROOT / "build.py"), "check", str(root)],
                                  capture_output=True, text=True, cwd=tmp_path)
    stegvis = Path(sys.executable).parent / "stegvis"
    via_script = subprocess.run([str(stegvis), "check", str(root)], capture_output=True, text=True, cwd=tmp_path)
    assert via_build_py.returncode == via_script.returncode == 1
    assert via_build_py.stderr == via_script.stderr
