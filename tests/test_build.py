"""Building a package: golden output, manifest, determinism, atomicity, releases (issue #2)."""

from __future__ import annotations

import difflib
import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from builder.config import BuildConfig
from builder.diagnostics import Diagnostics
from builder.pipeline import build_dir
from stegvis_package import PACKAGE_FORMAT
from tests.conftest import GOLDEN


def build(root: Path, config: BuildConfig, **changes):
    diags = Diagnostics()
    outcome = build_dir(root, config.model_copy(update=changes), diags)
    return outcome, diags


def test_minimal_program__matches_golden_files(program, config, update_golden):
    outcome, diags = build(program(), config)
    assert not diags.items
    out = outcome.package.folder
    golden = GOLDEN / "minimal"
    if update_golden:
        shutil.rmtree(golden, ignore_errors=True)
        shutil.copytree(out, golden)
    built = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    expected = sorted(p.relative_to(golden).as_posix() for p in golden.rglob("*") if p.is_file())
    assert built == expected
    for rel in built:
        new, old = (out / rel).read_bytes(), (golden / rel).read_bytes()
        if new != old:
            diff = "\n".join(difflib.unified_diff(old.decode(errors="replace").splitlines(),
                                                   new.decode(errors="replace").splitlines(), rel, rel, lineterm=""))
            pytest.fail(f"{rel} differs from golden (run pytest --update-golden and review):\n{diff}")


def test_manifest__lists_every_file_with_sha256_and_size(program, config):
    outcome, _ = build(program(), config)
    folder = outcome.package.folder
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["program"] == {"id": "testprogram", "version": "0.1.0", "title": "Testprogrammet"}
    assert manifest["format"] == PACKAGE_FORMAT == 2 and len(manifest["content_hash"]) == 64
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {"manifest.json"}
    assert set(manifest["files"]) == on_disk
    for rel, entry in manifest["files"].items():
        data = (folder / rel).read_bytes()
        assert {k: entry[k] for k in ("sha256", "size")} == {"sha256": hashlib.sha256(data).hexdigest(),
                                                             "size": len(data)}
        assert entry["audience"] in ("patient", "staff", "source")


def test_program_json__has_what_the_runtime_needs(program, config):
    outcome, _ = build(program(), config)
    data = json.loads((outcome.package.folder / "program.json").read_text())
    start, deep = data["modules"]
    assert (start["id"], start["kind"], start["start"]) == ("start", "core", "current")
    assert (deep["kind"], deep["start"]) == ("deepening", "upcoming")
    step = deep["sections"][0]["steps"][0]
    assert step == {"id": "mer", "title": "Mer att läsa", "visible": False, "audio": False,
                    "page": "fordjupning/mer.html", "fragment": "fragments/fordjupning/mer.json", "forms": [],
                    "reviewed": None, "review_status": "never",
                    "readout": None}
    assert start["sections"][0]["steps"][1]["forms"] == ["mal"]
    form = data["forms"]["mal"]
    assert form["required"] and form["page_comments"] and form["flag_on_submit"]
    assert form["scoring"]["bands"][1]["label"] == "Hög"
    assert [q["type"] for q in form["questions"]] == ["display", "text", "textarea", "single", "number", "multi", "scale", "date"]
    plan = data["activity_plans"]["steg"]
    assert plan["schedule"]["days"] == {"måndag": "19:00", "onsdag": "19:00"}
    assert plan["schedule"]["activated"] is False
    assert plan["results"]["goal_from"] == {"plan": "stegmal", "field": "mal"}


def test_same_sources__give_identical_zip(program, config, tmp_path):
    root = program()
    first, _ = build(root, config, out=tmp_path / "a")
    second, _ = build(program(), config, out=tmp_path / "b")
    assert first.package.zip.read_bytes() == second.package.zip.read_bytes()


def test_zip__uses_source_date_epoch_and_sorted_entries(program, config):
    outcome, _ = build(program(), config, source_date_epoch=1700000000)
    with zipfile.ZipFile(outcome.package.zip) as zf:
        names = zf.namelist()
        assert names == sorted(names)
        assert all(n.startswith("testprogram/0.1.0/") for n in names)
        assert {i.date_time for i in zf.infolist()} == {(2023, 11, 14, 22, 13, 20)}


def test_media__copied_under_content_hashed_names(program, config):
    outcome, _ = build(program(), config)
    svg = list((outcome.package.folder / "media" / "bilder").glob("sol.*.svg"))
    assert len(svg) == 1
    page = (outcome.package.folder / "start" / "valkommen.html").read_text()
    assert f'src="../media/bilder/{svg[0].name}"' in page


def test_failed_build__leaves_previous_package(program, config):
    root = program()
    first, _ = build(root, config)
    before = (first.package.folder / "manifest.json").read_bytes()
    (root / "modules/01-start/module.yaml").write_text("title: Start\nkind: kärna\nstart: current\n")
    outcome, diags = build(root, config)
    assert outcome.package is None and diags.has_errors()
    assert (first.package.folder / "manifest.json").read_bytes() == before
    assert not [p for p in first.package.folder.parent.iterdir() if p.name.startswith(".")]


def test_plain_rebuild__replaces_package_of_same_version(program, config):
    root = program()
    build(root, config)
    (root / "modules/01-start/01-valkommen.md").write_text(
        (root / "modules/01-start/01-valkommen.md").read_text().replace("kort steg", "mycket kort steg"))
    outcome, diags = build(root, config)
    assert not diags.has_errors()
    assert "mycket kort steg" in (outcome.package.folder / "start/valkommen.html").read_text()


def test_release__refuses_changed_content_of_same_version__error(program, config):
    root = program()
    build(root, config, release=True)
    (root / "modules/01-start/01-valkommen.md").write_text(
        (root / "modules/01-start/01-valkommen.md").read_text().replace("kort steg", "mycket kort steg"))
    outcome, diags = build(root, config, release=True)
    assert outcome.package is None
    assert [d.code for d in diags.items] == ["PACKAGE-001"]
    assert "0.1.1" in diags.items[0].hint
    assert "mycket" not in (config.out / "testprogram/0.1.0/start/valkommen.html").read_text()


def test_release__same_content_again__ok_and_unchanged(program, config):
    root = program()
    build(root, config, release=True)
    outcome, diags = build(root, config, release=True)
    assert not diags.items and outcome.package.unchanged


def test_strict__warning_stops_build__error(program, config):
    root = program({"modules/01-start/01-valkommen.md": lambda t: t.replace("[nästa steg om målet]", "[klicka här]")})
    outcome, diags = build(root, config)
    assert outcome.package is not None and [d.code for d in diags.items] == ["A11Y-004"]
    outcome, diags = build(root, config, strict=True, out=config.out / "strict")
    assert outcome.package is None
