"""Shared fixtures: fixture programs copied to a temp folder, edited, then run.

Layers: `make_program` (a tree on disk) -> `diagnose` (load, validate, check) ->
`build` (a whole package). Requirement ids in module docstrings refer to issues.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from builder.check import check_program
from builder.config import BuildConfig
from builder.diagnostics import Diagnostic, Diagnostics
from builder.load import load_tree
from builder.validate import validate_program

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
GOLDEN = ROOT / "tests" / "golden"

Edit = str | bytes | Callable[[str], str] | None


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite tests/golden from the current output")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


def make_program(dest: Path, edits: dict[str, Edit] | None = None, fixture: str = "minimal") -> Path:
    """Copy a fixture program to `dest` and apply edits: text, bytes, a function of the text, or None to delete."""
    root = dest / fixture
    shutil.copytree(FIXTURES / fixture, root)
    for rel, edit in (edits or {}).items():
        path = root / rel
        if edit is None:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if callable(edit):
            edit = edit(path.read_text("utf-8"))
        if isinstance(edit, bytes):
            path.write_bytes(edit)
        else:
            path.write_text(edit, "utf-8")
    return root


def diagnose(root: Path) -> list[Diagnostic]:
    """Every diagnostic of load, validate and check, with paths relative to the program."""
    diags = Diagnostics()
    tree = load_tree(root, diags, display_root="")
    program = validate_program(tree, diags)
    if program is not None:
        check_program(program, diags)
    return diags.items


@pytest.fixture
def program(tmp_path: Path) -> Callable[..., Path]:
    """A factory: each call copies the fixture to a fresh folder and applies edits."""
    counter = iter(range(1000))
    return lambda edits=None, fixture="minimal": make_program(tmp_path / f"src{next(counter)}", edits, fixture)


@pytest.fixture
def config(tmp_path: Path) -> BuildConfig:
    return BuildConfig(out=tmp_path / "dist", audio=False, pdf=False, source_date_epoch=1700000000)
