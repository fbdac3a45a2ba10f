"""Packaging that installs (issue 12): the wheel holds every package, the templates and the
migrations, declares its extras, and an installed Stegvis finds its templates without the
repository; a missing extra is a clear usage error, not a traceback.

The wheel is built offline from a copy of the source tree, with the venv's own setuptools
(no build isolation), so the test needs neither the network nor a clean checkout.
"""

from __future__ import annotations

import email
import importlib.metadata
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from builder.cli import main
from tests.conftest import FIXTURES, ROOT

#: The setuptools that pyproject.toml's [build-system] asks for.
SETUPTOOLS_FLOOR = 77
#: Never copied into the tree the wheel is built from.
NOT_SOURCES = shutil.ignore_patterns(".git", ".venv", ".cache", "dist", "var", "build", "*.egg-info", "node_modules",
                                     "__pycache__", ".pytest_cache", ".hypothesis", ".ruff_cache", "tests", "bench")
#: The packages of the code, and stegvis_package once it exists.
CODE = [p for p in ("builder", "runtime", "stegvis_package") if (ROOT / p).is_dir()]


def _files(folder: Path, suffix: str = "") -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob(f"*{suffix}")
            if p.is_file() and "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of the source tree as it is now (one build for the whole module, about 2 s)."""
    try:
        setuptools = int(importlib.metadata.version("setuptools").split(".")[0])
    except importlib.metadata.PackageNotFoundError:
        setuptools = 0
    if setuptools < SETUPTOOLS_FLOOR:
        pytest.skip(f"needs setuptools>={SETUPTOOLS_FLOOR} in this venv to build offline (make test installs it)")
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCES)
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                          "--quiet", "-w", str(tmp / "wheel"), str(source)],
                         capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        pytest.fail(f"pip wheel failed:\n{out.stdout}\n{out.stderr}")
    (built,) = (tmp / "wheel").glob("stegvis-*.whl")
    return built


def test_wheel__holds_every_module_template_and_migration(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in CODE:
        missing = {f"{package}/{f}" for f in _files(ROOT / package, ".py")} - names
        assert not missing, f"modules missing from the wheel: {sorted(missing)}"
    missing = {f"stegvis_templates/{f}" for f in _files(ROOT / "templates")} - names
    assert not missing, f"templates missing from the wheel: {sorted(missing)}"
    assert {
        "builder/speech/engines.py", "runtime/staff/__init__.py",
        "stegvis_templates/step.html", "stegvis_templates/runtime/layout.html",
        "stegvis_templates/print/print.css", "stegvis_templates/stegvis.css", "stegvis_templates/readout.js",
        "stegvis_templates/locales/fi/LC_MESSAGES/pages.po",  # the page chrome's catalogues, read as .po
        "runtime/migrations/env.py", "runtime/migrations/script.py.mako",
        "runtime/migrations/versions/0001_initial_schema.py",
    } <= names
    if (ROOT / "stegvis_package").is_dir():
        assert "stegvis_package/__init__.py" in names
    tops = {n.split("/")[0] for n in names if not n.startswith("stegvis-")}
    assert tops == set(CODE) | {"stegvis_templates"}, "the wheel installs nothing else at the top of site-packages"


def test_wheel__metadata_declares_the_extras(wheel):
    with zipfile.ZipFile(wheel) as z:
        (name,) = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        meta = email.message_from_bytes(z.read(name))
    assert {"runtime", "postgres", "online-tts", "test"} <= set(meta.get_all("Provides-Extra"))
    requires = meta.get_all("Requires-Dist")

    def extra_of(dist: str) -> str | None:
        (req,) = [r for r in requires if r.lower().startswith(dist.lower())]
        return req.split('extra == "')[1].rstrip('"') if "extra ==" in req else None

    assert extra_of("fastapi") == extra_of("alembic") == extra_of("argon2-cffi") == "runtime"
    assert extra_of("psycopg") == "postgres"
    assert extra_of("gTTS") == extra_of("miniaudio") == "online-tts"
    assert extra_of("import-linter") == "test"
    assert extra_of("semver") is extra_of("cryptography") is extra_of("weasyprint") is None  # the builder's


def test_installed_wheel__finds_templates_and_builds_without_the_repository(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    script = (
        "import sys\n"
        "from builder.defaults import TEMPLATES\n"
        "from runtime.settings import TEMPLATES as RUNTIME\n"
        "from builder.cli import main\n"
        "print(TEMPLATES, RUNTIME, sep='\\n')\n"
        "sys.exit(main(['build', sys.argv[1], '--no-audio', '--no-pdf', '--out', 'out', '--cache', 'cache']))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run([sys.executable, "-c", script, str(FIXTURES / "minimal")], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    templates, runtime_templates = map(Path, out.stdout.split())
    assert templates == site / "stegvis_templates" and runtime_templates == templates / "runtime"
    assert list((tmp_path / "out").glob("*/*/manifest.json"))


def test_installed_wheel__finnish_translation_gets_its_chrome_catalogue(wheel, tmp_path):
    """The .po catalogues ship with stegvis_templates and are read from there (issue 18)."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    script = ("import sys\nfrom builder.cli import main\n"
              "sys.exit(main(['build', sys.argv[1], '--no-audio', '--no-pdf', '--strict', '--out', 'out',"
              " '--cache', 'cache']))\n")
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run([sys.executable, "-c", script, str(FIXTURES / "translation" / "fi")], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr  # --strict: no PAGES-001
    page = (tmp_path / "out" / "litet-fi" / "1.0.0" / "start" / "fragor.html").read_text("utf-8")
    assert '<button type="submit">Lähetä</button>' in page


@pytest.mark.parametrize("args", [[], ["backup", "kopia.sqlite3"]])
def test_runtime__without_runtime_extra__exit_2_names_the_extra(args, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "fastapi", None)  # as if not installed
    assert main(["runtime", *args]) == 2
    err = capsys.readouterr().err
    assert "pip install 'stegvis[runtime]'" in err and "fastapi" in err and "Traceback" not in err


def test_runtime__postgresql_without_driver__exit_2_names_the_extra(monkeypatch, capsys):
    pytest.importorskip("fastapi")
    monkeypatch.setitem(sys.modules, "psycopg", None)
    assert main(["runtime", "--database", "postgresql://stegvis@127.0.0.1/stegvis"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'stegvis[postgres]'" in err and "Traceback" not in err


def test_build__tts_gtts_without_online_tts__exit_2_names_the_extra(program, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "gtts", None)
    assert main(["build", str(program()), "--tts", "gtts", "--no-pdf", "--out", str(tmp_path / "out"),
                 "--cache", str(tmp_path / "cache")]) == 2
    err = capsys.readouterr().err
    assert "pip install 'stegvis[online-tts]'" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not shutil.which("espeak-ng"), reason="espeak-ng is not installed")
def test_choose_engine__auto_without_online_tts__espeak_quietly(monkeypatch):
    from builder.speech.engines import choose_engine

    monkeypatch.setitem(sys.modules, "gtts", None)
    engine, note = choose_engine("auto")
    assert engine.name == "espeak-ng" and note is None
