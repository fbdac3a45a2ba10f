"""The builder's own words on pages and in PDFs in the program's language (issue 18).

Requirements tested here:
- C1 a Finnish translation's pages have Finnish chrome: skip link, breadcrumb, player, pager,
  form button and notes, sources heading, the review date with a Finnish month; its print
  HTML and PDFs too (contents, cover, module pages, running page number);
- C2 the Arabic fixture's chrome is Arabic, with dir="rtl";
- C3 every catalogue translates every message extracted from the templates and the render
  code, with the same placeholders, nothing fuzzy, nothing obsolete;
- C4 a language without a catalogue gets Swedish chrome and one PAGES-001 warning (an
  error with --strict);
- C5 editing a msgstr rebuilds the pages of that language, and only them;
- C6 Swedish output is unchanged (the golden files of tests/test_build.py, and here the
  Swedish text of every chrome msgid appears as it did).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from builder.cli import main
from builder.config import TEMPLATES, BuildConfig
from builder.diagnostics import Diagnostics
from builder.pipeline import build_dir, check_dir
from builder.render.chrome import DOMAIN, LOCALES, catalogue_path, chrome_for
from builder.render.pdf_html import render_book
from builder.review import sign
from tests.conftest import ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "translation"
ESPEAK = shutil.which("espeak-ng") is not None
#: The languages that ship a pages catalogue.
LANGUAGES = ("ar", "en", "fi")
#: Keywords that mark the domain's messages (templates: _; Python: N_ and chrome(...)).
KEYWORDS = {"_": None, "gettext": None, "N_": None, "chrome": None}
SOURCES = """sources:
  - title: {title}
    publisher: {publisher}
    url: https://www.1177.se/
    read: 2026-11-30
"""


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The translation fixture (base, ar, fi), its second step with a source, the Finnish one reviewed."""
    root = tmp_path / "work"
    shutil.copytree(FIXTURE, root)
    for lang, section, title, publisher in (("base", "Börja här", "Fysisk aktivitet", "1177 Vårdguiden"),
                                            ("fi", "Aloita tästä", "Liikunta", "Terveyskylä"),
                                            ("ar", "ابدأ هنا", "النشاط البدني", "1177 Vårdguiden")):
        step = root / lang / "modules" / "01-start" / "02-fragor.md"
        text = step.read_text("utf-8")
        step.write_text(text.replace(f"section: {section}\n", f"section: {section}\n"
                                     + SOURCES.format(title=title, publisher=publisher), 1), "utf-8")
    sign(root / "fi" / "modules" / "01-start" / "02-fragor.md", "Kääntäjä", dt.date(2026, 5, 9))
    monkeypatch.chdir(root)
    return root


def build(args: list[str], capsys) -> tuple[int, str]:
    code = main(["build", *args])
    out = capsys.readouterr()
    return code, out.out + out.err


# --- C1: Finnish ---------------------------------------------------------------------------------


def test_finnish_pages__chrome_in_finnish__ok(tree, capsys):
    code, out = build(["fi", "--out", "dist", "--cache", "cache", "--no-audio", "--no-pdf", "--strict"], capsys)
    assert code == 0, out
    package = tree / "dist" / "litet-fi" / "1.0.0"
    first = (package / "start" / "valkommen.html").read_text("utf-8")
    page = (package / "start" / "fragor.html").read_text("utf-8")
    assert '<a class="skip-link" href="#innehall">Siirry sisältöön</a>' in page
    assert '<nav class="breadcrumb" aria-label="Olet tässä">' in page
    assert '<nav class="pager" aria-label="Vaiheet">' in page
    assert '<span class="pager-label">Edellinen vaihe:</span> Tervetuloa' in page
    assert '<span class="pager-label">Seuraava vaihe:</span> Muutama kysymys' in first
    assert '<button type="submit">Lähetä</button>' in page
    assert '<span class="required">(pakollinen)</span>' in page
    assert 'Tulosta PDF-tiedostona' not in page  # --no-pdf: no print link
    assert '<h2 id="stegets-kallor">Lähteet</h2>' in page
    assert 'Terveyskylä, luettu <time datetime="2026-11-30">30. marraskuuta 2026</time>' in page
    assert '<p class="step-reviewed">Tarkistettu viimeksi <time datetime="2026-05-09">9. toukokuuta 2026</time></p>' \
        in page
    assert 'aria-label="Vinkki"' in first  # the callout's kind, composed in Python
    assert "Pieni ohjelma, versio 1.0.0. Julkaisija: Stegvis test." in page
    fragment = (package / "fragments" / "start" / "fragor.json").read_text("utf-8")
    assert "Tarkistettu viimeksi" in fragment and "Lähteet" in fragment  # the runtime shows the fragment
    module = (package / "start" / "index.html").read_text("utf-8")
    assert "Perusmoduuli · Avoinna alusta alkaen" in module
    for html in (page, first, module):
        for swedish in ("Hoppa till innehållet", "Du är här", "Skicka in", "Källor", "Senast granskad",
                        "Nästa steg", "Föregående steg", "Utgivare", "Grundmodul", "måste besvaras"):
            assert swedish not in html


