"""Printable PDFs: steps, modules, the program, the therapist guide, the brochure (issue #5).

The minimal fixture is built once per module (WeasyPrint is slow); PDFs are compared by
the text pypdf extracts, and as bytes only where reproducibility is the point.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from html import unescape
from io import BytesIO
from pathlib import Path

import pytest
from pypdf import PdfReader

from builder.config import BuildConfig
from builder.diagnostics import Diagnostics
from builder.paths import module_pdf, program_pdf
from builder.pipeline import build_dir, check_dir
from builder.render.forms import question_view
from builder.render.pdf import PdfStage, render_pdfs
from builder.render.pdf_guide import render_brochure, render_guide
from builder.render.pdf_html import PrintRenderer, captions_text, print_question, render_book
from builder.schema.form import Option, Question
from tests.conftest import FIXTURES, ROOT, diagnose, make_program

EPOCH = 1700000000  # 2023-11-14T22:13:20Z
STEPS = ["pdf/start/valkommen.pdf", "pdf/start/mitt-mal.pdf", "pdf/fordjupning/mer.pdf"]
BOOK = ["pdf/testprogram.pdf", "pdf/start.pdf", "pdf/fordjupning.pdf", *STEPS]
ALL = sorted([*BOOK, "pdf/metodstod.pdf", "pdf/patientbroschyr.pdf"])


def pdf_config(tmp: Path, **changes) -> BuildConfig:
    values = {"out": tmp / "dist", "audio": False, "pdf": True, "cache": tmp / "cache",
              "source_date_epoch": EPOCH, "jobs": 2} | changes
    return BuildConfig(**values)


def html_text(html: str) -> str:
    """Text of print HTML: tags removed, entities decoded, whitespace collapsed."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def reader(data: bytes) -> PdfReader:
    return PdfReader(BytesIO(data))


