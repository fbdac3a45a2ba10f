"""Regional vocabulary in overlays (issue 17): `terms: {vårdcentral: hälsocentral}` applied to
the text an overlay inherits, its report, its lock and drift (OVERLAY-103) and its mistakes
(OVERLAY-104..109)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from builder.cli import main
from builder.diagnostics import Diagnostics
from builder.pipeline import build_dir, check_dir, step_readouts
from tests.conftest import ROOT, make_program
from tests.test_overlay import diagnose, edit

TERMS = "terms:\n  vårdcentral: hälsocentral\n"


@pytest.fixture
def trees(tmp_path, monkeypatch) -> Path:
    """The minimal base with the word in inherited text, and the overlay with terms:."""
    make_program(tmp_path, {
        "modules/01-start/02-mitt-mal.md": lambda t: t.replace(
            "Skriv ditt mål här nedan.", "Skriv ditt mål här nedan. Fråga din vårdcentral om du vill.\n\n"
            "Läs mer på [vårdcentralens sida](https://example.invalid/vårdcentral)."),
        "modules/02-fordjupning/01-mer.md": lambda t: t.replace("title: Mer att läsa", "title: Mer om vårdcentralen"),
        "modules/02-fordjupning/module.yaml": lambda t: t + "description: Vårdcentraler och mer.\n",
        "forms/mal.yaml": lambda t: t.replace("help: Skriv med egna ord.", "help: Skriv med egna ord, som på vårdcentralen."),
    }, "minimal")
    make_program(tmp_path, {"program.yaml": lambda t: t + TERMS}, "overlay")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def codes(found, code: str) -> list[tuple[str, int]]:
    return [(path, line) for c, path, line in found if c == code]


def test_terms__inherited_text_replaced__ok(trees):
    program = check_dir(trees / "overlay", Diagnostics())
    steps = {s.id: s for s in program.steps}
    assert "Fråga din hälsocentral om du vill." in steps["mitt-mal"].source.body
    assert "(https://example.invalid/vårdcentral)" in steps["mitt-mal"].source.body  # the URL is not text
    assert "[hälsocentralens sida]" in steps["mitt-mal"].source.body
    assert steps["mer"].meta.title == "Mer om hälsocentralen"
    assert program.modules[2].meta.description == "Hälsocentraler och mer."
    assert program.forms["mal"].form.questions[2].help == "Skriv med egna ord, som på hälsocentralen."
    assert program.forms["mal"].form.questions[0].id == "intro"
    assert "hälsocentral".encode() in program.tree.files["modules/01-start/02-mitt-mal.md"]
    assert [(r.path, r.line, r.found, r.replaced) for r in program.tree.terms] == [
        ("minimal/forms/mal.yaml", 20, "vårdcentralen", "hälsocentralen"),
        ("minimal/modules/01-start/02-mitt-mal.md", 8, "vårdcentral", "hälsocentral"),
        ("minimal/modules/01-start/02-mitt-mal.md", 10, "vårdcentralens", "hälsocentralens"),
        ("minimal/modules/02-fordjupning/01-mer.md", 2, "vårdcentralen", "hälsocentralen"),
        ("minimal/modules/02-fordjupning/module.yaml", 4, "Vårdcentraler", "Hälsocentraler"),
    ]


def test_terms__base_alone__unchanged(trees):
    program = check_dir(trees / "minimal", Diagnostics(), strict=True)
    assert "Fråga din vårdcentral" in {s.id: s for s in program.steps}["mitt-mal"].source.body
    assert program.tree.terms == []


def test_terms__readout_follows_the_replaced_text(trees):
    program = check_dir(trees / "overlay", Diagnostics())
    readout = step_readouts(program)[{s.id: s for s in program.steps}["mitt-mal"]]
    spoken = " ".join(s.spoken for s in readout.sentences)
    assert "Fråga din hälsocentral om du vill." in spoken and "vårdcentral" not in spoken


def test_terms__own_file_not_rewritten__warning_109(trees):
    edit(trees / "overlay/modules/01-start/03-lokalt.md", "Din hälsocentral", "Din vårdcentral")
    found = diagnose(trees / "overlay")
    assert codes(found, "OVERLAY-109") == [("overlay/modules/01-start/03-lokalt.md", 7)]
    program = check_dir(trees / "overlay", Diagnostics())
    assert "Din vårdcentral" in {s.id: s for s in program.steps}["lokalt"].source.body
    edit(trees / "overlay/program.yaml", TERMS, TERMS + "silence: [OVERLAY-109]\n")
    assert codes(diagnose(trees / "overlay"), "OVERLAY-109") == []


@pytest.mark.parametrize(("terms", "code", "line"), [
    ('  vårdcentral: ""\n', "OVERLAY-104", 18),
    ("  vårdcentral:\n", "OVERLAY-104", 18),
    ("  vård*central: hälsocentral\n", "OVERLAY-104", 18),
    ("  vårdcentral: Vårdcentral\n", "OVERLAY-105", 18),
    ("  vårdcentral: hälsocentral\n  vårdcentralen: hälsocentralen\n", "OVERLAY-106", 19),
    ("  vårdcentral: hälsocentral\n  Vårdcentral: Hälsocentral\n", "OVERLAY-107", 19),
])
def test_terms__bad_terms__coded(trees, terms, code, line):
    edit(trees / "overlay/program.yaml", TERMS, "terms:\n" + terms)
    found = diagnose(trees / "overlay")
    assert ("overlay/program.yaml", line) in codes(found, code)
    assert not [c for c, _, _ in found if c.startswith("SCHEMA")]


def test_terms__not_a_mapping__error_104(trees):
    edit(trees / "overlay/program.yaml", TERMS, "terms: [vårdcentral]\n")
    assert codes(diagnose(trees / "overlay"), "OVERLAY-104") == [("overlay/program.yaml", 17)]


def test_terms__in_a_program_without_extends__error_108(trees):
    (trees / "minimal/program.yaml").write_text((trees / "minimal/program.yaml").read_text() + TERMS)
    found = diagnose(trees / "minimal")
    assert [c for c, _, _ in found] == ["OVERLAY-108"]


def test_terms__removed_step__neither_rewritten_nor_drift(trees):
    edit(trees / "overlay/program.yaml", "hide:\n  steps: [start/mitt-mal]\n", "remove:\n  steps: [start/mitt-mal]\n")
    found = diagnose(trees / "overlay")
    assert not [p for p, _ in codes(found, "OVERLAY-103") if "mitt-mal" in p]
    program = check_dir(trees / "overlay", Diagnostics())
    assert not [r for r in program.tree.terms if "mitt-mal" in r.file]


# --- the lock and drift -------------------------------------------------------------------


def test_drift_terms__new_occurrence_warned_listed_accepted(trees, capsys):
    found = diagnose(trees / "overlay")  # nothing accepted yet: every occurrence is new
    assert len(codes(found, "OVERLAY-103")) == 5
    assert main(["drift", "overlay", "--accept-all"]) == 0
    lock = json.loads((trees / "overlay/overlay.lock").read_text())
    assert lock["terms"]["modules/01-start/02-mitt-mal.md"] == [
        {"term": "vårdcentral", "sentence": "Fråga din vårdcentral om du vill."},
        {"term": "vårdcentral", "sentence": "Läs mer på [vårdcentralens sida](https://example.invalid/vårdcentral)."}]
    assert check_dir(trees / "overlay", Diagnostics(), strict=True) is not None
    assert main(["drift", "overlay"]) == 0

    edit(trees / "minimal/modules/02-fordjupning/01-mer.md", "Här finns mer text.",
         "Här finns mer text. Din vårdcentral vet mer.")
    edit(trees / "minimal/modules/01-start/02-mitt-mal.md", "Skriv ditt mål", "Skriv gärna ditt mål")  # no word
    assert codes(diagnose(trees / "overlay"), "OVERLAY-103") == [("minimal/modules/02-fordjupning/01-mer.md", 9)]
    assert check_dir(trees / "overlay", Diagnostics(), strict=True) is None
    capsys.readouterr()
    assert main(["drift", "overlay"]) == 1
    out = capsys.readouterr().out
    assert "modules/02-fordjupning/01-mer.md:9: ny förekomst av ”vårdcentral”" in out
    assert "Din vårdcentral vet mer." in out
    assert main(["drift", "overlay", "--accept", "modules/02-fordjupning/01-mer.md"]) == 0
    assert main(["drift", "overlay"]) == 0
    assert check_dir(trees / "overlay", Diagnostics(), strict=True) is not None


def test_drift_terms__occurrence_removed_or_moved_line__quiet(trees):
    assert main(["drift", "overlay", "--accept-all"]) == 0
    edit(trees / "minimal/modules/01-start/02-mitt-mal.md", "# Mitt mål\n", "# Mitt mål\n\nEn ny rad först.\n")
    edit(trees / "minimal/modules/02-fordjupning/01-mer.md", "title: Mer om vårdcentralen", "title: Mer att läsa")
    assert codes(diagnose(trees / "overlay"), "OVERLAY-103") == []
    assert main(["drift", "overlay", "--accept-all"]) == 0
    lock = json.loads((trees / "overlay/overlay.lock").read_text())
    assert "modules/02-fordjupning/01-mer.md" not in lock["terms"]


def test_drift_terms__accept_a_file_without_words__exit_2(trees, capsys):
    assert main(["drift", "overlay", "--accept", "modules/02-fordjupning/module.yml"]) == 2
    assert "ersätter inte" in capsys.readouterr().err


def test_drift_terms__lock_without_terms__written_as_before(tmp_path, monkeypatch):
    make_program(tmp_path, None, "minimal")
    overlay = make_program(tmp_path, None, "overlay")
    monkeypatch.chdir(tmp_path)
    before = (overlay / "overlay.lock").read_text()
    assert main(["drift", "overlay", "--accept-all"]) == 0
    assert (overlay / "overlay.lock").read_text() == before


# --- the report ---------------------------------------------------------------------------


def test_report__terms_command_text_and_json(trees, capsys):
    assert main(["terms", "overlay"]) == 0
    out = capsys.readouterr().out
    assert "overlay: vårdcentral → hälsocentral: 5 ersättningar i 4 ärvda filer." in out
    assert "minimal/modules/01-start/02-mitt-mal.md:8:37: vårdcentral → hälsocentral" in out
    assert "    före:  Fråga din vårdcentral om du vill.\n    efter: Fråga din hälsocentral om du vill." in out
    assert main(["terms", "overlay", "--format", "json"]) == 0
    [report] = json.loads(capsys.readouterr().out)
    assert report["terms"] == {"vårdcentral": "hälsocentral"}
    assert {(r["file"], r["line"]) for r in report["replacements"]} >= {("modules/01-start/02-mitt-mal.md", 8)}


def test_report__terms_command_on_a_plain_program__exit_2(trees, capsys):
    assert main(["terms", "minimal"]) == 2
    assert "ingen överlagring" in capsys.readouterr().err


def test_report__check_note_and_manifest(trees, config, capsys):
    assert main(["check", "overlay"]) == 0
    err = capsys.readouterr().err
    assert "Regionala ord (vårdcentral → hälsocentral): 5 ersättningar i 4 ärvda filer" in err
    assert "    modules/01-start/02-mitt-mal.md: 2" in err
    outcome = build_dir(trees / "overlay", config, Diagnostics())
    assert any(n.startswith("Regionala ord") for n in outcome.report.notes)
    manifest = json.loads((outcome.package.folder / "manifest.json").read_text())
    terms = manifest["base"]["terms"]
    assert terms["map"] == {"vårdcentral": "hälsocentral"}
    assert terms["files"]["modules/01-start/02-mitt-mal.md"] == 2
    assert terms["replacements"][0] == {
        "file": "forms/mal.yaml", "line": 20, "col": 38, "term": "vårdcentral", "found": "vårdcentralen",
        "replaced": "hälsocentralen", "before": "Skriv med egna ord, som på vårdcentralen.",
        "after": "Skriv med egna ord, som på hälsocentralen."}
    source = (outcome.package.folder / "source/modules/01-start/02-mitt-mal.md").read_text()
    assert "Fråga din hälsocentral" in source  # the resolved sources carry the region's words


def test_terms__incremental_build_follows_a_changed_term(trees, config):
    first = build_dir(trees / "overlay", config, Diagnostics())
    page = first.package.folder / "start/mitt-mal.html"
    assert "hälsocentral" in page.read_text()
    edit(trees / "overlay/program.yaml", "vårdcentral: hälsocentral", "vårdcentral: närhälsa")
    build_dir(trees / "overlay", config, Diagnostics())
    assert "Fråga din närhälsa om du vill." in page.read_text()


# --- Norrbotten ---------------------------------------------------------------------------

#: FRAMÅT's steps that say "vårdcentral" and that Norrbotten inherits (and its form).
INHERITED = [
    "fysisk-aktivitet/borja-i-din-takt", "relationer/ensamhet", "relationer/satta-granser",
    "aktivitet/aktivitet-och-maende", "mat/regelbundna-maltider", "mat/hunger-och-mattnad",
    "aterhamtning-och-somn/nar-du-inte-kan-sova", "tobak-alkohol-droger/sluta-med-tobak",
    "tobak-alkohol-droger/droger-och-lakemedel", "tobak-alkohol-droger/var-finns-hjalp",
    "hantera-smarta/smartdagbok", "hantera-stress/varningssignaler", "arbete/ateragang-i-steg",
    "uppfoljning/nar-det-gar-trogt", "uppfoljning/nar-programmet-slutar",
]
WORD = re.compile(r"vårdcentral", re.IGNORECASE)


@pytest.fixture(scope="module")
def norrbotten(tmp_path_factory):
    from builder.config import BuildConfig

    tmp = tmp_path_factory.mktemp("norrbotten")
    config = BuildConfig(out=tmp / "dist", audio=False, pdf=False, source_date_epoch=1700000000, cache=tmp / "cache")
    diags = Diagnostics()
    framat = build_dir(ROOT / "content", config, diags)
    region = build_dir(ROOT / "regions/norrbotten", config.model_copy(update={"strict": True}), diags)
    assert region.package is not None, [d.as_dict() for d in diags.items]
    return framat, region


def test_norrbotten__15_inherited_pages_say_halsocentral(norrbotten):
    framat, region = norrbotten
    program = region.program
    assert program.tree.base["terms"]["map"] == {"vårdcentral": "hälsocentral"}
    counted = program.tree.base["terms"]["files"]
    assert len(counted) == 16 and counted["forms/tobak-nulage.yaml"] == 1
    steps = {f"{s.module_id}/{s.id}": s for s in program.steps}
    assert len(INHERITED) == 15 and all(steps[ref].path.startswith("content/") for ref in INHERITED)
    folder = region.package.folder
    for ref in INHERITED:
        page = (folder / f"{ref}.html").read_text()
        assert "hälsocentral" in page and not WORD.search(page), ref
        assert (folder / "source" / steps[ref].source.rel).is_file()
    readouts = step_readouts(program)
    spoken = " ".join(s.spoken for ref in INHERITED if steps[ref] in readouts for s in readouts[steps[ref]].sentences)
    assert "hälsocentral" in spoken and not WORD.search(spoken)
    assert "Stöd från din hälsocentral" in json.dumps(json.loads((folder / "program.json").read_text()), ensure_ascii=False)
    for path in folder.rglob("*"):  # no page, fragment or form the patient gets says vårdcentral
        if path.is_file() and path.suffix in (".html", ".json") and path.name != "manifest.json":
            assert not WORD.search(path.read_text("utf-8")), path


def test_norrbotten__framat_unchanged(norrbotten):
    framat, _ = norrbotten
    folder = framat.package.folder
    for ref in INHERITED:
        assert "vårdcentral" in (folder / f"{ref}.html").read_text(), ref
    assert framat.program.tree.terms == [] and "terms" not in (framat.program.tree.base or {})