def test_finnish_reviewer_pages__overview_and_form_page_in_finnish__ok(tree, capsys):
    code, out = build(["fi", "--out", "dist", "--cache", "cache", "--no-audio", "--no-pdf"], capsys)
    assert code == 0, out
    package = tree / "dist" / "litet-fi" / "1.0.0"
    overview = (package / "index.html").read_text("utf-8")
    assert "<title>Yleiskatsaus tarkastajille – Pieni ohjelma</title>" in overview
    assert "Yleiskatsaus tarkastajille: moduuleja 1, vaiheita 2, lomakkeita 1 ja aktiviteettisuunnitelmia 0." in overview
    assert '<h2 id="grupp-1">Perusmoduulit</h2>' in overview
    assert "LIX" not in overview  # a Swedish measure: not shown for other languages
    form = (package / "formular" / "mina-svar.html").read_text("utf-8")
    assert "<caption>Tietoa lomakkeesta</caption>" in form and "<h2>Tältä lomake näyttää</h2>" in form
    assert "<li>Lomakkeet</li>" in form  # the breadcrumb
    for swedish in ("Översikt", "Formulär", "Obligatoriskt", "Så ser formuläret ut", ">Ja<", ">Nej<"):
        assert swedish not in overview + form


@pytest.mark.skipif(not ESPEAK, reason="espeak-ng is not installed")
def test_finnish_pages__player_in_finnish__ok(tree, capsys):
    code, out = build(["fi", "--out", "dist", "--cache", "cache", "--no-pdf", "--tts", "espeak"], capsys)
    assert code == 0, out
    page = (tree / "dist" / "litet-fi" / "1.0.0" / "start" / "valkommen.html").read_text("utf-8")
    assert "<figcaption>Kuuntele sivu</figcaption>" in page
    assert 'srclang="fi" label="Virkkeet"' in page
    assert "Lataa äänitiedosto (MP3)</a>" in page
    assert "Lyssna på sidan" not in page


def test_finnish_print_html__chrome_in_finnish__ok(tree):
    diags = Diagnostics()
    program = check_dir(tree / "fi", diags)
    assert program is not None, diags.items
    book = render_book(program, BuildConfig(out=tree / "dist", audio=False, source_date_epoch=1700000000))
    html = book.html
    assert 'data-page="Sivu"' in html  # the running page number: string(page-label) in print.css
    assert "<h1>Sisällys</h1>" in html and "<h2>Perusmoduulit</h2>" in html
    assert "Versio 1.0.0" in html
    assert "Moduuleja 1, vaiheita 2, lomakkeita 1 ja aktiviteettisuunnitelmia 0" in html
    assert "Vaiheita moduulissa: 2" in html
    assert "Paperille kirjoittamasi vastaukset eivät tavoita hoitajaasi." in html
    assert "(vaihe ”Muutama kysymys” moduulissa ”Alkuun”)" in html  # a link to another step, on paper
    assert "Tarkistettu viimeksi" in html and "9. toukokuuta 2026" in html
    assert [s.subject for s in book.outputs if s.path.endswith("fragor.pdf")] == ["Vaihe moduulissa Alkuun"]
    for swedish in ("Innehåll", "Sida", "I modulen", "Grundmoduler", "Svaren du skriver", "steget ”"):
        assert swedish not in html


