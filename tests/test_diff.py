"""Version diffs, compatibility classes and the build's version check (issue #6).

Each test builds the minimal fixture as version A and an edited copy as version B,
then compares the packages with `builder.diff` or `stegvis diff`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builder.cli import main
from builder.compat import MAJOR, MINOR, NONE, PATCH, classify, required_version, version_suffices
from builder.diagnostics import Diagnostics
from builder.diff import PackageDiff, diff_packages, format_text, open_package, step_text, word_diff
from builder.pipeline import build_dir

WELCOME = "modules/01-start/01-valkommen.md"
GOAL = "modules/01-start/02-mitt-mal.md"
FORM = "forms/mal.yaml"


def sub(old: str, new: str):
    def edit(text: str) -> str:
        assert old in text, f"{old!r} not in fixture"
        return text.replace(old, new)
    return edit


def version(v: str):
    return sub("version: 0.1.0", f"version: {v}")


@pytest.fixture
def build(program, config, tmp_path):
    """Build the fixture with edits into its own out folder (or `out`); returns the package folder."""
    counter = iter(range(100))

    def run(edits=None, out: Path | None = None, **changes) -> Path:
        cfg = config.model_copy(update={"out": out or tmp_path / f"out{next(counter)}", **changes})
        diags = Diagnostics()
        outcome = build_dir(program(edits), cfg, diags)
        assert outcome.package is not None, [f"{d.code} {d.message}" for d in diags.items]
        return outcome.package.folder
    return run


def diff(old: Path, new: Path) -> PackageDiff:
    return diff_packages(open_package(old), open_package(new))


def changes(d: PackageDiff) -> set[tuple[str, str, str, str]]:
    return {(c.level.label, c.area, c.action, c.ref) for c in d.changes}


def test_text_edit__patch_with_word_diff(build):
    a = build()
    b = build({WELCOME: sub("ett kort steg", "ett långt steg"), "program.yaml": version("0.1.1")})
    d = diff(a, b)
    assert d.level is PATCH and d.required_version == "0.1.1" and d.version_ok
    [change] = d.changes
    assert (change.area, change.ref, change.field) == ("step", "start/valkommen", "text")
    assert change.word_diff == ("… Det här är ett {-kort-}{+långt+} steg. Du läser det …",)
    text = format_text(d)
    assert "[patch] Steg start/valkommen ”Välkommen”: text ändrad" in text
    assert "{-kort-}{+långt+}" in text
    assert "Minsta tillåtna version efter 0.1.0: 0.1.1. Version 0.1.1 räcker." in text


def test_title_help_and_visibility__patch(build):
    a = build()
    b = build({
        WELCOME: sub("title: Välkommen", "title: Välkommen hit\nvisible: false"),
        FORM: sub("help: Skriv med egna ord.", "help: Skriv med dina egna ord."),
    })
    d = diff(a, b)
    assert d.level is PATCH
    fields = {(c.ref, c.field) for c in d.changes}
    assert {("start/valkommen", "title"), ("start/valkommen", "visible"), ("mal/mal", "help")} <= fields


def test_added_step_and_question__minor(build):
    a = build()
    b = build({
        "modules/01-start/03-nytt.md": "---\ntitle: Nytt steg\nsection: Kom igång\n---\n# Nytt steg\n\nNy text.\n",
        FORM: sub("  - id: start\n", "  - id: kanske\n    type: text\n    label: Något mer?\n  - id: start\n"),
        "program.yaml": version("0.2.0"),
    })
    d = diff(a, b)
    assert changes(d) == {("minor", "step", "added", "start/nytt"), ("minor", "question", "added", "mal/kanske")}
    assert d.level is MINOR and d.required_version == "0.2.0" and d.version_ok
    text = format_text(d)
    assert "[minor] Steg tillagt: start/nytt ”Nytt steg” (avsnitt ”Kom igång”)" in text
    assert "[minor] Fråga tillagd: mal/kanske ”Något mer?” (text)" in text


def test_removed_step__major(build):
    a = build()
    b = build({GOAL: None, WELCOME: sub("[nästa steg om målet](02-mitt-mal.md)", "nästa steg")})
    d = diff(a, b)
    assert ("major", "step", "removed", "start/mitt-mal") in changes(d)
    assert d.level is MAJOR and d.required_version == "1.0.0" and not d.version_ok
    assert "[major] Steg borttaget: start/mitt-mal ”Mitt mål”" in format_text(d)


def test_removed_question__major(build):
    a = build()
    b = build({FORM: sub("  - id: start\n    type: date\n    label: När börjar du?\n", "")})
    d = diff(a, b)
    assert changes(d) == {("major", "question", "removed", "mal/start")}
    assert "[major] Fråga borttagen: mal/start ”När börjar du?”" in format_text(d)


def test_changed_question_type__major(build):
    a = build()
    b = build({FORM: sub("type: date", "type: text")})
    d = diff(a, b)
    [change] = d.changes
    assert (change.level, change.ref, change.field, change.old, change.new) == (MAJOR, "mal/start", "type", "date", "text")


def test_changed_option_values__major(build):
    a = build()
    b = build({FORM: sub("{value: nej, label: Nej, points: 0}", "{value: aldrig, label: Aldrig, points: 0}")})
    d = diff(a, b)
    assert d.level is MAJOR
    assert {(c.level, c.action, c.ref, c.field) for c in d.changes} == {
        (MAJOR, "removed", "mal/roker", "option"), (MINOR, "added", "mal/roker", "option")}
    assert "svarsalternativ borttaget: ”nej” (Nej)" in format_text(d)


def test_changed_option_value_same_label__one_major_change(build):
    a = build()
    b = build({FORM: sub("{value: ork, label: Ork, points: 1}", "{value: orka, label: Ork, points: 1}")})
    [change] = diff(a, b).changes
    assert (change.level, change.ref, change.field, change.old, change.new) == (
        MAJOR, "mal/hinder", "option.value", "ork", "orka")


def test_changed_points_and_band_limits__major(build):
    a = build()
    b = build({FORM: lambda t: t.replace("label: Nej, points: 0", "label: Nej, points: 1")
               .replace("{min: 0, max: 3, label: Låg}", "{min: 0, max: 2, label: Låg}")
               .replace("{min: 4, max: 8", "{min: 3, max: 8")})
    d = diff(a, b)
    assert {(c.level, c.field) for c in d.changes} == {(MAJOR, "option.points"), (MAJOR, "scoring.limits")}


def test_removed_activity_plan__major(build):
    a = build()
    b = build({"activity-plans/stegmal.yaml": None,
               "activity-plans/steg.yaml": sub("  goal_from: {plan: stegmal, field: mal}\n", "")})
    d = diff(a, b)
    assert changes(d) == {("major", "plan", "removed", "stegmal"), ("patch", "plan", "changed", "steg")}
    assert "[major] Aktivitetsplan borttagen: stegmal ”Mitt stegmål”" in format_text(d)


def test_changed_activity_plan_field_type__major(build):
    a = build()
    b = build({
        "activity-plans/steg.yaml": lambda t: t.replace("type: number\n    label: Antal steg", "type: scale\n    label: Antal steg")
        .replace("    unit: steg\n", "").replace("    min: 0\n", "    min: 0\n    max: 10\n"),
    })
    d = diff(a, b)
    assert (MAJOR, "field", "steg/steg", "type") in {(c.level, c.area, c.ref, c.field) for c in d.changes}
    assert d.level is MAJOR


def test_zip__same_diff_as_folder(build):
    a = build()
    b = build({WELCOME: sub("ett kort steg", "ett långt steg"), FORM: sub("type: date", "type: text"),
               "program.yaml": version("1.0.0")})
    zips = [p.parent.parent / f"testprogram-{p.name}.zip" for p in (a, b)]
    assert all(z.is_file() for z in zips)
    assert diff(*zips) == diff(a, b)
    assert diff(a, zips[1]) == diff(a, b)


def test_cli_json__structured_changes(build, capsys):
    a = build()
    b = build({FORM: sub("type: date", "type: text"), "program.yaml": version("0.2.0")})
    assert main(["diff", str(a), str(b), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["old"] == {"program": "testprogram", "version": "0.1.0"}
    assert (data["level"], data["required_version"], data["version_ok"]) == ("major", "1.0.0", False)
    assert data["counts"] == {"major": 1, "minor": 0, "patch": 0}
    assert data["changes"] == [{"level": "major", "area": "question", "action": "changed", "ref": "mal/start",
                                "field": "type", "message": "Fråga mal/start ”När börjar du?”: frågetyp ”date” → ”text”",
                                "old": "date", "new": "text"}]


def test_cli_text__exit_0_with_overall_class(build, capsys):
    a = build()
    b = build({FORM: sub("type: date", "type: text")})
    assert main(["diff", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("testprogram 0.1.0 → 0.1.0: 1 ändring, klass major.")
    assert "Klass: major" in out and "Minsta tillåtna version efter 0.1.0: 1.0.0. Version 0.1.0 räcker inte." in out


def test_identical_packages__inga_andringar(build, capsys):
    a, b = build(), build()
    d = diff(a, b)
    assert d.changes == [] and d.level is NONE and d.required_version is None
    assert main(["diff", str(a), str(b)]) == 0
    assert capsys.readouterr().out.strip() == "testprogram 0.1.0 → 0.1.0: inga ändringar."


def test_not_a_package__exit_2(tmp_path, build, capsys):
    a = build()
    assert main(["diff", str(a.parent), str(a)]) == 2
    assert "manifest.json saknas" in capsys.readouterr().err
    assert main(["diff", str(tmp_path / "nope.zip"), str(a)]) == 2


def test_build__version_too_small__refused_and_nothing_written(program, config):
    first = build_dir(program(), config, Diagnostics())
    assert first.package is not None
    root = program({FORM: sub("type: date", "type: text"), "program.yaml": version("0.2.0")})
    diags = Diagnostics()
    outcome = build_dir(root, config, diags)
    assert outcome.package is None
    assert [(d.code, d.path.endswith("program.yaml"), d.line) for d in diags.items] == [("PACKAGE-002", True, 3)]
    assert "minst 1.0.0" in diags.items[0].hint and "major" in diags.items[0].message
    assert not (config.out / "testprogram" / "0.2.0").exists()
    assert not (config.out / "testprogram-0.2.0.zip").exists()
    assert sorted(p.name for p in (config.out / "testprogram").iterdir()) == ["0.1.0"]


def test_build__version_large_enough__accepted(program, config):
    build_dir(program(), config, Diagnostics())
    diags = Diagnostics()
    root = program({FORM: sub("type: date", "type: text"), "program.yaml": version("1.0.0")})
    outcome = build_dir(root, config, diags)
    assert outcome.package is not None and not diags.items


def test_build__compares_with_newest_lower_version(program, config):
    build_dir(program(), config, Diagnostics())
    build_dir(program({FORM: sub("type: date", "type: text"), "program.yaml": version("1.0.0")}), config, Diagnostics())
    # A text edit after 1.0.0 is a patch: 1.0.1 is enough, although 0.1.0 -> 1.0.1 would need 1.0.0 anyway.
    diags = Diagnostics()
    root = program({FORM: sub("type: date", "type: text"), WELCOME: sub("ett kort steg", "ett långt steg"),
                    "program.yaml": version("1.0.1")})
    assert build_dir(root, config, diags).package is not None and not diags.items
    # 1.0.2 that removes a question from 1.0.1 is refused.
    root = program({FORM: sub("  - id: start\n    type: date\n    label: När börjar du?\n", ""),
                    WELCOME: sub("ett kort steg", "ett långt steg"), "program.yaml": version("1.0.2")})
    diags = Diagnostics()
    assert build_dir(root, config, diags).package is None
    assert [d.code for d in diags.items] == ["PACKAGE-002"] and "minst 2.0.0" in diags.items[0].hint


def test_build__same_version_rebuilt__not_checked(program, config):
    build_dir(program(), config, Diagnostics())
    diags = Diagnostics()
    outcome = build_dir(program({FORM: sub("type: date", "type: text")}), config, diags)
    assert outcome.package is not None and not diags.items  # plain rebuilds replace; --release is PACKAGE-001


def test_cli_build__previous_zip__refused_exit_1(build, program, tmp_path, capsys):
    old = build(out=tmp_path / "released")
    zip_path = old.parent.parent / "testprogram-0.1.0.zip"
    root = program({GOAL: None, WELCOME: sub("[nästa steg om målet](02-mitt-mal.md)", "nästa steg"),
                    "program.yaml": version("0.1.1")})
    out = tmp_path / "fresh"
    args = ["build", str(root), "--out", str(out), "--no-audio", "--no-pdf", "--previous", str(zip_path)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "error PACKAGE-002" in err and "Steg borttaget: start/mitt-mal" in err and "minst 1.0.0" in err
    assert not out.joinpath("testprogram").exists()
    assert main([*args[:-2], "--previous", str(tmp_path / "nope.zip")]) == 2
    (root / "program.yaml").write_text((root / "program.yaml").read_text().replace("0.1.1", "1.0.0"))
    assert main(args) == 0


def test_step_text__article_without_forms_and_players():
    html = ('<html><body><nav>Meny</nav><article class="step"><h1>Rubrik</h1><figure class="readout">'
            '<figcaption>Lyssna</figcaption><audio><a href="x">Ladda ner</a></audio></figure>'
            '<p>Ett <strong>fint</strong> steg.<br>Rad två.</p><img src="a.svg" alt="En sol">'
            '<section class="form"><label>Fråga?</label><input name="x"></section><p>Slut &amp; klart.</p>'
            '</article><footer>Sidfot</footer></body></html>')
    assert step_text(html) == "Rubrik Ett fint steg. Rad två. [Bild: En sol] Slut & klart."


def test_word_diff__context_and_separate_places():
    old = " ".join(f"ord{i}" for i in range(30))
    new = old.replace("ord2 ", "ORD2 ").replace("ord25", "ord25 extra")
    assert word_diff(old, new) == ["ord0 ord1 {-ord2-}{+ORD2+} ord3 ord4 ord5 ord6 …",
                                   "… ord22 ord23 ord24 ord25 {+extra+} ord26 ord27 ord28 ord29"]


@pytest.mark.parametrize(("old", "level", "new", "ok"), [
    ("1.0.0", MAJOR, "2.0.0", True), ("1.0.0", MAJOR, "1.9.0", False), ("1.0.0", MAJOR, "2.0.0-rc.1", True),
    ("1.2.3", MINOR, "1.3.0", True), ("1.2.3", MINOR, "1.2.4", False), ("1.2.3", PATCH, "1.2.4", True),
    ("1.2.3", PATCH, "1.2.3", False), ("1.0.0-rc.1", MAJOR, "1.0.0", True), ("1.0.0", NONE, "1.0.0", True),
])
def test_version_suffices__semver_steps(old, level, new, ok):
    assert version_suffices(old, new, level) is ok


def test_required_version__smallest_bump():
    assert [required_version("1.2.3", lvl) for lvl in (MAJOR, MINOR, PATCH, NONE)] == ["2.0.0", "1.3.0", "1.2.4", None]


def test_classify__ranges_and_required_by_direction():
    assert classify("question", "max", 10, 20) is MINOR and classify("question", "max", 20, 10) is MAJOR
    assert classify("question", "min", 0, 1) is MAJOR and classify("field", "min", 1, None) is MINOR
    assert classify("question", "required", False, True) is MAJOR
    assert classify("question", "required", True, False) is MINOR
    assert classify("plan", "schedule.days", {}, {"måndag": "18:00"}) is PATCH


def test_build__version_too_small__refused_before_pdfs_are_made(program, config, monkeypatch):
    # The check runs on the pages and program.json, so a refused build spends nothing on audio or PDFs.
    import builder.render.pdf as pdf

    build_dir(program(), config, Diagnostics())
    made = []
    monkeypatch.setattr(pdf, "render_pdfs", lambda *a, **k: made.append(1) or pytest.fail("PDFs made"))
    root = program({FORM: sub("  - id: start\n    type: date\n    label: När börjar du?\n", ""),
                    "program.yaml": version("0.2.0")})
    diags = Diagnostics()
    outcome = build_dir(root, config.model_copy(update={"pdf": True}), diags)
    assert outcome.package is None and [d.code for d in diags.items] == ["PACKAGE-002"] and made == []
