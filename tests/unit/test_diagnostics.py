"""Every authoring mistake gives its code, file and line (issue #2: diagnostics).

Each case edits the minimal fixture program in one way and asserts the code, the
file and the line of the diagnostic that names the mistake. Wording is free to
change; codes and locations are the contract.
"""

from __future__ import annotations

import pytest

from builder.diagnostics import CATALOGUE, Severity
from tests.conftest import diagnose

START = "modules/01-start"
WELCOME = f"{START}/01-valkommen.md"
GOAL = f"{START}/02-mitt-mal.md"
MORE = "modules/02-fordjupning/01-mer.md"
FORM = "forms/mal.yaml"
PLAN = "activity-plans/steg.yaml"
MODULE = f"{START}/module.yaml"


def sub(old: str, new: str):
    """An edit that replaces `old` (which must be there) with `new`."""

    def edit(text: str) -> str:
        assert old in text, f"fixture drifted: {old!r} not found"
        return text.replace(old, new, 1)

    return edit


def source(url: str = "https://www.1177.se/", read: str = "2026-11-30") -> str:
    """A `sources:` entry for a step's front matter (issue 17): url on its 4th line, read on its 5th."""
    return f"sources:\n  - title: Fysisk aktivitet\n    publisher: 1177 Vårdguiden\n    url: {url}\n    read: {read}\n"


