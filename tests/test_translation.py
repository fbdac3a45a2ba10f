"""Translations (issue 18): a program in another language, XLIFF exchange, status, voices.

Requirements tested here:
- T1 a translation (`translates:` + `language:`) builds into its own package with the base's ids,
  only its translated modules, and readouts in its language's espeak-ng voice;
- T2 XLIFF 2.0 export → import → export is byte-stable, and import of an unchanged export
  changes no file; Markdown inline markup travels as <pc>/<ph> codes;
- T3 editing one Swedish sentence makes `stegvis translate status` exit 1 naming the file
  (with a word diff), the build warns (TRANS-001, an error with --strict) and the page
  shows a note in the translation's language;
- T4 ids and structure are checked (TRANS-002..006), and a language without a voice is
  VOICE-001;
- T5 right-to-left languages get dir="rtl" in pages and PDFs, and their PDF text extracts;
- T6 sentence splitting and the lexicon follow the language.
"""

from __future__ import annotations

import json
import re
import shutil
from io import BytesIO
from pathlib import Path

import pytest

from builder.cli import default_programs, main
from builder.diagnostics import Diagnostics
from builder.pipeline import check_dir
from builder.speech.lexicon import Lexicon
from builder.speech.sentences import sentences
from builder.translation import file_units, step_units, translated_step
from builder.xliff import export_xliff, import_xliff, open_translation, parse_inline, to_markdown
from tests.conftest import ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "translation"
ESPEAK = shutil.which("espeak-ng") is not None


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The translation fixture (base, ar, fi) copied into a temporary working directory."""
    root = tmp_path / "work"
    shutil.copytree(FIXTURE, root)
    monkeypatch.chdir(root)
    return root


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def codes(folder: Path, strict: bool = False) -> tuple[set[str], list]:
    diags = Diagnostics()
    program = check_dir(folder, diags, strict)
    return {d.code for d in diags.items}, [program, diags]


def build(args: list[str], capsys) -> tuple[int, str]:
    code = main(["build", *args])
    out = capsys.readouterr()
    return code, out.out + out.err


# --- T2: units, inline codes and the XLIFF round trip ---------------------------------------


def test_units__every_content_step_regenerates_its_body_from_its_own_units__ok():
    """A step rebuilt from its own units has its body byte for byte (front matter normalised)."""
    for path in sorted((ROOT / "content" / "modules").rglob("*.md")):
        text = path.read_text("utf-8")
        again = translated_step(text, {u.key: u.text for u in step_units(text)})
        assert again.split("\n---\n", 1)[1] == text.split("\n---\n", 1)[1], path


def test_inline_markup__every_unit_of_the_content__round_trips_through_codes__ok():
    for path in sorted((ROOT / "content").rglob("*")):
        if path.suffix not in (".md", ".yaml") or "media" in path.parts:
            continue
        rel = path.relative_to(ROOT / "content").as_posix()
        for unit in file_units(rel, path.read_text("utf-8")):
            assert to_markdown(parse_inline(unit.text)) == unit.text, (rel, unit.key)


def test_xliff_export__inline_markup_as_pc_and_ph_codes__ok(tree):
    data = export_xliff(open_translation(tree / "fi")).decode("utf-8")
    assert data.startswith('<?xml version=\'1.0\' encoding=\'UTF-8\'?>\n<xliff xmlns="urn:oasis:names:tc:xliff:document:2.0"')
    assert 'version="2.0" srcLang="sv" trgLang="fi"' in data
    # **lugn och ro** -> <pc> with the markup in <originalData>; the link keeps its target
    assert '<pc id="1" dataRefStart="d1" dataRefEnd="d1">lugn och ro</pc>' in data
    assert '<data id="d1">**</data>' in data
    assert '<data id="d2">](02-fragor.md)</data>' in data
    assert "base/modules/01-start/01-valkommen.md:7</note>" in data
    assert 'state="translated"' in data and "Tämä on lyhyt vaihe." in data


def test_xliff_export__line_break_in_a_unit__ph_with_xlf_lb(tree):
    step = tree / "base" / "modules" / "01-start" / "02-fragor.md"
    step.write_text(step.read_text("utf-8").replace("nedan. Det", "nedan.\nDet"), "utf-8")
    data = export_xliff(open_translation(tree / "fi")).decode("utf-8")
    assert 'type="fmt" subType="xlf:lb"/>Det finns inga fel svar.' in data


def test_xliff_round_trip__export_import_export__byte_stable(tree):
    tr = open_translation(tree / "fi")
    before = snapshot(tree)
    first = export_xliff(tr)
    result = import_xliff(tr, first)
    assert result.written == [] and not result.lock_written
    assert snapshot(tree) == before  # import of an unchanged export changes no file
    assert export_xliff(open_translation(tree / "fi")) == first


def test_xliff_round_trip__finnish_framat__byte_stable(tmp_path, monkeypatch):
    """The real Finnish translation: export, import and export again change nothing."""
    shutil.copytree(ROOT / "content", tmp_path / "content")
    shutil.copytree(ROOT / "translations" / "fi", tmp_path / "translations" / "fi")
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path / "translations")
    assert main(["translate", "export", "--language", "fi", "--out", "fi.xlf"]) == 0
    first = (tmp_path / "fi.xlf").read_bytes()
    assert main(["translate", "import", "fi.xlf"]) == 0
    assert snapshot(tmp_path / "translations") == before
    assert main(["translate", "export", "--language", "fi", "--out", "again.xlf"]) == 0
    assert (tmp_path / "again.xlf").read_bytes() == first


def test_xliff_import__translator_changes_a_target__file_and_lock_written(tree):
    tr = open_translation(tree / "fi")
    data = export_xliff(tr).decode("utf-8").replace("Juo lasi vettä.", "Juo lasillinen vettä.")
    result = import_xliff(tr, data.encode("utf-8"))
    assert result.written == ["modules/01-start/01-valkommen.md"]
    text = (tree / "fi" / "modules" / "01-start" / "01-valkommen.md").read_text("utf-8")
    assert "- Juo lasillinen vettä." in text and "# Tervetuloa" in text


def test_xliff_import__initial_segment__keeps_the_old_source_hash(tree):
    """A segment the translator left `initial` does not mark the unit as up to date."""
    step = tree / "base" / "modules" / "01-start" / "02-fragor.md"
    step.write_text(step.read_text("utf-8").replace("inga fel svar", "inga felaktiga svar"), "utf-8")
    tr = open_translation(tree / "fi")
    data = export_xliff(tr)
    assert b'state="initial"' in data and b'category="previous-source"' in data
    import_xliff(tr, data)
    assert main(["translate", "status", "fi"]) == 1


# --- T3: status, build warnings and the page note ---------------------------------------------


def test_status__up_to_date__exit_0(tree, capsys):
    assert main(["translate", "status", "fi", "ar"]) == 0
    assert "alla översatta texter" in capsys.readouterr().out


def test_status__edited_swedish_sentence__exit_1_naming_that_file(tree, capsys):
    step = tree / "base" / "modules" / "01-start" / "01-valkommen.md"
    step.write_text(step.read_text("utf-8").replace("Drick ett glas vatten.", "Drick två glas vatten."), "utf-8")
    assert main(["translate", "status", "fi"]) == 1
    out = capsys.readouterr().out
    assert "fi/modules/01-start/01-valkommen.md: 1 texter att se över" in out
    assert "base/modules/01-start/01-valkommen.md:20: b9: ändrad sedan översättningen" in out
    assert "Drick {-ett-}{+två+} glas vatten." in out
    assert "02-fragor.md" not in out


def test_build__outdated_translation__TRANS_001_warning_and_a_finnish_note_on_the_page(tree, capsys):
    step = tree / "base" / "modules" / "01-start" / "01-valkommen.md"
    step.write_text(step.read_text("utf-8").replace("Drick ett glas vatten.", "Drick två glas vatten."), "utf-8")
    found, _ = codes(tree / "fi")
    assert "TRANS-001" in found
    code, out = build(["fi", "--out", "dist", "--cache", "cache", "--no-audio", "--no-pdf"], capsys)
    assert code == 0 and "TRANS-001" in out
    package = tree / "dist" / "litet-fi" / "1.0.0"
    page = (package / "start" / "valkommen.html").read_text("utf-8")
    assert 'class="translation-note"' in page and "Käännös voi olla vanhempi kuin ruotsinkielinen teksti." in page
    fragment = (package / "fragments" / "start" / "valkommen.json").read_text("utf-8")
    assert "Käännös voi olla vanhempi" in fragment
    assert "translation-note" not in (package / "start" / "fragor.html").read_text("utf-8")
    manifest = json.loads((package / "manifest.json").read_text("utf-8"))
    assert manifest["translation"]["outdated"] == ["modules/01-start/01-valkommen.md"]
    code, out = build(["fi", "--out", "dist2", "--cache", "cache", "--no-audio", "--no-pdf", "--strict"], capsys)
    assert code == 1 and "error TRANS-001" in out


def test_build__outdated_translation__note_in_the_step_pdf(tree, capsys):
    from pypdf import PdfReader

    step = tree / "base" / "modules" / "01-start" / "01-valkommen.md"
    step.write_text(step.read_text("utf-8").replace("Drick ett glas vatten.", "Drick två glas vatten."), "utf-8")
    assert build(["fi", "--out", "dist", "--cache", "cache", "--no-audio"], capsys)[0] == 0
    package = tree / "dist" / "litet-fi" / "1.0.0"
    text = lambda name: " ".join(p.extract_text() for p in PdfReader(package / "pdf" / "start" / name).pages)  # noqa: E731
    assert "Käännös voi olla vanhempi" in " ".join(text("valkommen.pdf").split())
    assert "Käännös" not in text("fragor.pdf")


# --- T1: the Finnish variant as its own package -------------------------------------------------


@pytest.mark.skipif(not ESPEAK, reason="espeak-ng is not installed")
def test_build__finnish_translation__own_package_with_espeak_fi_readouts(tree, capsys):
    code, out = build(["fi", "--out", "dist", "--cache", "cache", "--no-pdf", "--tts", "espeak"], capsys)
    assert code == 0, out
    package = tree / "dist" / "litet-fi" / "1.0.0"
    manifest = json.loads((package / "manifest.json").read_text("utf-8"))
    assert manifest["program"]["id"] == "litet-fi"
    assert manifest["translation"] == {"language": "fi", "of": "litet", "version": "1.0.0", "outdated": []}
    assert manifest["audio"] and {a["engine"] for a in manifest["audio"].values()} == {"espeak-ng"}
    assert {a["voice"] for a in manifest["audio"].values()} == {"fi"}
    cues = (package / "audio" / "start" / "valkommen.vtt").read_text("utf-8")
    assert "Luet sen rauhassa, esim. illalla." in cues  # one sentence: "esim." does not end it
    program = json.loads((package / "program.json").read_text("utf-8"))
    assert program["program"]["language"] == "fi"
    # the same ids as the base, so answers carry over between languages
    base = json.loads(main(["build", "base", "--out", "dist", "--cache", "cache", "--no-audio", "--no-pdf"]) == 0
                      and (tree / "dist" / "litet" / "1.0.0" / "program.json").read_text("utf-8"))
    assert program["forms"].keys() == base["forms"].keys()
    ids = lambda p: [(q["id"], [o["value"] for o in q.get("options") or []])  # noqa: E731
                     for q in p["forms"]["mina-svar"]["questions"]]
    assert ids(program) == ids(base)
    assert '<html lang="fi" dir="ltr">' in (package / "start" / "valkommen.html").read_text("utf-8")


def test_build__finnish_framat__only_translated_modules_in_framat_fi(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    code, out = build(["translations/fi", "--out", str(tmp_path / "dist"), "--cache", str(tmp_path / "cache"),
                       "--no-audio", "--no-pdf", "--strict"], capsys)
    assert code == 0, out
    package = tmp_path / "dist" / "framat-fi" / "1.0.0"
    program = json.loads((package / "program.json").read_text("utf-8"))
    assert [m["id"] for m in program["modules"]] == ["introduktion", "fysisk-aktivitet"]
    assert sorted(program["forms"]) == ["halsoprofil", "min-rorelse"]
    assert program["program"]["language"] == "fi"
    manifest = json.loads((package / "manifest.json").read_text("utf-8"))
    assert manifest["translation"]["of"] == "framat" and manifest["base"]["id"] == "framat"


def test_check__finnish_framat_strict__clean():
    found, (program, _) = codes(ROOT / "translations" / "fi", strict=True)
    assert program is not None and not found


def test_default_programs__translations_included(tmp_path):
    for folder in ("content", "regions/x", "translations/fi", "translations/tom"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "regions/x/program.yaml").write_text("extends: ../../content\n")
    (tmp_path / "translations/fi/program.yaml").write_text("translates: ../../content\nlanguage: fi\n")
    assert [p.relative_to(tmp_path).as_posix() for p in default_programs(tmp_path)] == [
        "content", "regions/x", "translations/fi"]


# --- T4: ids, structure and voices ---------------------------------------------------------------


def test_check__form_option_value_changed__TRANS_004_mismatched_ids(tree):
    form = tree / "fi" / "forms" / "mina-svar.yaml"
    form.write_text(form.read_text("utf-8").replace("value: daligt", "value: huono"), "utf-8")
    found, _ = codes(tree / "fi")
    assert "TRANS-004" in found


def test_check__step_with_an_extra_paragraph__TRANS_004(tree):
    step = tree / "fi" / "modules" / "01-start" / "02-fragor.md"
    step.write_text(step.read_text("utf-8").replace("# Muutama kysymys\n", "# Muutama kysymys\n\nLisäkappale.\n"),
                    "utf-8")
    found, _ = codes(tree / "fi")
    assert "TRANS-004" in found


def test_check__step_the_base_does_not_have__TRANS_003(tree):
    shutil.copy(tree / "fi/modules/01-start/02-fragor.md", tree / "fi/modules/01-start/03-extra.md")
    found, _ = codes(tree / "fi")
    assert "TRANS-003" in found


def test_check__untranslated_step__TRANS_002_and_left_out(tree):
    (tree / "fi/modules/01-start/01-valkommen.md").unlink()
    found, (program, _) = codes(tree / "fi")
    assert "TRANS-002" in found
    assert [s.id for s in program.steps] == ["fragor"]


def test_check__no_language__TRANS_005(tree):
    (tree / "fi/program.yaml").write_text("translates: ../base\n", "utf-8")
    found, _ = codes(tree / "fi")
    assert "TRANS-005" in found


def test_check__module_without_module_yaml__TRANS_006(tree):
    (tree / "fi/modules/01-start/module.yaml").unlink()
    found, _ = codes(tree / "fi")
    assert "TRANS-006" in found


@pytest.mark.skipif(not ESPEAK, reason="espeak-ng is not installed")
def test_build__language_without_a_voice__VOICE_001_and_no_readouts(tree, capsys):
    (tree / "fi/program.yaml").write_text("translates: ../base\nlanguage: se\ntitle: Prográmma\n", "utf-8")
    code, out = build(["fi", "--out", "dist", "--cache", "cache", "--no-pdf", "--tts", "espeak"], capsys)
    assert code == 0 and "warning VOICE-001" in out and "fi/program.yaml:2" in out
    assert re.search(r"fi/program\.yaml:2:\d+: warning VOICE-001: Det finns ingen röst för språket se", out)
    manifest = json.loads((tree / "dist" / "litet-se" / "1.0.0" / "manifest.json").read_text("utf-8"))
    assert manifest["audio"] == {}
    code, out = build(["fi", "--out", "dist2", "--cache", "cache", "--no-pdf", "--tts", "espeak", "--strict",
                       "--format", "json"], capsys)
    found = [(d["code"], d["severity"]) for d in json.loads(out[:out.rindex("]") + 1])]
    assert code == 1 and ("VOICE-001", "error") in found


# --- T5: right to left ---------------------------------------------------------------------------


def test_build__arabic_fixture__rtl_pages_and_pdf_whose_text_extracts(tree, capsys):
    from pypdf import PdfReader

    code, out = build(["ar", "--out", "dist", "--cache", "cache", "--no-audio"], capsys)
    assert code == 0, out
    package = tree / "dist" / "litet-ar" / "1.0.0"
    for page in ("index.html", "start/index.html", "start/valkommen.html", "formular/mina-svar.html"):
        html = (package / page).read_text("utf-8")
        assert '<html lang="ar" dir="rtl">' in html, page
    pdf = next(p for p in package.rglob("*.pdf") if p.name.startswith("valkommen"))
    reader = PdfReader(BytesIO(pdf.read_bytes()))
    text = " ".join(page.extract_text() for page in reader.pages)
    assert len(re.findall(r"[\u0600-\u06FF\uFE70-\uFEFF]", text)) > 20  # Arabic letters, not boxes or nothing
    assert reader.trailer["/Root"]["/Lang"] == "ar"


# --- T6: sentences and lexicon per language ---------------------------------------------------


def test_sentences__finnish_abbreviations_and_ordinals__ok():
    assert sentences("Liiku esim. kävellen klo 18. Se on hyvä! Mitä teet 3. toukokuuta? Kävele n. 30 min. Sitten lepää.",
                     "fi") == ["Liiku esim. kävellen klo 18.", "Se on hyvä!", "Mitä teet 3. toukokuuta?",
                               "Kävele n. 30 min.", "Sitten lepää."]


def test_sentences__arabic_without_capitals_and_its_question_mark__ok():
    assert sentences("مرحبا بك. هل أنت بخير؟ نعم.", "ar") == ["مرحبا بك.", "هل أنت بخير؟", "نعم."]


def test_lexicon__per_language__finnish_entries_not_swedish():
    fi = Lexicon.for_program({"FRAMÅT": "Framoot"}, "fi")
    assert fi.apply("Kävele esim. 30 min FRAMÅT-ohjelmassa.") == "Kävele esimerkiksi 30 minuuttia Framoot-ohjelmassa."
    assert fi.apply("t.ex.") == "t.ex."
    assert Lexicon.for_program({}, "sv").apply("t.ex.") == "till exempel"


def test_build__unchanged_then_swedish_edited__translation_rebuilt_with_TRANS_001(tree, capsys):
    """The translation's build state covers its base: a Swedish edit is never answered 'unchanged'."""
    args = ["fi", "--out", "dist", "--cache", "cache", "--no-audio", "--no-pdf"]
    assert build(args, capsys)[0] == 0
    code, out = build(args, capsys)
    assert code == 0 and "oförändrat" in out
    step = tree / "base" / "modules" / "01-start" / "02-fragor.md"
    step.write_text(step.read_text("utf-8").replace("inga fel svar", "inga felaktiga svar"), "utf-8")
    code, out = build(args, capsys)
    assert code == 0 and "oförändrat" not in out and "TRANS-001" in out


