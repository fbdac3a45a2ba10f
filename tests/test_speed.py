"""Speed at a region's scale (issue 16): what makes builds fast must not change a byte.

Requirements: #16.1 (a sharded build equals a one-process build, bytes and diagnostics),
#16.2 (a one-step edit parses one file; unchanged zip members are not compressed again),
#16.3 (`serve` reloads from the watcher's change set).
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

from watchfiles import Change

from builder import package, shard
from builder.diagnostics import Diagnostics
from builder.markdown import LazyBody
from builder.package import zip_bytes
from builder.pipeline import build_dir
from builder.serve import ServeSession

EPOCH = 315532800


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_zip_reuse__unchanged_members_copied_gives_the_same_bytes(tmp_path):
    files = {f"steg/{i}.html": (f"<p>Steg {i}</p>" * (i % 40 + 1)).encode() for i in range(120)}
    files["media/bild-åäö.svg"] = b"<svg/>"
    old = tmp_path / "old.zip"
    old.write_bytes(zip_bytes("p/1.0.0", files, EPOCH))
    changed = dict(files) | {"steg/3.html": b"<p>Nytt</p>", "ny.html": b"<p>Ny</p>"}
    del changed["steg/7.html"]
    assert zip_bytes("p/1.0.0", changed, EPOCH, reuse=old) == zip_bytes("p/1.0.0", changed, EPOCH)
    with zipfile.ZipFile(old) as zf:  # the old zip is a valid zip of the files
        assert zf.read("p/1.0.0/steg/5.html") == files["steg/5.html"]


def test_zip_reuse__a_member_whose_crc_matches_but_bytes_differ_is_compressed_again():
    new, other = b"<p>X</p>" * 30, b"<p>Y</p>" * 30
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    forged = (zlib.crc32(new), len(new), deflate.compress(other) + deflate.flush())  # same CRC and size, other bytes
    assert package._same_member(forged, new) is None
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    assert package._same_member((zlib.crc32(new), len(new), deflate.compress(new) + deflate.flush()), new)


def test_package_writes__two_processes_and_links_equal_a_plain_write(program, config, tmp_path, monkeypatch):
    monkeypatch.setattr(package, "PARALLEL_FILES", 2)  # the fixture has a few dozen files
    root = program()
    one = config.model_copy(update={"jobs": 1, "out": tmp_path / "one", "cache": tmp_path / "c1"})
    two = config.model_copy(update={"jobs": 2, "out": tmp_path / "two", "cache": tmp_path / "c2"})
    a, b = build_dir(root, one, Diagnostics()), build_dir(root, two, Diagnostics())
    assert files_of(a.package.folder) == files_of(b.package.folder)
    assert a.package.zip.read_bytes() == b.package.zip.read_bytes()
    step = root / "modules/01-start/02-mitt-mal.md"
    step.write_text(step.read_text("utf-8") + "\nEn mening till.\n", "utf-8")
    again = build_dir(root, two, Diagnostics())  # links the unchanged files of the previous package
    clean = build_dir(root, two.model_copy(update={"out": tmp_path / "clean", "cache": tmp_path / "c3"}), Diagnostics())
    assert files_of(again.package.folder) == files_of(clean.package.folder)
    assert again.package.zip.read_bytes() == clean.package.zip.read_bytes()


def _build(root: Path, config) -> tuple[object, list]:
    diags = Diagnostics()
    outcome = build_dir(root, config, diags)
    return outcome, [d.as_dict() for d in diags.items]


def test_sharded_build__equals_a_one_process_build_bytes_and_diagnostics(program, config, tmp_path, monkeypatch):
    monkeypatch.setattr(shard, "SHARD_STEPS", 1)  # the fixture has three steps
    root = program({"modules/01-start/02-mitt-mal.md": lambda t: t + "\nKlicka [här](01-valkommen.md).\n"})
    one, one_diags = _build(root, config.model_copy(update={"jobs": 1, "out": tmp_path / "one", "cache": tmp_path / "c1"}))
    two, two_diags = _build(root, config.model_copy(update={"jobs": 2, "out": tmp_path / "two", "cache": tmp_path / "c2"}))
    assert one.package is not None and two.package is not None
    assert any(d["code"] == "A11Y-004" for d in two_diags)  # a step rule's finding came back from a worker
    assert two_diags == one_diags
    assert files_of(two.package.folder) == files_of(one.package.folder)
    assert two.package.zip.read_bytes() == one.package.zip.read_bytes()


def test_sharded_build__a_content_error_is_reported_as_in_one_process(program, config, tmp_path, monkeypatch):
    monkeypatch.setattr(shard, "SHARD_STEPS", 1)
    root = program({"modules/01-start/02-mitt-mal.md": lambda t: t.replace("::: form mal", "::: form finns-inte")})
    one, one_diags = _build(root, config.model_copy(update={"jobs": 1, "out": tmp_path / "one", "cache": tmp_path / "c1"}))
    two, two_diags = _build(root, config.model_copy(update={"jobs": 2, "out": tmp_path / "two", "cache": tmp_path / "c2"}))
    assert one.package is None and two.package is None
    assert two_diags == one_diags and any(d["code"] == "REF-001" for d in two_diags)


def test_one_step_edit__parses_exactly_that_step(program, config, tmp_path):
    root = program()
    cfg = config.model_copy(update={"cache": tmp_path / "cache"})
    first, first_diags = _build(root, cfg)
    step = root / "modules/01-start/02-mitt-mal.md"
    step.write_text(step.read_text("utf-8") + "\nEn mening till.\n", "utf-8")
    before = LazyBody.parses
    again, again_diags = _build(root, cfg)
    assert LazyBody.parses - before == 1
    assert again.report.rebuilt == ["index.html", "start/mitt-mal.html"]
    clean, clean_diags = _build(root, cfg.model_copy(update={"out": tmp_path / "clean", "cache": tmp_path / "c2"}))
    assert again_diags == clean_diags
    assert files_of(again.package.folder) == files_of(clean.package.folder)


def test_summaries__a_changed_setting_checks_the_steps_again(program, config, tmp_path):
    root = program()
    cfg = config.model_copy(update={"cache": tmp_path / "cache"})
    _build(root, cfg)
    path = root / "program.yaml"
    path.write_text(path.read_text("utf-8") + "silence: [READ-002]\n", "utf-8")
    before = LazyBody.parses
    _, diags = _build(root, cfg)
    assert LazyBody.parses - before == 3  # every step's findings depend on what is silenced
    _, clean = _build(root, cfg.model_copy(update={"out": tmp_path / "clean", "cache": tmp_path / "c2"}))
    assert diags == clean


def _session_view(session: ServeSession) -> tuple[dict, list]:
    preview = session.preview
    return dict(preview.files), [d.as_dict() for d in preview.diagnostics]


def test_serve_change_set__modify_add_delete_equal_a_whole_reload(program, config, tmp_path):
    root = program()
    cfg = config.model_copy(update={"audio": False, "pdf": False, "cache": tmp_path / "cache"})
    session = ServeSession(root, cfg, log=lambda _: None)
    session.rebuild()
    step = root / "modules/01-start/02-mitt-mal.md"

    def check(changes, quick: bool) -> None:
        misses = session.memo.misses
        session.rebuild(changes)
        assert (session.memo.misses - misses <= 2) if quick else True  # the step's front matter and body
        fresh = ServeSession(root, cfg, log=lambda _: None)
        fresh.rebuild()
        assert _session_view(session) == _session_view(fresh)

    step.write_text(step.read_text("utf-8").replace("title: ", "title: Nytt ", 1) + "\nKlicka [här](01-valkommen.md).\n",
                    "utf-8")
    check([(Change.modified, step)], quick=True)  # a title edit: neighbours, module and overview follow
    assert "Nytt " in session.preview.files["start/valkommen.html"].decode()
    added = root / "modules/01-start/03-ny.md"
    added.write_text("---\ntitle: Ny\nsection: Kom igång\n---\n# Ny\n\nEtt nytt steg.\n", "utf-8")
    check([(Change.added, added)], quick=False)
    assert "start/ny.html" in session.preview.files
    added.unlink()
    check([(Change.deleted, added)], quick=False)
    assert "start/ny.html" not in session.preview.files
    step.write_text(step.read_text("utf-8").replace("::: form mal", "::: form finns-inte"), "utf-8")
    session.rebuild([(Change.modified, step)])  # an error: the whole reload reports it
    assert session.preview.failed and any(d.code == "REF-001" for d in session.preview.diagnostics)


def test_serve_change_set__a_modified_step_is_the_only_file_read(program, config, tmp_path, monkeypatch):
    root = program()
    cfg = config.model_copy(update={"audio": False, "pdf": False, "cache": tmp_path / "cache"})
    session = ServeSession(root, cfg, log=lambda _: None)
    session.rebuild()
    step = root / "modules/02-fordjupning/01-mer.md"
    step.write_text(step.read_text("utf-8") + "\nEn ny mening.\n", "utf-8")
    read = []
    original = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: read.append(self.name) or original(self))
    session.rebuild([(Change.modified, step)])
    # Steps and YAML are read (and validated) only when changed; media are read by the checks and pages.
    assert [name for name in read if name.endswith((".md", ".yaml"))] == ["01-mer.md"]
    assert "En ny mening." in session.preview.files["fordjupning/mer.html"].decode()


def test_serve_carry__reused_values_equal_a_fresh_computation_edit_after_edit(program, config, tmp_path, monkeypatch):
    """The values of reads carried from one build to the next (issue 16) are those a fresh
    build computes, after a title edit (neighbours, module, overview), a link to a renamed
    title, and a body edit, one after the other; and most are not computed again."""
    from builder import incremental

    root = program()
    cfg = config.model_copy(update={"audio": False, "pdf": False, "cache": tmp_path / "cache"})
    session = ServeSession(root, cfg, log=lambda _: None)
    session.rebuild()
    first, second = root / "modules/01-start/01-valkommen.md", root / "modules/01-start/02-mitt-mal.md"
    computed = []
    original = incremental.InputValues._compute
    monkeypatch.setattr(incremental.InputValues, "_compute",
                        lambda self, kind, name: computed.append(kind) or original(self, kind, name))
    edits = [(second, lambda t: t.replace("title: ", "title: Nytt ", 1)),
             (first, lambda t: t + "\nLäs [nästa](02-mitt-mal.md).\n"),
             (second, lambda t: t + "\nEn mening till.\n"),
             (second, lambda t: t.replace("title: Nytt ", "title: ", 1))]
    for path, change in edits:
        path.write_text(change(path.read_text("utf-8")), "utf-8")
        computed.clear()
        session.rebuild([(Change.modified, path)])
        mine = list(computed)
        fresh = ServeSession(root, cfg, log=lambda _: None)
        fresh.rebuild()
        assert session._outputs == fresh._outputs  # fingerprints, hashes and reads of every page
        assert _session_view(session) == _session_view(fresh)
        # carried: only the edited step's own value is computed again, and no module's metadata
        assert mine.count("step") == 1 and "module" not in mine
    assert "Nytt " not in session.preview.files["start/valkommen.html"].decode()


def test_serve_carry__an_added_step_computes_neighbours_again(program, config, tmp_path):
    root = program()
    cfg = config.model_copy(update={"audio": False, "pdf": False, "cache": tmp_path / "cache"})
    session = ServeSession(root, cfg, log=lambda _: None)
    session.rebuild()
    added = root / "modules/01-start/03-mellan.md"  # between 02-mitt-mal and the next module's first step
    added.write_text("---\ntitle: Mellan\nsection: Kom igång\n---\n# Mellan\n\nEtt steg emellan.\n", "utf-8")
    session.rebuild([(Change.added, added)])
    fresh = ServeSession(root, cfg, log=lambda _: None)
    fresh.rebuild()
    assert session._outputs == fresh._outputs
    assert "Mellan" in session.preview.files["start/mitt-mal.html"].decode()  # its new neighbour's title


def test_serve_gc__the_loaded_program_is_frozen_after_a_whole_reload(program, config, tmp_path):
    """`stegvis serve` keeps the collector's full passes off the program it holds (issue 16):
    they cost 0.3 s every few saves at 2,000 steps."""
    import gc

    root = program()
    cfg = config.model_copy(update={"audio": False, "pdf": False, "cache": tmp_path / "cache"})
    try:
        gc.unfreeze()
        plain = ServeSession(root, cfg, log=lambda _: None)
        plain.rebuild()
        assert gc.get_freeze_count() == 0  # only when asked (the command asks; tests and tools need not)
        session = ServeSession(root, cfg, log=lambda _: None, freeze_gc=True)
        session.rebuild()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_package_rewrite__an_intact_package_is_linked_and_zipped_without_reading(program, config, tmp_path,
                                                                                 monkeypatch):
    """After an edit, the previous package (every file's size and time as the state recorded)
    tells by its manifest which files are unchanged: they are linked and their zip members
    copied without being read or inflated (issue 16). The result equals a clean build."""
    root = program()
    cfg = config.model_copy(update={"cache": tmp_path / "cache"})
    _build(root, cfg)
    step = root / "modules/01-start/02-mitt-mal.md"
    step.write_text(step.read_text("utf-8") + "\nEn mening till.\n", "utf-8")
    inflated = []
    original = zlib.decompress
    monkeypatch.setattr(package.zlib, "decompress", lambda *a: inflated.append(1) or original(*a))
    again, _ = _build(root, cfg)
    assert inflated == []
    clean, _ = _build(root, cfg.model_copy(update={"out": tmp_path / "clean", "cache": tmp_path / "c2"}))
    assert files_of(again.package.folder) == files_of(clean.package.folder)
    assert again.package.zip.read_bytes() == clean.package.zip.read_bytes()


def test_package_rewrite__a_package_file_changed_by_hand_is_compared_byte_for_byte(program, config, tmp_path,
                                                                                   monkeypatch):
    root = program()
    cfg = config.model_copy(update={"cache": tmp_path / "cache"})
    first, _ = _build(root, cfg)
    css = first.package.folder / "assets/stegvis.css"
    css.write_bytes(b"/* changed by hand */")  # not a page: nothing renders it again, the writer must notice
    step = root / "modules/01-start/02-mitt-mal.md"
    step.write_text(step.read_text("utf-8") + "\nEn mening till.\n", "utf-8")
    inflated = []
    original = zlib.decompress
    monkeypatch.setattr(package.zlib, "decompress", lambda *a: inflated.append(1) or original(*a))
    again, _ = _build(root, cfg)
    assert inflated  # the package is not as recorded: old members are inflated and compared
    clean, _ = _build(root, cfg.model_copy(update={"out": tmp_path / "clean", "cache": tmp_path / "c2"}))
    assert files_of(again.package.folder) == files_of(clean.package.folder)
    assert again.package.zip.read_bytes() == clean.package.zip.read_bytes()


def test_serve_carry__a_renamed_step_file_moves_the_links_to_it(program, config, tmp_path):
    """A link resolves by file: renaming 02-mitt-mal.md to 03-mitt-mal.md keeps the step's id
    and place but breaks the link to the old name; no carried value may hide that."""
    root = program({"modules/01-start/01-valkommen.md": lambda t: t + "\nLäs [nästa](02-mitt-mal.md).\n"})
    cfg = config.model_copy(update={"audio": False, "pdf": False, "cache": tmp_path / "cache"})
    session = ServeSession(root, cfg, log=lambda _: None)
    session.rebuild()
    assert 'href="mitt-mal.html"' in session.preview.files["start/valkommen.html"].decode()
    old, new = root / "modules/01-start/02-mitt-mal.md", root / "modules/01-start/03-mitt-mal.md"
    old.rename(new)
    session.rebuild([(Change.deleted, old), (Change.added, new)])
    fresh = ServeSession(root, cfg, log=lambda _: None)
    fresh.rebuild()
    assert session.preview.failed and fresh.preview.failed  # the link to the old name is broken
    assert _session_view(session)[1] == _session_view(fresh)[1]
    assert any(d.code == "REF-002" for d in session.preview.diagnostics)
    new.rename(old)
    session.rebuild([(Change.deleted, new), (Change.added, old)])
    fresh = ServeSession(root, cfg, log=lambda _: None)
    fresh.rebuild()
    assert _session_view(session) == _session_view(fresh)
    assert session._outputs == fresh._outputs