def test_finnish_pdfs__page_number_and_contents_in_finnish__ok(tree, capsys):
    from pypdf import PdfReader

    code, out = build(["fi", "--out", "dist", "--cache", "cache", "--no-audio"], capsys)
    assert code == 0, out
    pdf = tree / "dist" / "litet-fi" / "1.0.0" / "pdf"
    text = lambda path: " ".join(" ".join(p.extract_text() for p in PdfReader(path).pages).split())  # noqa: E731
    step = text(pdf / "start" / "fragor.pdf")
    assert re.search(r"Sivu \d+", step) and "Lähteet" in step and "Lähetä" not in step  # paper has no button
    book = text(pdf / "litet-fi.pdf")
    assert "Sisällys" in book and "Versio 1.0.0" in book and "Sida" not in book
    brochure = text(pdf / "patientbroschyr.pdf")
    assert "Näin ohjelma toimii" in brochure and "soita 112" in brochure
    guide = PdfReader(pdf / "metodstod.pdf")  # the therapist guide stays Swedish, staff read it
    assert guide.trailer["/Root"]["/Lang"] == "sv" and "Innehåll" in guide.pages[1].extract_text()


# --- C2: Arabic, right to left -------------------------------------------------------------------


def test_arabic_pages__chrome_in_arabic_right_to_left__ok(tree, capsys):
    code, out = build(["ar", "--out", "dist", "--cache", "cache", "--no-audio", "--no-pdf"], capsys)
    assert code == 0, out
    page = (tree / "dist" / "litet-ar" / "1.0.0" / "start" / "fragor.html").read_text("utf-8")
    assert '<html lang="ar" dir="rtl">' in page
    assert '<a class="skip-link" href="#innehall">انتقل إلى المحتوى</a>' in page
    assert 'aria-label="أنت هنا"' in page
    assert '<span class="pager-label">الخطوة السابقة:</span>' in page
    assert '<button type="submit">إرسال</button>' in page
    assert '<h2 id="stegets-kallor">المصادر</h2>' in page
    assert '1177 Vårdguiden، تاريخ الاطلاع <time datetime="2026-11-30">30 نوفمبر 2026</time>' in page
    assert "Hoppa till innehållet" not in page and "Skicka in" not in page and "Källor" not in page
    assert "PAGES-001" not in out


# --- C3: the catalogues are complete -------------------------------------------------------------


def extracted() -> dict[str, set[str]]:
    """Every message of the pages domain in the templates and the render code: msgid -> placeholders."""
    with open(TEMPLATES / LOCALES / "pages.cfg", encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    found: dict[str, set[str]] = {}
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True):
        msgid = message if isinstance(message, str) else message[0]
        found[msgid] = set(re.findall(r"%\((\w+)\)s", msgid))
    return found


def test_catalogues__every_message_translated_with_its_placeholders__ok():
    messages = extracted()
    assert {"Hoppa till innehållet", "Skicka in", "Senast granskad", "Sida", "Grundmodul",
            "Skriv ett tal från %(min)s till %(max)s."} <= messages.keys()  # templates and Python both
    for language in LANGUAGES:
        path = catalogue_path(TEMPLATES, language)
        assert path is not None, language
        catalogue = read_po(BytesIO(path.read_bytes()), locale=language, domain=DOMAIN)
        entries = {m.id: m for m in catalogue if m.id}
        assert sorted(messages.keys() - entries.keys()) == [], f"{language}: not in the catalogue"
        assert sorted(entries.keys() - messages.keys()) == [], f"{language}: no longer in the templates"
        assert not catalogue.obsolete, language
        for msgid, message in entries.items():
            assert message.string, f"{language}: {msgid!r} has no translation"
            assert "fuzzy" not in message.flags, f"{language}: {msgid!r} is fuzzy"
            assert set(re.findall(r"%\((\w+)\)s", message.string)) == messages[msgid], f"{language}: {msgid!r}"
            assert "%" not in re.sub(r"%\(\w+\)s", "", message.string), f"{language}: stray % in {msgid!r}"
        assert [errors for _, errors in catalogue.check() if errors] == [], language