def test_units__table_rows__one_unit_each_with_cell_separators_as_codes():
    from builder.translation import structure_problem

    text = "---\ntitle: T\nsection: S\n---\n# T\n\n| Aktivitet | Minuter |\n|---|---|\n| Promenad | 30 |\n"
    units = step_units(text)
    assert [(u.kind, u.text) for u in units[3:]] == [("table-row", "| Aktivitet | Minuter |"),
                                                      ("table-row", "| Promenad | 30 |")]
    assert [n.start for n in parse_inline(units[-1].text) if not isinstance(n, str)] == ["|", "|", "|"]
    fi = translated_step(text, {u.key: u.text.replace("Promenad", "Kävely") for u in units})
    assert "| Kävely | 30 |" in fi and structure_problem("m.md", text, fi) is None
    broken = fi.replace("| Kävely | 30 |", "| Kävely 30 |")
    assert "tabellrad" in structure_problem("m.md", text, broken)


def test_xliff_export__base_form_gains_a_question__other_texts_keep_their_targets(tree):
    """A form's units are keyed by ids, so a new question leaves the others translated."""
    form = tree / "base" / "forms" / "mina-svar.yaml"
    form.write_text(form.read_text("utf-8") + "  - id: mat\n    type: text\n    label: Vad åt du i dag?\n", "utf-8")
    data = export_xliff(open_translation(tree / "fi")).decode("utf-8")
    assert "<target xml:space=\"preserve\">Miten voit tänään?</target>" in data
    new = data[data.index('name="questions/mat/label"'):]
    assert "<target" not in new[:new.index("</unit>")]
    found, _ = codes(tree / "fi")
    assert "TRANS-004" in found  # the translated form lacks the question until it is imported
