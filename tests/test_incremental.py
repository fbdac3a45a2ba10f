"""Incremental builds (issue #7): nothing changed → nothing rebuilt; one edit → its pages only.

Requirements: #7.2 (a build state records the inputs of every output; unchanged outputs
are never rebuilt; a clean build gives the same bytes as an incremental one), #7.3
(progress on a terminal and in logs).
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from builder.config import FILM_HEIGHT, TEMPLATES
from builder.diagnostics import Diagnostics
from builder.incremental import settings_of
from builder.pipeline import build_dir
from builder.progress import LineProgress, TerminalProgress, progress_for
from builder.state import settings_key
from tests.conftest import ROOT

STEP = "modules/01-start/02-mitt-mal.md"
FRAGMENTS = ["fragments/fordjupning/mer.json", "fragments/start/mitt-mal.json", "fragments/start/valkommen.json"]
ALL_PAGES = ["aktivitetsplaner/steg.html", "aktivitetsplaner/stegmal.html", "fordjupning/index.html",
             "fordjupning/mer.html", "formular/mal.html", "index.html", "start/index.html", "start/mitt-mal.html",
             "start/valkommen.html"]


@pytest.fixture
def cfg(config, tmp_path):
    return config.model_copy(update={"cache": tmp_path / "cache"})


def build(root: Path, config, **changes):
    diags = Diagnostics()
    outcome = build_dir(root, config.model_copy(update=changes), diags)
    assert outcome.package is not None, diags.items
    return outcome, diags


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new), "utf-8")


def test_first_build__renders_every_page(program, cfg):
    outcome, _ = build(program(), cfg)
    assert outcome.report.rebuilt == ALL_PAGES
    assert "HTML: 9 sidor byggda, 0 oförändrade." in outcome.report.notes


def test_no_change__rebuilds_nothing_and_reads_no_source(program, cfg, monkeypatch):
    root = program()
    first, _ = build(root, cfg)
    import builder.pipeline as pipeline

    monkeypatch.setattr(pipeline, "check_dir", lambda *a, **k: pytest.fail("a no-change build must not load"))
    again, _ = build(root, cfg)
    assert again.package.unchanged and again.program is None
    assert again.report.notes == ["HTML: 0 sidor byggda, 9 oförändrade."]
    assert again.label == "testprogram 0.1.0"
    assert files_of(again.package.folder) == files_of(first.package.folder)


def test_no_change__replays_the_warnings(program, cfg):
    root = program({STEP: lambda t: t.replace("Skriv ditt mål här nedan.", "Klicka [här](01-valkommen.md).")})
    _, first = build(root, cfg)
    assert [d.code for d in first.items] == ["A11Y-004"]
    again, diags = build(root, cfg)
    assert again.program is None and diags.items == first.items


def test_unrelated_change__reuses_every_page(program, cfg):
    root = program()
    build(root, cfg)
    (root / "anteckning.txt").write_text("inte en del av programmet")  # a new file: the quick check says "changed"
    again, _ = build(root, cfg)
    assert again.program is not None  # loaded and checked again
    assert again.report.rebuilt == [] and again.report.pages_reused == 9


def test_body_edit__rebuilds_the_step_and_the_overview(program, cfg):
    root = program()
    build(root, cfg)
    edit(root / STEP, "Skriv ditt mål här nedan.", "Skriv ditt mål i rutan.")
    again, _ = build(root, cfg)
    assert again.report.rebuilt == ["index.html", "start/mitt-mal.html"]
    assert "HTML: 2 sidor byggda, 7 oförändrade." in again.report.notes
    assert "Skriv ditt mål i rutan." in (again.package.folder / "start/mitt-mal.html").read_text()


def test_title_edit__rebuilds_neighbours_module_form_and_overview(program, cfg):
    root = program()
    build(root, cfg)
    edit(root / STEP, "title: Mitt mål", "title: Mitt viktiga mål")
    again, _ = build(root, cfg)
    # previous and next steps link it by title; the module lists it; the form page says where it is used
    assert again.report.rebuilt == ["fordjupning/mer.html", "formular/mal.html", "index.html", "start/index.html",
                                    "start/mitt-mal.html", "start/valkommen.html"]


def test_edits__incremental_build_equals_clean_build_byte_for_byte(program, cfg, tmp_path):
    root = program()
    build(root, cfg)
    edits = [
        (STEP, "Skriv ditt mål här nedan.", "Skriv ditt mål i rutan."),
        ("modules/01-start/01-valkommen.md", "title: Välkommen", "title: Hej och välkommen"),
        ("forms/mal.yaml", "label: Beskriv ditt mål", "label: Beskriv målet"),
        ("modules/02-fordjupning/module.yaml", "title:", "title: Mer"),
        ("program.yaml", "title: Testprogrammet", "title: Testprogrammet 2"),
    ]
    for rel, old, new in edits:
        path = root / rel
        text = path.read_text("utf-8")
        if rel.endswith("module.yaml"):
            path.write_text("\n".join(("title: Mer att läsa" if line.startswith("title:") else line)
                                      for line in text.split("\n")), "utf-8")
        else:
            edit(path, old, new)
        incremental, _ = build(root, cfg)
        clean, _ = build(root, cfg, out=tmp_path / f"clean-{len(rel)}", cache=tmp_path / f"cache-{len(rel)}")
        assert files_of(incremental.package.folder) == files_of(clean.package.folder), rel
        assert incremental.package.zip.read_bytes() == clean.package.zip.read_bytes(), rel


def test_media_edit__pages_follow_the_new_media_name(program, cfg, tmp_path):
    root = program()
    build(root, cfg)
    image = root / "media/bilder/sol.svg"
    image.write_text(image.read_text().replace("</svg>", "<!-- ny --></svg>"))
    again, _ = build(root, cfg)
    clean, _ = build(root, cfg, out=tmp_path / "clean", cache=tmp_path / "cache2")
    assert "start/valkommen.html" in again.report.rebuilt
    assert files_of(again.package.folder) == files_of(clean.package.folder)


def test_template_edit__rebuilds_every_page(program, cfg, tmp_path):
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    root = program()
    build(root, cfg, templates=templates)
    edit(templates / "base.html", "Hoppa till innehållet", "Hoppa till sidans innehåll")
    again, _ = build(root, cfg, templates=templates)
    assert again.report.rebuilt == ALL_PAGES
    assert "Hoppa till sidans innehåll" in (again.package.folder / "index.html").read_text()


def test_tampered_package_file__is_rendered_again(program, cfg):
    root = program()
    first, _ = build(root, cfg)
    page = first.package.folder / "start/valkommen.html"
    original = page.read_bytes()
    page.write_bytes(original.replace("Välkommen".encode(), b"Valkommen"))
    again, _ = build(root, cfg)
    assert again.report.rebuilt == ["start/valkommen.html"]  # its old bytes no longer match the recorded hash
    assert (again.package.folder / "start/valkommen.html").read_bytes() == original


def test_settings_change__is_not_a_no_change_build(program, cfg, monkeypatch):
    root = program()
    build(root, cfg)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1800000000")
    again, _ = build(root, cfg, source_date_epoch=1800000000)
    assert again.program is not None  # loaded and checked again (and every page reused)
    assert again.report.rebuilt == []


def test_pdf_on__one_step_edit_rebuilds_its_pdf_its_module_and_the_program(program, cfg):
    root = program()
    build(root, cfg, pdf=True)
    edit(root / STEP, "Skriv ditt mål här nedan.", "Skriv ditt mål i rutan.")
    again, _ = build(root, cfg, pdf=True)
    assert again.report.rebuilt == ["index.html", "start/mitt-mal.html"]
    pdf_note = next(n for n in again.report.notes if n.startswith("PDF:"))
    assert pdf_note.startswith("PDF: 3 skapade"), pdf_note  # the step, its module, the whole program
    unchanged, _ = build(root, cfg, pdf=True)
    assert unchanged.package.unchanged and any(n.startswith("PDF: 0 skapade") for n in unchanged.report.notes)


def test_settings_of_config__equal_the_command_lines_quick_check(cfg, tmp_path):
    # the command line answers "nothing changed" from plain values, without BuildConfig
    root = tmp_path / "p"
    cli = {"out": cfg.out, "audio": False, "pdf": False, "strict": False, "release": False,
           "source_date_epoch": cfg.source_date_epoch, "templates": TEMPLATES, "tts": "auto",
           "film_height": FILM_HEIGHT}
    assert settings_of(root, cfg) == settings_key(root, cli)


def test_cli_no_change__answers_without_importing_the_compiler(program, tmp_path):
    root = program()
    args = ["build", str(root), "--no-audio", "--no-pdf", "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "c")]
    script = ("import sys, json; from builder.cli import main; code = main(json.loads(sys.argv[1])); "
              "print('pipeline' if 'builder.pipeline' in sys.modules else 'quick', code, "
              "*[m for m in ('pydantic', 'numpy') if m in sys.modules])")

    def run():
        return subprocess.run([sys.executable, "-c", script, json.dumps(args)], capture_output=True, text=True,
                              cwd=ROOT, env={"PATH": "/usr/bin:/bin", "SOURCE_DATE_EPOCH": "1700000000"})

    first = run()
    assert first.stdout.split() == ["pipeline", "0", "pydantic"], first.stderr  # numpy only with audio (issue 16)
    second = run()
    assert second.stdout.split() == ["quick", "0"], second.stderr  # not even pydantic (issue 16)
    assert "HTML: 0 sidor byggda, 9 oförändrade." in second.stderr
    assert "testprogram 0.1.0: oförändrat" in second.stderr



def test_cli_edit__hashes_the_sources_once(program, tmp_path, monkeypatch):
    """The command line's no-change check hands its snapshot to the build (issue 16): after an
    edit the sources are hashed once, not twice; the package equals a clean build's."""
    from builder import state
    from builder.cli import main

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    root = program()
    args = ["build", str(root), "--no-audio", "--no-pdf", "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "c")]
    assert main(args) == 0
    edit(root / STEP, "title: Mitt mål", "title: Mitt nya mål")
    hashed = []
    original = state.hash_tree
    monkeypatch.setattr(state, "hash_tree", lambda roots, skip=(): hashed.append(1) or original(roots, skip))
    assert main(args) == 0
    assert len(hashed) == 1
    clean = ["build", str(root), "--no-audio", "--no-pdf", "--out", str(tmp_path / "clean"), "--cache",
             str(tmp_path / "c2")]
    assert main(clean) == 0
    assert files_of(tmp_path / "out/testprogram/0.1.0") == files_of(tmp_path / "clean/testprogram/0.1.0")
    assert main(args) == 0 and len(hashed) == 3  # and the next build finds nothing changed (one hash each)

# --- progress ----------------------------------------------------------------------------


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress__one_updating_line_on_a_terminal():
    stream = Tty()
    progress = progress_for(stream)
    assert isinstance(progress, TerminalProgress)
    progress.start("Sidor", 3)
    for _ in range(3):
        progress.advance()
    progress.done()
    out = stream.getvalue()
    assert "\n" not in out and out.count("\r") >= 2 and "Sidor 0/3" in out and "Sidor 3/3 (100 %)" in out


def test_progress__plain_lines_in_logs():
    stream = io.StringIO()
    progress = progress_for(stream)
    assert isinstance(progress, LineProgress)
    progress.start("Sidor", 400)
    for _ in range(400):
        progress.advance()
    progress.done()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "Sidor: 0/400" and lines[-1] == "Sidor: 400/400 klart"
    assert 3 <= len(lines) <= 6 and "\r" not in stream.getvalue()


def test_progress__build_reports_pages_and_stays_out_of_the_output(program, cfg):
    stream = io.StringIO()
    root = program()
    diags = Diagnostics()
    outcome = build_dir(root, cfg, diags, progress=LineProgress(stream))
    assert stream.getvalue().splitlines() == ["Sidor: 0/9", "Sidor: 9/9 klart"]
    quiet, _ = build(program(), cfg, out=cfg.out.parent / "other")
    assert files_of(quiet.package.folder) == files_of(outcome.package.folder)


def test_state__lives_in_the_cache_folder(program, cfg):
    build(program(), cfg)
    states = list((cfg.cache / "state").glob("*.json"))
    assert len(states) == 1
    state = json.loads(states[0].read_text())
    assert set(state["outputs"]) == set(ALL_PAGES) | set(FRAGMENTS)


def test_settings_of__every_config_field_but_the_run_only_ones(cfg, tmp_path):
    # derived from BuildConfig's fields: a new setting is part of the build state until marked RUN_ONLY
    settings = settings_of(tmp_path / "p", cfg)
    fields = set(type(cfg).model_fields)
    assert {"fmt", "cache", "jobs"} <= fields
    assert set(settings) == (fields - {"fmt", "cache", "jobs"}) | {"format", "program_dir", "engine", "previous"}


def test_input_the_fingerprints_did_not_list__still_rebuilds_the_page(program, cfg, tmp_path):
    # The module page shows "dold från start" for a hidden step: the step's `visible`, which
    # the hand-kept list of the module page's inputs (page_fingerprints) did not name, so an
    # incremental build shipped a stale module page (issue #12).
    root = program()
    build(root, cfg)
    edit(root / STEP, "title: Mitt mål", "title: Mitt mål\nvisible: false")
    again, _ = build(root, cfg)
    clean, _ = build(root, cfg, out=tmp_path / "clean", cache=tmp_path / "cache2")
    assert "dold från start" in (clean.package.folder / "start/index.html").read_text()
    assert "start/index.html" in again.report.rebuilt
    assert files_of(again.package.folder) == files_of(clean.package.folder)


def test_recorded_reads__each_page_names_what_its_renderer_read(program, cfg):
    build(program(), cfg)
    [state_file] = list((cfg.cache / "state").glob("*.json"))
    outputs = json.loads(state_file.read_text())["outputs"]
    step = outputs["start/mitt-mal.html"][2]
    assert {"shared:", "step:start/mitt-mal", "prev:start/mitt-mal", "next:start/mitt-mal", "module:start",
            "form:mal"} <= set(step)
    assert outputs["fragments/start/mitt-mal.json"][2] == step  # rendered in the same pass
    assert not any(k.startswith("form:") for k in outputs["start/valkommen.html"][2])  # it embeds no form
    assert {"form:mal", "form-use:mal"} <= set(outputs["formular/mal.html"][2])
    assert {"module:start", "module-steps:start"} <= set(outputs["start/index.html"][2])
    assert "plans:" in outputs["aktivitetsplaner/steg.html"][2]
    assert "structure:" in outputs["index.html"][2] and "step:fordjupning/mer" in outputs["index.html"][2]


def test_form_edit__rebuilds_the_pages_that_read_the_form_only(program, cfg, tmp_path):
    root = program()
    build(root, cfg)
    edit(root / "forms/mal.yaml", "Beskriv ditt mål", "Beskriv ditt mål med egna ord")
    again, _ = build(root, cfg)
    assert again.report.rebuilt == ["formular/mal.html", "index.html", "start/mitt-mal.html"]
    clean, _ = build(root, cfg, out=tmp_path / "clean", cache=tmp_path / "cache2")
    assert files_of(again.package.folder) == files_of(clean.package.folder)


def test_link_target_renamed__the_linking_page_is_rebuilt(program, cfg, tmp_path):
    root = program()
    build(root, cfg)
    first = root / "modules/01-start/01-valkommen.md"
    assert "02-mitt-mal.md" in first.read_text("utf-8")  # the welcome step links to the next one
    (root / STEP).rename(root / "modules/01-start/02-mitt-nya-mal.md")
    edit(first, "02-mitt-mal.md", "02-mitt-nya-mal.md")
    again, _ = build(root, cfg)
    assert {"start/valkommen.html", "start/mitt-nya-mal.html"} <= set(again.report.rebuilt)
    clean, _ = build(root, cfg, out=tmp_path / "clean", cache=tmp_path / "cache2")
    assert files_of(again.package.folder) == files_of(clean.package.folder)


def test_code_hash__covers_the_package_contract_too():
    # stegvis_package writes manifest.json, program.json and fragments: a change there must
    # not let a build reuse the old outputs.
    import stegvis_package
    from builder.hashing import CODE_ROOT, CONTRACT_ROOT

    assert CONTRACT_ROOT == Path(stegvis_package.__file__).resolve().parent
    assert (CONTRACT_ROOT / "verify.py").is_file() and (CODE_ROOT / "pipeline.py").is_file()
