"""Overlays that extend a built base package (zip or package folder), and the sources every
package carries (issue #6: "extends: a base program folder or a built base package (zip)")."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from builder.base_package import open_base_package, package_sources, resolved_sources
from builder.cli import main
from builder.diagnostics import Diagnostics
from builder.diff import diff_packages, open_package
from builder.pipeline import build_dir, check_dir
from builder.resolve import resolve_program
from builder.state import source_roots
from builder.validate import validate_program
from builder.yamlsrc import parse_yaml
from tests.conftest import FIXTURES, ROOT
from tests.test_overlay import diagnose, edit

BASE_ZIP = "dist/testprogram-0.1.0.zip"


@pytest.fixture
def trees(tmp_path, monkeypatch) -> Path:
    """The minimal base and the overlay fixture side by side; paths shown relative to them."""
    for name in ("minimal", "overlay"):
        shutil.copytree(FIXTURES / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def build(root: Path, out: Path, config) -> Path:
    """Build a program folder into `out`; the package folder."""
    diags = Diagnostics()
    outcome = build_dir(root, config.model_copy(update={"out": out}), diags)
    assert outcome.package is not None, [d.as_dict() for d in diags.items]
    return outcome.package.folder


def extend(trees: Path, target: str, overlay: str = "overlay") -> None:
    """Point the overlay's extends: at `target` (relative to the overlay folder)."""
    edit(trees / overlay / "program.yaml", "extends: ../minimal", f"extends: {target}")


def pages(folder: Path) -> dict[str, bytes]:
    """Every file of a package that patients get (not the manifest, the sources or program.json's hashes)."""
    out = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    program = json.loads(out.pop("program.json"))
    program.pop("content_hash", None)
    out["program.json"] = json.dumps(program, sort_keys=True).encode()
    return {k: v for k, v in out.items() if k != "manifest.json" and not k.startswith("source/")}