def test_chrome__swedish_is_the_source__msgids_unchanged():
    sv = chrome_for(TEMPLATES, "sv")
    assert [sv.weekday(i) for i in (0, 6)] == ["måndag", "söndag"]  # plan pages: as WEEKDAY_ORDER had them
    assert not sv.missing and sv.catalogue is None
    assert sv("Hoppa till innehållet") == "Hoppa till innehållet"
    assert sv.date(dt.date(2026, 12, 2)) == "2 december 2026" and sv.number(0.5) == "0,5"
    fi = chrome_for(TEMPLATES, "fi-FI")  # a region subtag falls back to the language's catalogue
    assert fi.catalogue == TEMPLATES / LOCALES / "fi" / "LC_MESSAGES" / "pages.po"
    assert fi("Skicka in") == "Lähetä" and fi.date(dt.date(2026, 12, 2)) == "2. joulukuuta 2026"
    assert fi.weekday(0) == "maanantai" and fi.number(0.5) == "0,5" and fi.language_name == "Suomi"
    assert chrome_for(TEMPLATES, "en").number(0.5) == "0.5"


# --- C4: no catalogue → Swedish chrome and PAGES-001 -----------------------------------------------


def test_language_without_catalogue__swedish_chrome_and_one_PAGES_001(tree, capsys):
    (tree / "fi" / "program.yaml").write_text("translates: ../base\nlanguage: se\ntitle: Prográmma\n", "utf-8")
    code, out = build(["fi", "--out", "dist", "--cache", "cache", "--no-audio", "--no-pdf"], capsys)
    assert code == 0, out
    assert len(re.findall(r"fi/program\.yaml:2:\d+: warning PAGES-001: Sidornas egna texter .* språket se ", out)) == 1
    assert "templates/locales/se/LC_MESSAGES/pages.po" in out
    page = (tree / "dist" / "litet-se" / "1.0.0" / "start" / "fragor.html").read_text("utf-8")
    assert '<a class="skip-link" href="#innehall">Hoppa till innehållet</a>' in page
    assert '<button type="submit">Skicka in</button>' in page
    assert "Senast granskad <time" in page and "9 maj 2026" in page  # the date in Swedish too
    code, out = build(["fi", "--out", "dist2", "--cache", "cache", "--no-audio", "--no-pdf", "--strict"], capsys)
    assert code == 1 and "error PAGES-001" in out


def test_language_without_catalogue__silenced__no_PAGES_001(tree, capsys):
    (tree / "fi" / "program.yaml").write_text(
        "translates: ../base\nlanguage: se\ntitle: Prográmma\nsilence: [PAGES-001]\n", "utf-8")
    code, out = build(["fi", "--out", "dist", "--cache", "cache", "--no-audio", "--no-pdf", "--strict"], capsys)
    assert code == 0 and "PAGES-001" not in out, out


def test_swedish_program__no_PAGES_001(tree, capsys):
    code, out = build(["base", "--out", "dist", "--cache", "cache", "--no-audio", "--no-pdf", "--strict"], capsys)
    assert code == 0 and "PAGES-001" not in out, out


# --- C5: a changed msgstr rebuilds that language's pages, and only them ---------------------------


def test_incremental__edited_msgstr__rebuilds_finnish_pages_only(tree, tmp_path):
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates, ignore=shutil.ignore_patterns("runtime", "__pycache__"))
    config = BuildConfig(out=tmp_path / "out", cache=tmp_path / "cache", audio=False, pdf=False,
                         source_date_epoch=1700000000, templates=templates)

    def run(folder: str):
        diags = Diagnostics()
        outcome = build_dir(tree / folder, config, diags)
        assert outcome.package is not None, diags.items
        return outcome

    fi_first, sv_first = run("fi"), run("base")
    assert fi_first.report.pages_built == sv_first.report.pages_built == 5
    catalogue = templates / LOCALES / "fi" / "LC_MESSAGES" / "pages.po"
    text = catalogue.read_text("utf-8")
    assert 'msgid "Skicka in"\nmsgstr "Lähetä"\n' in text
    catalogue.write_text(text.replace('msgid "Skicka in"\nmsgstr "Lähetä"\n',
                                      'msgid "Skicka in"\nmsgstr "Lähetä vastaukset"\n'), "utf-8")
    fi_again, sv_again = run("fi"), run("base")
    assert fi_again.report.pages_built == 5 and fi_again.report.pages_reused == 0  # every page shows chrome
    assert sv_again.report.pages_built == 0 and sv_again.report.pages_reused == 5
    page = (fi_again.package.folder / "start" / "fragor.html").read_text("utf-8")
    assert '<button type="submit">Lähetä vastaukset</button>' in page
    # untouched again: nothing rebuilt
    assert run("fi").report.pages_built == 0