CASES = [
    # id, edits, code, path, line
    ("broken-yaml", {MODULE: "title: Start\nkind: core\nstart: current\ndescription: \"oavslutad\n"}, "YAML-001", MODULE, 5),
    ("yaml-colon-in-value", {MODULE: "title: Start: igen\nkind: core\nstart: current\n"}, "YAML-001", MODULE, 1),
    ("tab-indent", {PLAN: sub("  days:", "\tdays:")}, "YAML-002", PLAN, 12),
    ("duplicate-key", {MODULE: "title: A\nkind: core\ntitle: B\nstart: current\n"}, "YAML-003", MODULE, 3),
    ("yaml-not-a-mapping", {FORM: "- en\n- lista\n"}, "YAML-004", FORM, 1),
    ("unknown-key", {MODULE: sub("description:", "descripton:")}, "SCHEMA-001", MODULE, 4),
    ("unknown-key-front-matter", {WELCOME: sub("section: Kom igång", "section: Kom igång\nsektion: X")}, "SCHEMA-001", WELCOME, 4),
    ("unknown-key-question", {FORM: sub("    max_length: 80", "    max_lenght: 80")}, "SCHEMA-001", FORM, 15),
    ("missing-key", {MODULE: sub("kind: core\n", "")}, "SCHEMA-002", MODULE, 1),
    ("missing-section", {WELCOME: sub("section: Kom igång\n", "")}, "SCHEMA-002", WELCOME, 2),
    ("wrong-type-bool", {WELCOME: sub("section: Kom igång", "section: Kom igång\naudio: ja")}, "SCHEMA-003", WELCOME, 4),
    ("wrong-type-number-as-text", {"program.yaml": sub('name: "1177"', "name: 1177")}, "SCHEMA-003", "program.yaml", 13),
    ("wrong-type-list", {FORM: sub("scoring:\n  questions: [roker, hinder, viktigt]", "scoring:\n  questions: roker")}, "SCHEMA-003", FORM, 50),
    ("wrong-enum", {MODULE: sub("kind: core", "kind: kärna")}, "SCHEMA-004", MODULE, 2),
    ("wrong-question-type", {FORM: sub("type: date", "type: datum")}, "SCHEMA-004", FORM, 47),
    ("invalid-step-id", {f"{START}/03-Sista steget.md": "---\ntitle: X\nsection: Y\n---\n# X\n\nText.\n"}, "SCHEMA-005", f"{START}/03-Sista steget.md", 1),
    ("invalid-question-id", {FORM: sub("id: namn", "id: Namn_1")}, "SCHEMA-005", FORM, 12),
    ("version-not-semver", {"program.yaml": sub("version: 0.1.0", "version: 1.0")}, "PROGRAM-002", "program.yaml", 3),
    ("version-prefixed", {"program.yaml": sub("version: 0.1.0", "version: v1.0.0")}, "PROGRAM-002", "program.yaml", 3),
    ("program-without-modules", {"program.yaml": sub("modules:\n  - start\n  - fordjupning", "modules: []")}, "PROGRAM-006", "program.yaml", 7),
    ("program-missing", {"program.yaml": None}, "PROGRAM-001", "program.yaml", 1),
    ("module-listed-missing", {"program.yaml": sub("  - fordjupning", "  - fordjupning\n  - fordjupnig")}, "PROGRAM-003", "program.yaml", 10),
    ("module-not-listed", {"program.yaml": sub("  - fordjupning\n", "")}, "PROGRAM-004", "modules/02-fordjupning", 1),
    ("module-listed-twice", {"program.yaml": sub("  - fordjupning", "  - fordjupning\n  - start")}, "PROGRAM-005", "program.yaml", 10),
    ("module-yaml-missing", {MODULE: None}, "MODULE-001", START, 1),
    ("module-without-steps", {"modules/02-fordjupning/01-mer.md": None}, "MODULE-002", "modules/02-fordjupning", 1),
    ("duplicate-step-id", {f"{START}/03-valkommen.md": "---\ntitle: X\nsection: Y\n---\n# X\n\nText.\n"}, "STEP-002", f"{START}/03-valkommen.md", 1),
    ("front-matter-missing", {WELCOME: sub("---\ntitle: Välkommen\nsection: Kom igång\n---\n", "")}, "STEP-001", WELCOME, 1),
    ("front-matter-unclosed", {MORE: sub("visible: false\n---\n", "visible: false\n")}, "STEP-003", MORE, 1),
    ("step-without-body", {MORE: "---\ntitle: Tom\nsection: X\n---\n\n"}, "STEP-004", MORE, 4),
    ("source-not-https", {GOAL: sub("section: Kom igång\n", "section: Kom igång\n" + source(url="http://www.1177.se/"))}, "STEP-005", GOAL, 7),
    ("source-read-in-future", {GOAL: sub("section: Kom igång\n", "section: Kom igång\n" + source(read="2999-01-01"))}, "STEP-006", GOAL, 8),
    ("advice-step-without-source", {MODULE: lambda t: t + "sources_required: true\n",
                                    GOAL: sub("section: Kom igång\n", "section: Kom igång\n" + source())}, "STEP-007", WELCOME, 2),
    ("source-line-in-body", {WELCOME: sub("## Lista", "Källa: 1177, om promenader.\n\n## Lista")}, "STEP-008", WELCOME, 17),
    ("empty-file", {FORM: ""}, "FILE-002", FORM, 1),
    ("not-utf8", {MODULE: "title: Start\nkind: core\nstart: current\ndescription: Gl\xe4dje\n".encode("latin-1")}, "FILE-001", MODULE, 4),
    ("stray-file", {f"{START}/anteckningar.txt": "kom ihåg\n"}, "FILE-003", f"{START}/anteckningar.txt", 1),
    ("unknown-form", {GOAL: sub("::: form mal", "::: form mall")}, "REF-001", GOAL, 10),
    ("unknown-step-link", {WELCOME: sub("(02-mitt-mal.md)", "(02-mitt-maal.md)")}, "REF-002", WELCOME, 11),
    ("unknown-media", {WELCOME: sub("bilder/sol.svg", "bilder/sool.svg")}, "REF-003", WELCOME, 9),
    ("media-escapes", {WELCOME: sub("bilder/sol.svg", "../../../../etc/passwd")}, "REF-004", WELCOME, 9),
    ("link-escapes", {WELCOME: sub("(02-mitt-mal.md)", "(../../../annat/steg.md)")}, "REF-004", WELCOME, 11),
    ("link-unsupported-scheme", {WELCOME: sub("(02-mitt-mal.md)", "(ftp://example.invalid/x)")}, "REF-005", WELCOME, 11),
    ("unknown-plan-goal", {PLAN: sub("plan: stegmal", "plan: stegmall")}, "REF-006", PLAN, 19),
    ("unused-form", {GOAL: sub("::: form mal\n:::\n", "")}, "REF-007", FORM, 1),
    ("captions-wrong-kind", {GOAL: sub("captions: film/test.sv.vtt", "captions: film/test.md")}, "REF-008", GOAL, 15),
    ("captions-no-header", {"media/film/test.sv.vtt": "00:00.000 --> 00:01.000\nHej\n"}, "CAPTION-001", "media/film/test.sv.vtt", 1),
    ("captions-bad-timing", {"media/film/test.sv.vtt": sub("00:00:03.000 --> 00:00:06.000", "00:00:03,0 -> 00:06")}, "CAPTION-001", "media/film/test.sv.vtt", 6),
    ("captions-end-before-start", {"media/film/test.sv.vtt": sub("00:00:03.000 --> 00:00:06.000", "00:00:03.000 --> 00:00:02.000")}, "CAPTION-002", "media/film/test.sv.vtt", 6),
    ("captions-out-of-order", {"media/film/test.sv.vtt": sub("00:00:00.000 --> 00:00:03.000", "00:00:07.000 --> 00:00:08.000")}, "CAPTION-002", "media/film/test.sv.vtt", 6),
    ("captions-overlap", {"media/film/test.sv.vtt": sub("00:00:03.000 --> 00:00:06.000", "00:00:02.500 --> 00:00:06.000")}, "CAPTION-003", "media/film/test.sv.vtt", 6),
    ("captions-empty-cue", {"media/film/test.sv.vtt": sub("Nu tar vi en promenad.\n", "")}, "CAPTION-004", "media/film/test.sv.vtt", 6),
    ("captions-no-cues", {"media/film/test.sv.vtt": "WEBVTT\n"}, "CAPTION-004", "media/film/test.sv.vtt", 1),
    ("image-without-alt", {WELCOME: sub("![En sol över en äng]", "![]")}, "A11Y-001", WELCOME, 9),
    ("video-without-captions", {GOAL: sub("captions: film/test.sv.vtt\ntranscript: film/test.md\n", "")}, "A11Y-002", GOAL, 13),
    ("heading-skips-level", {WELCOME: sub("## Lista", "### Lista")}, "A11Y-003", WELCOME, 17),
    ("vague-link-text", {WELCOME: sub("[nästa steg om målet]", "[klicka här]")}, "A11Y-004", WELCOME, 11),
    ("two-top-headings", {WELCOME: sub("## Lista", "# Lista")}, "A11Y-005", WELCOME, 17),
    ("audio-without-transcript", {MORE: sub("transcript: ljud/andas.md\n", "")}, "A11Y-006", MORE, 15),
    ("display-image-without-alt", {FORM: sub("    alt: En sol\n", "")}, "A11Y-007", FORM, 10),
    ("first-heading-not-h1", {WELCOME: sub("# Välkommen", "## Välkommen")}, "A11Y-008", WELCOME, 5),
    ("choice-without-options", {FORM: sub("    options:\n      - {value: tid, label: Tid, points: 1}\n      - {value: ork, label: Ork, points: 1}\n", "")}, "FORM-001", FORM, 35),
    ("scale-min-over-max", {FORM: sub("    min: 0\n    max: 4", "    min: 5\n    max: 4")}, "FORM-002", FORM, 43),
    ("duplicate-question-id", {FORM: sub("id: start", "id: namn")}, "FORM-003", FORM, 46),
    ("show-if-later-question", {FORM: sub("{question: roker, equals: ja}", "{question: hinder, equals: tid}")}, "FORM-004", FORM, 33),
    ("scoring-unknown-question", {FORM: sub("[roker, hinder, viktigt]", "[roker, hinder, vikigt]")}, "FORM-005", FORM, 50),
    ("scoring-question-without-points", {FORM: sub("[roker, hinder, viktigt]", "[roker, hinder, namn]")}, "FORM-005", FORM, 50),
    ("bands-overlap", {FORM: sub("{min: 4, max: 8", "{min: 3, max: 8")}, "FORM-006", FORM, 53),
    ("bands-gap", {FORM: sub("{min: 4, max: 8", "{min: 5, max: 8")}, "FORM-006", FORM, 53),
    ("bands-short", {FORM: sub("{min: 4, max: 8", "{min: 4, max: 7")}, "FORM-006", FORM, 53),
    ("duplicate-option", {FORM: sub("{value: ork, label: Ork", "{value: tid, label: Ork")}, "FORM-007", FORM, 39),
    ("form-without-questions", {FORM: "title: Tomt\nquestions: []\n"}, "FORM-008", FORM, 2),
    ("field-of-other-type", {FORM: sub("    max_length: 80", "    max_length: 80\n    unit: st")}, "FORM-009", FORM, 16),
    ("show-if-value-not-option", {FORM: sub("{question: roker, equals: ja}", "{question: roker, equals: kanske}")}, "FORM-010", FORM, 33),
    ("number-min-over-max", {FORM: sub("    min: 0\n    max: 100", "    min: 100\n    max: 0")}, "FORM-011", FORM, 31),
    ("unknown-weekday", {PLAN: sub("måndag:", "mandag:")}, "PLAN-001", PLAN, 12),
    ("bad-time", {PLAN: sub('"19:00"', '"25:00"')}, "PLAN-002", PLAN, 12),
    ("results-unknown-field", {"activity-plans/stegmal.yaml": sub("  field: mal", "  field: mall")}, "PLAN-003", "activity-plans/stegmal.yaml", 12),
    ("schedule-without-days", {PLAN: sub('{måndag: "19:00", onsdag: 19:00}', "{}")}, "PLAN-004", PLAN, 12),
    ("goal-from-unknown-field", {PLAN: sub("field: mal}", "field: maal}")}, "PLAN-005", PLAN, 19),
    ("goal-and-goal-from", {PLAN: sub("  goal_from:", "  goal: 5000\n  goal_from:")}, "PLAN-006", PLAN, 20),
    ("unknown-block", {GOAL: sub("::: form mal", "::: fomr mal")}, "BLOCK-001", GOAL, 10),
    ("block-without-form-id", {GOAL: sub("::: form mal", "::: form")}, "BLOCK-002", GOAL, 10),
    ("block-unreadable-line", {GOAL: sub("captions: film/test.sv.vtt", "captions film/test.sv.vtt")}, "BLOCK-003", GOAL, 15),
    ("block-unknown-option", {GOAL: sub("captions: film", "caption: film")}, "BLOCK-006", GOAL, 15),
    ("block-unclosed", {MORE: sub("Ring 112 vid fara.\n:::\n", "Ring 112 vid fara.\n")}, "BLOCK-004", MORE, 20),
    ("callout-unknown-kind", {WELCOME: sub("::: callout tip", "::: callout tips")}, "BLOCK-005", WELCOME, 13),
    ("long-sentence", {WELCOME: sub("Du läser det i lugn och ro.", "Du läser det i lugn och ro och " + "sedan läser du mer och mer " * 5 + "tills det tar slut.")}, "READ-002", WELCOME, 7),
    ("plain-language", {WELCOME: sub("Du läser det", "Du erhåller det")}, "READ-003", WELCOME, 7),
    ("abbreviation-spelling", {WELCOME: sub("Du läser det", "Du läser t ex det")}, "READ-004", WELCOME, 7),
    ("program-term-spelling", {"program.yaml": lambda t: t + "readability:\n  terms: [FRAMÅT]\n",
                               WELCOME: sub("Du läser det", "Framåt läser det")}, "READ-004", WELCOME, 7),
    ("readability", {MORE: sub("Här finns mer text.", "Försäkringsmedicinska bedömningsunderlag kompletteras regelbundet. Behandlingsprogrammets rehabiliteringsinsatser förutsätter kontinuerlig egenvårdsdokumentation, hälsofrämjande levnadsvaneförändringar, arbetsplatsanpassningar och försäkringsmedicinska utredningsunderlag.")}, "READ-001", MORE, 7),
]