def text(data: bytes) -> str:
    """All text of a PDF with whitespace collapsed, so line breaks do not split phrases."""
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader(data).pages))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The minimal program built with PDFs: (package folder, build notes, cache folder)."""
    tmp = tmp_path_factory.mktemp("pdf")
    root = make_program(tmp / "src")
    diags = Diagnostics()
    outcome = build_dir(root, pdf_config(tmp), diags)
    assert outcome.package is not None, diags.items
    return outcome.package.folder, outcome.report.notes, tmp / "cache"


def pdf(built, path: str) -> bytes:
    return (built[0] / path).read_bytes()


def test_build__writes_every_pdf_and_links_them(built):
    folder, notes, _ = built
    assert sorted(p.relative_to(folder).as_posix() for p in (folder / "pdf").rglob("*.pdf")) == ALL
    assert "PDF: 8 skapade, 0 från cachen." in notes
    data = json.loads((folder / "program.json").read_text())
    start = data["modules"][0]
    assert start["pdf"] == "pdf/start.pdf"
    assert start["sections"][0]["steps"][0]["pdf"] == "pdf/start/valkommen.pdf"
    assert data["pdf"] == {"program": "pdf/testprogram.pdf", "guide": "pdf/metodstod.pdf",
                           "brochure": "pdf/patientbroschyr.pdf"}
    page = (folder / "start/valkommen.html").read_text()
    assert '<a href="../pdf/start/valkommen.pdf" type="application/pdf">Skriv ut som PDF</a>' in page


def test_step_pdf__has_titles_and_swedish_letters(built):
    step = text(pdf(built, "pdf/start/valkommen.pdf"))
    assert "Välkommen" in step and "Det här är ett kort steg. Du läser det i lugn och ro." in step
    assert "Testprogrammet" in step and "Start · Kom igång" in step  # running header, context line
    assert "(steget ”Mitt mål” i modulen ”Start”)" in step  # a link to another step, on paper
    assert "Tips: Bra att veta" in step  # the callout is kept
    assert "Hoppa till innehållet" not in step and "Nästa steg" not in step  # no navigation chrome
    deep = text(pdf(built, "pdf/fordjupning/mer.pdf"))
    assert "Fördjupning" in deep and "Mer att läsa" in deep
    assert "Ljudets text Andas in. Andas ut." in deep  # a transcript is printed


def test_page_counts__add_up(built):
    pages = {path: len(reader(pdf(built, path)).pages) for path in ALL}
    assert all(1 <= pages[s] <= 3 for s in STEPS)
    assert pages["pdf/start.pdf"] == 1 + pages["pdf/start/valkommen.pdf"] + pages["pdf/start/mitt-mal.pdf"]
    assert pages["pdf/fordjupning.pdf"] == 1 + pages["pdf/fordjupning/mer.pdf"]
    assert pages["pdf/testprogram.pdf"] == 2 + pages["pdf/start.pdf"] + pages["pdf/fordjupning.pdf"]
    assert 3 <= pages["pdf/metodstod.pdf"] <= 20 and 1 <= pages["pdf/patientbroschyr.pdf"] <= 2


def test_metadata__title_author_language_dates_id_and_tags(built):
    r = reader(pdf(built, "pdf/start/valkommen.pdf"))
    meta = r.metadata
    assert meta["/Title"] == "Välkommen – Testprogrammet" and meta["/Author"] == "Stegvis test"
    assert meta["/CreationDate"] == meta["/ModDate"] == "D:20231114221320Z"
    root = r.trailer["/Root"]
    assert root["/Lang"] == "sv" and bool(root["/MarkInfo"]["/Marked"])
    assert "/StructTreeRoot" in root  # tagged, for screen readers
    assert b"pdfuaid:part" in root["/Metadata"].get_object().get_data()
    fixed = hashlib.sha256(b"testprogram/pdf/start/valkommen.pdf").hexdigest()[:32]
    assert r.trailer["/ID"][0] == fixed
    assert reader(pdf(built, "pdf/testprogram.pdf")).metadata["/Title"] == "Testprogrammet"
    assert reader(pdf(built, "pdf/metodstod.pdf")).metadata["/Title"] == "Metodstöd – Testprogrammet"


def test_program_pdf__has_contents_with_page_numbers(built):
    program = text(pdf(built, "pdf/testprogram.pdf"))
    assert re.search(r"Grundmoduler Start[ .]+3 Välkommen[ .]+4 Mitt mål[ .]+5 Fördjupningsmoduler", program)
    assert "Sida 8" in program


def test_form__prints_questions_as_blanks(built):
    form = text(pdf(built, "pdf/start/mitt-mal.pdf"))
    for phrase in ("Vad vill du kalla ditt mål?", "Beskriv ditt mål (måste besvaras)", "Skriv med egna ord.",
                   "Röker du? Välj ett alternativ. Ja Nej", "Hur många cigaretter om dagen? Besvara bara",
                   "Besvara bara om du svarade ”Ja” på frågan ”Röker du?”.", "Skriv ett tal från 0 till 100. st",
                   "Vad hindrar dig? Välj så många du vill. Tid Ork", "0 1 2 3 4", "0 = Inte alls · 4 = Mycket",
                   "När börjar du?", "Svaren du skriver på papperet når inte din behandlare"):
        assert phrase in form, phrase


def test_guide__lists_every_module_form_plan_and_flag(built):
    program = check_dir(FIXTURES / "minimal", Diagnostics())
    guide = text(pdf(built, "pdf/metodstod.pdf"))
    titles = ([m.meta.title for m in program.modules] + [s.meta.title for s in program.steps]
              + [f.form.title for f in program.forms.values()] + [p.plan.title for p in program.plans.values()])
    for title in titles:
        assert title in guide, title
    for phrase in ("Grundmodul", "Fördjupningsmodul", "Kommande (aktiveras av behandlaren)",
                   "Formulär inskickat", "Nytt meddelande", "Ny sidkommentar", "Missad registrering",
                   "Låg", "Prata med din behandlare.", "Poängen är bara ett test.", "Ja (2 p)",
                   "måndag kl. 19:00, onsdag kl. 19:00", "var 4:e vecka", "Ingen avgift i testet.", "ZV044",
                   "Frågorna tar fem minuter."):
        assert phrase in guide, phrase
    assert "**" not in guide


def test_guide_and_brochure__take_fee_codes_and_contacts_from_program_yaml(program, tmp_path):
    root = program({"program.yaml": lambda t: t.replace("Ingen avgift i testet.", "Avgift 200 kronor.")
                    .replace("ZV044", "XY123").replace("name: \"1177\"", "name: Testlinjen")
                    .replace("administration:", "  - {name: Personalstöd, role: För vårdpersonal}\nadministration:")})
    stage = PdfStage(check_dir(root, Diagnostics()), pdf_config(tmp_path))
    files, _ = stage.printer.render_whole(stage.singles)  # the guide and the brochure only
    guide, brochure = text(files["pdf/metodstod.pdf"]), text(files["pdf/patientbroschyr.pdf"])
    assert "Avgift 200 kronor." in guide and "XY123" in guide and "ZV044" not in guide
    assert "Testlinjen: Teknisk hjälp. 0770-72 00 00." in brochure
    assert "Personalstöd" in guide and "Personalstöd" not in brochure  # no way for a patient to reach it
    assert "Start – Den första modulen." in brochure and "Fördjupning" in brochure


def test_same_sources__identical_pdfs_in_one_process_and_without_cache(built, program, tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("the cache cannot be written here")
    result = render_pdfs(check_dir(program(), Diagnostics()), pdf_config(tmp_path, jobs=1, cache=blocked))
    assert result.rendered == ALL and result.messages == []
    for path in ALL:
        assert result.files[path] == pdf(built, path), path


def test_one_changed_step__rerenders_its_step_module_and_program(built, program, tmp_path):
    cache = tmp_path / "cache"
    shutil.copytree(built[2], cache)
    root = program()
    unchanged = render_pdfs(check_dir(root, Diagnostics()), pdf_config(tmp_path, cache=cache))
    assert unchanged.rendered == [] and unchanged.cached == ALL  # no layout at all

    step = root / "modules/01-start/02-mitt-mal.md"
    step.write_text(step.read_text().replace("Skriv ditt mål här nedan.", "Skriv ditt eget mål här nedan."))
    changed = check_dir(root, Diagnostics())
    incremental = render_pdfs(changed, pdf_config(tmp_path, cache=cache))
    assert incremental.rendered == ["pdf/start.pdf", "pdf/start/mitt-mal.pdf", "pdf/testprogram.pdf"]
    assert "Skriv ditt eget mål här nedan." in text(incremental.files["pdf/start/mitt-mal.pdf"])
    clean = render_pdfs(changed, pdf_config(tmp_path, cache=tmp_path / "fresh"))
    assert clean.files == incremental.files


def test_missing_image__renders_without_crashing(program, config, tmp_path):
    root = program({"media/bilder/sol.svg": None})
    assert "REF-003" in [d.code for d in diagnose(root)]  # check stops a real build first
    prog = check_dir(program(), Diagnostics())
    del prog.tree.media["bilder/sol.svg"], prog.tree.files["media/bilder/sol.svg"]
    stage = PdfStage(prog, pdf_config(tmp_path))
    stage.singles = []  # the program book only: the guide shows no images
    result = stage.run()
    assert any("bilder/sol.svg" in m for m in result.messages)
    assert "Det här är ett kort steg." in text(result.files["pdf/start/valkommen.pdf"])


def test_print_html__is_made_for_paper(program, config):
    root = program({
        "modules/01-start/01-valkommen.md": lambda t: t.replace(
            "## Lista", "Mer på [1177](https://www.1177.se) och <https://www.1177.se>.\n\n## Lista"),
        "forms/mal.yaml": lambda t: t.replace("Svara så gott du kan.", "Läs [mer](https://www.1177.se/mal)."),
    })
    prog = check_dir(root, Diagnostics())
    html = render_book(prog, config, PrintRenderer(prog, config)).html
    assert "<form" not in html and "<input" not in html and "<nav class=\"breadcrumb\"" not in html
    assert '<span class="link-url">(www.1177.se)</span>' in html
    assert '<span class="link-url">(www.1177.se/mal)</span>' in html  # once, though the form is finished twice
    assert html.count('<span class="link-url">') == 3  # the bare address is not repeated; the film's is shown
    assert 'href="#steg--fordjupning--mer--fler-tankar"' in html
    assert 'id="steg--fordjupning--mer--fler-tankar"' in html
    ids = re.findall(r' id="([^"]+)"', html)
    assert len(ids) == len(set(ids))


def test_pdf_paths__a_module_named_like_the_program_gets_its_own_file(program):
    root = program({"program.yaml": lambda t: t.replace("id: testprogram", "id: start")})
    prog = check_dir(root, Diagnostics())
    assert program_pdf(prog) == "pdf/start.pdf"
    assert module_pdf(prog, prog.modules[0]) == "pdf/modul-start.pdf"


def test_guide_html__covers_every_module_form_and_plan_of_framat(config):
    program = check_dir(ROOT / "content", Diagnostics())
    renderer = PrintRenderer(program, config)
    guide = html_text(render_guide(program, renderer).html)
    titles = ([m.meta.title for m in program.modules] + [f.form.title for f in program.forms.values()]
              + [p.plan.title for p in program.plans.values()])
    for title in titles:
        assert title in guide, title
    assert program.meta.administration.codes[0].code in guide
    brochure = html_text(render_brochure(program, renderer).html)
    assert all(m.meta.title in brochure for m in program.modules)
    assert program.meta.contacts[0].phone in brochure


def test_print_questions__wide_scale_is_a_line_and_no_repeated_hint():
    scale = Question(id="s", type="scale", label="Hur mycket?", min=0, max=100, labels={0: "Inget", 100: "Allt"})
    printed = print_question(question_view(scale, "p", {"s": scale}, str, str), scale)
    assert (printed.blank, printed.hint, printed.legend) == (
        "scale-line", "Skriv ett tal från 0 till 100.", "0 = Inget · 100 = Allt")
    multi = Question(id="m", type="multi", label="Vad?", help="Välj så många du vill.",
                     options=[Option(value="a", label="A")])
    assert print_question(question_view(multi, "p", {"m": multi}, str, str), multi).hint is None


def test_captions_text__keeps_only_what_is_said():
    vtt = "WEBVTT\n\nNOTE en kommentar\n\n1\n00:00.000 --> 00:02.000\nHej och <b>välkommen</b>.\n\n" \
          "00:02.000 --> 00:04.000 align:start\nNu går vi.\n"
    assert captions_text(vtt) == "Hej och välkommen. Nu går vi."
