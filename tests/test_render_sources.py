"""Sources of a step where readers see them (issue 17): the step page, the fragment the
runtime shows, the step/module/program PDFs and program.json; never the readout.
"""

from __future__ import annotations

import json
import re
from io import BytesIO

from pypdf import PdfReader

from builder.config import BuildConfig
from builder.diagnostics import Diagnostics
from builder.pipeline import build_dir, check_dir
from builder.render.readout import build_readout
from builder.speech.lexicon import Lexicon
from runtime.content import sanitise
from stegvis_package.model import Fragment, ProgramData

GOAL = "modules/01-start/02-mitt-mal.md"
SOURCES = """sources:
  - title: Rekommendationer om fysisk aktivitet
    publisher: Folkhälsomyndigheten
    url: https://www.folkhalsomyndigheten.se/
    read: 2026-11-30
  - title: Sömn och sömnbesvär
    publisher: 1177 Vårdguiden
    url: https://www.1177.se/
    read: 2026-12-01
"""
EDITS = {GOAL: lambda t: t.replace("section: Kom igång\n", "section: Kom igång\n" + SOURCES, 1)}


def built(root, config):
    diags = Diagnostics()
    outcome = build_dir(root, config, diags)
    assert outcome.package is not None, diags.items
    return outcome.package.folder


def test_step_sources__shown_after_the_body_on_the_page(program, config):
    folder = built(program(EDITS), config)
    page = (folder / "start/mitt-mal.html").read_text("utf-8")
    about = page[page.index('<section class="step-sources"'):page.index("</article>")]
    assert '<h2 id="stegets-kallor">Källor</h2>' in about
    assert ('<li><a href="https://www.folkhalsomyndigheten.se/">Rekommendationer om fysisk aktivitet</a>, '
            'Folkhälsomyndigheten, läst <time datetime="2026-11-30">30 november 2026</time></li>') in about
    assert '<a href="https://www.1177.se/">Sömn och sömnbesvär</a>, 1177 Vårdguiden' in about
    assert '<p class="step-reviewed">Senast granskad <time datetime="2026-10-02">2 oktober 2026</time></p>' in about
    assert page.index("step-sources") > page.index("En kort film")  # after the body
    # A step without sources or review says nothing about them.
    welcome = (folder / "start/valkommen.html").read_text("utf-8")
    assert "Källor" not in welcome and "Senast granskad" not in welcome


def test_step_sources__in_the_fragment_the_runtime_shows(program, config):
    folder = built(program(EDITS), config)
    fragment = Fragment.model_validate_json((folder / "fragments/start/mitt-mal.json").read_text("utf-8"))
    last = fragment.parts[-1].html
    assert last is not None and "Källor" in last and "Senast granskad" in last
    assert [p.form for p in fragment.parts if p.form] == ["mal"]  # the form slot stays where it was
    shown = sanitise(last)  # what the runtime keeps of it
    assert '<a href="https://www.folkhalsomyndigheten.se/" rel="noopener noreferrer">' in shown
    assert '<time datetime="2026-11-30">30 november 2026</time>' in shown
    assert '<section class="step-sources" aria-labelledby="stegets-kallor">' in shown
    welcome = Fragment.model_validate_json((folder / "fragments/start/valkommen.json").read_text("utf-8"))
    assert not any("Källor" in (p.html or "") for p in welcome.parts)


def test_step_sources__typed_in_program_json(program, config):
    folder = built(program(EDITS), config)
    raw = (folder / "program.json").read_text("utf-8")
    data = ProgramData.model_validate_json(raw)
    steps = {s.id: s for m in data.modules for s in m.steps}
    assert [(s.publisher, s.url, s.read.isoformat()) for s in steps["mitt-mal"].sources] == [
        ("Folkhälsomyndigheten", "https://www.folkhalsomyndigheten.se/", "2026-11-30"),
        ("1177 Vårdguiden", "https://www.1177.se/", "2026-12-01")]
    assert steps["valkommen"].sources == []
    plain = json.loads(raw)["modules"][0]["sections"][0]["steps"]
    assert "sources" not in plain[0]  # absent when a step names none: older readers still read it
    assert plain[1]["sources"][0] == {"title": "Rekommendationer om fysisk aktivitet",
                                      "publisher": "Folkhälsomyndigheten",
                                      "url": "https://www.folkhalsomyndigheten.se/", "read": "2026-11-30"}


def test_step_readout__never_reads_the_sources(program):
    prog = check_dir(program(EDITS), Diagnostics())
    step = next(s for s in prog.steps if s.id == "mitt-mal")
    spoken = " ".join(s.text for s in build_readout(step, Lexicon({})).sentences)
    assert "Skriv ditt mål här nedan." in spoken
    for word in ("Källor", "Folkhälsomyndigheten", "Rekommendationer", "1177", "läst", "granskad", "https"):
        assert word not in spoken


def pdf_text(data: bytes) -> str:
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in PdfReader(BytesIO(data)).pages))


def test_step_sources__in_step_module_and_program_pdfs(program, tmp_path):
    config = BuildConfig(out=tmp_path / "dist", audio=False, pdf=True, cache=tmp_path / "cache",
                         source_date_epoch=1700000000, jobs=2)
    folder = built(program(EDITS), config)
    for pdf in ("pdf/start/mitt-mal.pdf", "pdf/start.pdf", "pdf/testprogram.pdf"):
        text = pdf_text((folder / pdf).read_bytes())
        assert "Källor" in text, pdf
        assert ("Rekommendationer om fysisk aktivitet (www.folkhalsomyndigheten.se), Folkhälsomyndigheten, "
                "läst 30 november 2026") in text, pdf
        assert "Sömn och sömnbesvär (www.1177.se), 1177 Vårdguiden, läst 1 december 2026" in text, pdf
        assert "Senast granskad 2 oktober 2026" in text, pdf
    welcome = pdf_text((folder / "pdf/start/valkommen.pdf").read_bytes())
    assert "Källor" not in welcome and "Senast granskad" not in welcome