@pytest.mark.parametrize(("edits", "code", "path", "line"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_authoring_mistake__names_code_file_and_line(program, edits, code, path, line):
    found = diagnose(program(edits))
    hits = [(d.code, d.path, d.line) for d in found]
    assert (code, path, line) in hits, "\n".join(f"{d.path}:{d.line}: {d.code} {d.message}" for d in found)
    d = next(d for d in found if (d.code, d.path, d.line) == (code, path, line))
    assert d.message and d.hint, "every diagnostic has a message and a hint"


def test_minimal_fixture__has_no_diagnostics(program):
    assert diagnose(program()) == []


def test_every_code_in_the_catalogue__has_a_test():
    """Each code is asserted somewhere: in CASES above or in another test module."""
    from tests.conftest import ROOT

    covered = {c[2] for c in CASES}
    others = "".join(p.read_text("utf-8") for p in (ROOT / "tests").rglob("test_*.py") if p.name != "test_diagnostics.py")
    covered |= {code for code in CATALOGUE if f'"{code}"' in others}
    covered.add("MODULE-003")  # below
    assert not set(CATALOGUE) - covered, f"codes without a test: {sorted(set(CATALOGUE) - covered)}"


def test_two_folders_with_same_module_id__error(program):
    root = program({"modules/03-start/module.yaml": "title: X\nkind: core\nstart: current\n",
                    "modules/03-start/01-a.md": "---\ntitle: A\nsection: B\n---\n# A\n\nText.\n"})
    assert "MODULE-003" in {d.code for d in diagnose(root)}


def test_unknown_key__suggests_the_key_meant(program):
    found = diagnose(program({MODULE: sub("description:", "descripton:")}))
    d = next(d for d in found if d.code == "SCHEMA-001")
    assert "'description'" in d.hint


def test_unknown_weekday__suggests_swedish_weekday(program):
    found = diagnose(program({PLAN: sub("måndag:", "mandag:")}))
    assert "'måndag'" in next(d for d in found if d.code == "PLAN-001").hint


def test_unknown_form__suggests_existing_form(program):
    found = diagnose(program({GOAL: sub("::: form mal", "::: form mall")}))
    assert "'mal'" in next(d for d in found if d.code == "REF-001").hint


def test_link_error__points_at_column(program):
    found = diagnose(program({WELCOME: sub("(02-mitt-mal.md)", "(02-mitt-maal.md)")}))
    d = next(d for d in found if d.code == "REF-002")
    line = (program().joinpath(WELCOME)).read_text().splitlines()[d.line - 1]
    assert line[d.col - 1 :].startswith("02-mitt-m")


def test_many_mistakes__all_collected_and_sorted(program):
    found = diagnose(program({
        MODULE: sub("kind: core", "kind: kärna"),
        WELCOME: sub("![En sol över en äng]", "![]"),
        GOAL: sub("::: form mal", "::: form mall"),
    }))
    codes = {d.code for d in found}
    assert {"SCHEMA-004"} <= codes  # validation errors stop the run before check
    found = diagnose(program({WELCOME: sub("![En sol över en äng]", "![]"), GOAL: sub("::: form mal", "::: form mall")}))
    assert {"A11Y-001", "REF-001"} <= {d.code for d in found}
    assert found == sorted(found)


def test_warnings_and_errors__have_catalogue_severity():
    assert CATALOGUE["READ-001"].severity is Severity.WARNING
    assert CATALOGUE["A11Y-001"].severity is Severity.ERROR


def test_docs_diagnostics_md__generated_from_catalogue():
    from builder.diagnostics import catalogue_markdown
    from tests.conftest import ROOT

    assert (ROOT / "docs" / "diagnostics.md").read_text("utf-8") == catalogue_markdown(), (
        "run: python -m builder.diagnostics > docs/diagnostics.md")


def test_program_term__ordinary_lower_case_word_not_flagged(program):
    root = program({"program.yaml": lambda t: t + "readability:\n  terms: [FRAMÅT]\n",
                    WELCOME: sub("Du läser det", "Du går framåt och läser det")})
    assert diagnose(root) == []


def test_plain_language__program_can_add_and_drop_hints(program):
    root = program({"program.yaml": lambda t: t + "readability:\n  plain_language: {erhåller: '', läser: tar del av}\n",
                    WELCOME: sub("Du läser det", "Du erhåller och läser det")})
    assert [(d.code, d.message) for d in diagnose(root)] == [("READ-003", "”läser” är krångligt språk.")]