def rewrite_zip(src: Path, dest: Path, change) -> None:
    """Copy a package zip entry by entry; `change(name, data)` returns new bytes or None to drop the entry."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w") as zout:
        for info in zin.infolist():
            data = change(info.filename, zin.read(info))
            if data is not None:
                zout.writestr(info, data)


# --- packages carry their sources ---------------------------------------------------------

def test_package__carries_sources_listed_in_manifest__ok(trees, config):
    folder = build(trees / "minimal", trees / "dist", config)
    manifest = json.loads((folder / "manifest.json").read_text())
    sources = {rel for rel in manifest["files"] if rel.startswith("source/")}
    assert "source/program.yaml" in sources and "source/modules/01-start/01-valkommen.md" in sources
    assert (folder / "source/modules/01-start/01-valkommen.md").read_bytes() == \
        (trees / "minimal/modules/01-start/01-valkommen.md").read_bytes()
    note = manifest["source"]
    assert (note["folder"], note["resolved"]) == ("source", False)
    # Media are not stored twice: the source path names the package file with the same bytes.
    assert note["media"]["media/bilder/sol.svg"] == "media/bilder/sol.8e49a95656.svg"
    assert not any(rel.startswith("source/media/") for rel in sources)
    with zipfile.ZipFile(trees / BASE_ZIP) as zf:
        assert "testprogram/0.1.0/source/program.yaml" in zf.namelist()


def test_package__with_sources_is_served_by_the_runtime__ok(trees, config):
    from runtime.packages import verify_package

    folder = build(trees / "minimal", trees / "dist", config)
    package = verify_package(folder, None)
    assert "source/forms/mal.yaml" in package.files


def test_package__srt_captions_kept_in_sources__ok(program, config):
    srt = b"1\n00:00:00,000 --> 00:00:02,000\nHej.\n"
    root = program({"media/film/extra.sv.srt": srt})
    diags = Diagnostics()
    prog = check_dir(root, diags)
    files, note = package_sources(prog.tree, {"media/film/extra.sv.abc.vtt": b"WEBVTT\n"})
    assert files["source/media/film/extra.sv.srt"] == srt  # the package holds only the WebVTT
    assert "media/film/extra.sv.srt" not in note["media"]


def test_diff__ignores_sources__no_changes(trees, config):
    old = build(trees / "minimal", trees / "a", config)
    new = trees / "b"
    shutil.copytree(old, new)
    changed = "ändrad källa\n".encode()
    (new / "source/forms/mal.yaml").write_bytes(changed)
    # Listed in the manifest as it is now: the diff verifies packages like every reader does.
    manifest = json.loads((new / "manifest.json").read_text())
    manifest["files"]["source/forms/mal.yaml"] |= {"sha256": hashlib.sha256(changed).hexdigest(), "size": len(changed)}
    (new / "manifest.json").write_text(json.dumps(manifest))
    assert diff_packages(open_package(old), open_package(new)).changes == []


# --- an overlay extends a base package ----------------------------------------------------

def test_zip_base__builds_the_same_pages_as_the_folder_base__ok(trees, config):
    build(trees / "minimal", trees / "dist", config)
    from_folder = build(trees / "overlay", trees / "out-folder", config)
    extend(trees, "../" + BASE_ZIP)
    from_zip = build(trees / "overlay", trees / "out-zip", config)
    assert pages(from_zip) == pages(from_folder)
    manifest = json.loads((from_zip / "manifest.json").read_text())
    folder_manifest = json.loads((from_folder / "manifest.json").read_text())
    assert manifest["base"]["package"]["file"] == "testprogram-0.1.0.zip"
    assert len(manifest["base"]["package"]["manifest_sha256"]) == 64
    # The base's per-file hashes are the same whether the base came as a folder or a zip.
    assert manifest["base"]["files"] == folder_manifest["base"]["files"]
    assert manifest["base"]["content_hash"] == folder_manifest["base"]["content_hash"]


def test_package_folder_base__ok(trees, config):
    build(trees / "minimal", trees / "dist", config)
    extend(trees, "../dist/testprogram/0.1.0")
    program = check_dir(trees / "overlay", Diagnostics(), strict=True)
    assert program is not None
    assert [m.id for m in program.modules] == ["start", "region", "fordjupning"]


def test_zip_base__extracted_once_into_the_cache__ok(trees, config):
    build(trees / "minimal", trees / "dist", config)
    first = open_base_package(trees / BASE_ZIP, trees / ".cache")
    assert first.source.parent.parent == trees / ".cache/bases"
    assert (first.source / "program.yaml").is_file()
    assert (first.source / "media/bilder/sol.svg").read_bytes() == (trees / "minimal/media/bilder/sol.svg").read_bytes()
    stamp = (first.source / "program.yaml").stat().st_mtime_ns
    again = open_base_package(trees / BASE_ZIP, trees / ".cache")
    assert again.source == first.source and (again.source / "program.yaml").stat().st_mtime_ns == stamp


def test_zip_base__diagnostics_in_the_base_name_the_zip(trees, config):
    edit(trees / "minimal/modules/02-fordjupning/01-mer.md", "# Mer att läsa", "### Mer att läsa")
    build(trees / "minimal", trees / "dist", config)  # a warning does not stop the base's build
    extend(trees, "../" + BASE_ZIP)
    found = diagnose(trees / "overlay")
    assert ("A11Y-008", "dist/testprogram-0.1.0.zip!source/modules/02-fordjupning/01-mer.md", 7) in found


def test_zip_base__tampered_source__error(trees, config):
    build(trees / "minimal", trees / "dist", config)

    def change(name: str, data: bytes) -> bytes:
        return data.replace(b"Skriv", b"Skrev") if name.endswith("source/modules/01-start/02-mitt-mal.md") else data

    rewrite_zip(trees / BASE_ZIP, trees / "tampered.zip", change)
    extend(trees, "../tampered.zip")
    assert diagnose(trees / "overlay") == [("OVERLAY-008", "overlay/program.yaml", 1)]
    diags = Diagnostics()
    resolve_program(trees / "overlay", diags)
    assert "source/modules/01-start/02-mitt-mal.md" in diags.items[0].message
    assert main(["drift", "overlay"]) == 2  # drift refuses the package the same way


def test_zip_base__one_changed_byte_in_the_zip__error(trees, config):
    build(trees / "minimal", trees / "dist", config)
    with zipfile.ZipFile(trees / BASE_ZIP) as zin, zipfile.ZipFile(trees / "stored.zip", "w") as zout:
        for info in zin.infolist():  # stored, not deflated, so the step's text is in the zip as it is
            data = zin.read(info)
            info.compress_type = zipfile.ZIP_STORED
            zout.writestr(info, data)
    raw = (trees / "stored.zip").read_bytes()
    at = raw.index("Skriv ditt mål".encode(), raw.index(b"source/modules/01-start/02-mitt-mal.md"))
    (trees / "stored.zip").write_bytes(raw[:at] + b"s" + raw[at + 1:])
    extend(trees, "../stored.zip")
    assert diagnose(trees / "overlay") == [("OVERLAY-008", "overlay/program.yaml", 1)]


def test_zip_base__file_not_in_manifest__error(trees, config):
    build(trees / "minimal", trees / "dist", config)
    shutil.copy(trees / BASE_ZIP, trees / "extra.zip")
    with zipfile.ZipFile(trees / "extra.zip", "a") as zf:
        zf.writestr("testprogram/0.1.0/source/modules/01-start/03-smuggel.md", "---\ntitle: X\n---\n# X\n")
    extend(trees, "../extra.zip")
    assert diagnose(trees / "overlay") == [("OVERLAY-008", "overlay/program.yaml", 1)]


def test_zip_base__package_without_sources__error(trees, config):
    build(trees / "minimal", trees / "dist", config)

    def old_style(name: str, data: bytes) -> bytes | None:
        """What a package looked like before packages carried their sources."""
        if "/source/" in name:
            return None
        if name.endswith("manifest.json"):
            manifest = json.loads(data)
            manifest.pop("source")
            manifest["files"] = {k: v for k, v in manifest["files"].items() if not k.startswith("source/")}
            return json.dumps(manifest).encode()
        return data

    rewrite_zip(trees / BASE_ZIP, trees / "old.zip", old_style)
    extend(trees, "../old.zip")
    assert diagnose(trees / "overlay") == [("OVERLAY-009", "overlay/program.yaml", 1)]


def test_zip_base__not_a_package__error(trees):
    (trees / "trasig.zip").write_bytes(b"inte en zip")
    extend(trees, "../trasig.zip")
    assert diagnose(trees / "overlay") == [("OVERLAY-007", "overlay/program.yaml", 1)]


def test_zip_base__missing__error(trees):
    extend(trees, "../dist/saknas-1.0.0.zip")
    assert diagnose(trees / "overlay") == [("OVERLAY-001", "overlay/program.yaml", 1)]


def test_zip_base__a_new_zip_is_a_changed_input__incremental(trees, config):
    build(trees / "minimal", trees / "dist", config)
    extend(trees, "../" + BASE_ZIP)
    assert trees / BASE_ZIP in source_roots(trees / "overlay")
    build(trees / "overlay", trees / "out", config)
    assert build_dir(trees / "overlay", config.model_copy(update={"out": trees / "out"}),
                     Diagnostics()).package.unchanged
    edit(trees / "minimal/modules/02-fordjupning/01-mer.md", "Här finns mer text.", "Här finns ny text.")
    build(trees / "minimal", trees / "dist", config)
    diags = Diagnostics()
    outcome = build_dir(trees / "overlay", config.model_copy(update={"out": trees / "out"}), diags)
    assert not outcome.package.unchanged
    assert "ny text" in (outcome.package.folder / "fordjupning/mer.html").read_text()


# --- drift against a zip base -------------------------------------------------------------

def test_drift__zip_base__change_listed_and_accepted(trees, config, capsys):
    build(trees / "minimal", trees / "dist", config)
    extend(trees, "../" + BASE_ZIP)
    assert main(["drift", "overlay"]) == 0  # the lock's hashes are the base folder's: the same files
    edit(trees / "minimal/modules/01-start/01-valkommen.md", "Det här är ett kort steg.", "Det här är ett nytt steg.")
    edit(trees / "minimal/program.yaml", "version: 0.1.0", "version: 0.2.0")
    build(trees / "minimal", trees / "dist", config)
    edit(trees / "overlay/program.yaml", "testprogram-0.1.0.zip", "testprogram-0.2.0.zip")
    assert ("OVERLAY-101", "overlay/modules/01-start/01-valkommen.md", 1) in diagnose(trees / "overlay")
    capsys.readouterr()
    assert main(["drift", "overlay"]) == 1
    out = capsys.readouterr().out
    assert "modules/01-start/01-valkommen.md: basen har ändrats" in out
    assert "-Det här är ett kort steg." in out and "+Det här är ett nytt steg." in out
    assert main(["drift", "overlay", "--accept", "modules/01-start/01-valkommen.md"]) == 0
    assert main(["drift", "overlay"]) == 0
    assert "nytt steg" in (trees / "overlay/.base/modules/01-start/01-valkommen.md").read_text()
    assert check_dir(trees / "overlay", Diagnostics(), strict=True) is not None


# --- an overlay's package: its resolved tree ---------------------------------------------

def test_overlay_package__sources_are_the_resolved_tree__ok(trees, config):
    build(trees / "minimal", trees / "dist", config)
    folder = build(trees / "overlay", trees / "dist", config)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["source"]["resolved"] is True
    assert manifest["source"]["hidden"] == ["start/mitt-mal"]
    source = folder / "source"
    assert (source / "modules/01-start/01-valkommen.md").read_bytes() == \
        (trees / "overlay/modules/01-start/01-valkommen.md").read_bytes()
    assert (source / "modules/01-start/02-mitt-mal.md").read_bytes() == \
        (trees / "minimal/modules/01-start/02-mitt-mal.md").read_bytes()
    assert not (source / "overlay.lock").exists() and not (source / ".base").exists()
    text = (source / "program.yaml").read_text()
    doc = parse_yaml(text, "program.yaml", Diagnostics())
    assert "extends" not in doc.data and "hide" not in doc.data
    assert doc.data["modules"] == ["start", "region", "fordjupning"]
    assert doc.data["lexicon"] == {"t.ex.": "till exempel", "Luleå": "Luleå"}
    assert doc.data == resolve_program(trees / "overlay", Diagnostics()).program.data  # read back as merged


def test_overlay_package__removed_content_left_out(trees, config):
    edit(trees / "overlay/program.yaml", "  - fordjupning\n", "")
    (trees / "overlay/program.yaml").write_text((trees / "overlay/program.yaml").read_text()
                                                + "remove:\n  modules: [fordjupning]\n  activity_plans: [steg]\n")
    diags = Diagnostics()
    tree = resolve_program(trees / "overlay", diags)
    assert validate_program(tree, diags) is not None
    files = resolved_sources(tree)
    assert not any(rel.startswith("modules/02-fordjupning/") for rel in files)
    assert "activity-plans/steg.yaml" not in files and "activity-plans/stegmal.yaml" in files
    assert "base:program.yaml" not in files


def test_overlay_package__lexicon_files_of_base_and_overlay_merged(trees):
    (trees / "minimal/lexicon.yaml").write_text("FRAMÅT: Framåt\nt.ex.: till exempel\n")
    (trees / "overlay/lexicon.yaml").write_text("t.ex.: till exempel, \"så som\"\nLuleå: Luleå\n")
    files = resolved_sources(resolve_program(trees / "overlay", Diagnostics()))
    diags = Diagnostics()
    doc = parse_yaml(files["lexicon.yaml"].decode(), "lexicon.yaml", diags)
    assert not diags.items
    assert doc.data == {"FRAMÅT": "Framåt", "t.ex.": 'till exempel, "så som"', "Luleå": "Luleå"}


def test_overlay_on_an_overlay_package__same_pages_as_on_the_overlay_folder__ok(trees, config):
    build(trees / "minimal", trees / "dist", config)
    build(trees / "overlay", trees / "dist", config)
    for name, target in (("third-folder", "../overlay"), ("third-zip", "../dist/testprogram-region-0.1.0.zip")):
        (trees / name).mkdir()
        (trees / name / "program.yaml").write_text(
            f"extends: {target}\nid: tredje\ntitle: Tredje\nversion: 0.1.0\npublisher: Region Tre\n")
    from_folder = build(trees / "third-folder", trees / "out-folder", config)
    from_zip = build(trees / "third-zip", trees / "out-zip", config)
    assert pages(from_zip) == pages(from_folder)
    program = check_dir(trees / "third-zip", Diagnostics())
    assert {s.id: s.meta.visible for s in program.steps}["mitt-mal"] is False  # the base's hide: kept


def test_norrbotten__on_the_framat_zip_and_from_its_own_sources__same_pages(tmp_path, config, monkeypatch):
    """The real programs: Norrbotten on FRAMÅT's zip, and Norrbotten's package's resolved sources built alone."""
    monkeypatch.chdir(tmp_path)
    build(ROOT / "content", tmp_path / "dist", config)
    from_folder = build(ROOT / "regions/norrbotten", tmp_path / "out-folder", config)
    shutil.copytree(ROOT / "regions/norrbotten", tmp_path / "regions/norrbotten")
    edit(tmp_path / "regions/norrbotten/program.yaml", "extends: ../../content", "extends: ../../dist/framat-1.0.0.zip")
    strict = config.model_copy(update={"strict": True})  # no drift warning either: the lock still holds
    from_zip = build(tmp_path / "regions/norrbotten", tmp_path / "out-zip", strict)
    assert pages(from_zip) == pages(from_folder)
    resolved = open_base_package(tmp_path / "out-folder/framat-norrbotten-1.0.0.zip")
    shutil.copytree(resolved.source, tmp_path / "flat")
    alone = build(tmp_path / "flat", tmp_path / "out-flat", config)
    # Issue 17: the resolved sources have Norrbotten's words (terms:), so a step reviewed as
    # FRAMÅT's text is, built alone, no longer the text its review hash was made for.
    rewritten = set(resolved.manifest["base"]["terms"]["files"])
    assert without_review(pages(alone), rewritten) == without_review(pages(from_folder), rewritten)


def without_review(files: dict[str, bytes], rewritten: set[str]) -> dict[str, bytes]:
    """`pages()` with the review status of the steps whose words terms: replaced left out."""
    program = json.loads(files["program.json"])
    for module in program["modules"]:
        for section in module["sections"]:
            for step in section["steps"]:
                if any(rel.endswith(f"-{step['id']}.md") for rel in rewritten):
                    step.pop("review_status")
    return files | {"program.json": json.dumps(program, sort_keys=True).encode()}
