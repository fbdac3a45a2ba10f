"""Issue #15, point 10: a form in a step PDF breaks across pages sensibly.

Requirement: wherever the step's text ends on the page, the form box never starts on a
page with only its title and notes (the rest of that page empty); its title stays with
its first question. Laid out with WeasyPrint and the real print stylesheet and templates.
"""

from __future__ import annotations

import re

from builder.config import BuildConfig
from builder.diagnostics import Diagnostics
from builder.pipeline import check_dir
from builder.render.pdf import STYLESHEET, Printer
from builder.render.pdf_html import PdfSpec, PrintRenderer


def classes(box) -> list[str]:
    element = getattr(box, "element", None)
    return (element.get("class") or "").split() if element is not None else []


def walk(box):
    yield box
    for child in getattr(box, "children", None) or []:
        yield from walk(child)


def test_step_pdf__form_title_always_on_a_page_with_its_first_question__ok(program, tmp_path):
    # The form without its picture: its first question is a short text, then ruled lines.
    root = program({"forms/mal.yaml": lambda t: re.sub(r"  - id: intro\n(    .*\n)+", "", t)})
    prog = check_dir(root, Diagnostics())
    config = BuildConfig(out=tmp_path / "dist", audio=False, pdf=True, source_date_epoch=1700000000)
    renderer = PrintRenderer(prog, config)
    printer = Printer((config.templates / STYLESHEET).read_text("utf-8"), renderer.media_files(), prog.meta.id)
    module = next(m for m in prog.modules if m.id == "start")
    step = next(s for s in module.steps if s.id == "mitt-mal")
    lonely = []
    # Push the form down the first page a line at a time, through the page's lower half.
    for lines in range(16, 32):
        fragment = renderer.step(module, step)
        filler = "".join(f"<p>Rad {i} av texten före formuläret.</p>" for i in range(lines))
        html = fragment.html.replace('<section class="form">', filler + '<section class="form">', 1)
        doc = renderer.document("t", "t", [type(fragment)(fragment.anchor, html)], [PdfSpec("x.pdf", "t", "t", 0, 0)],
                                "d", "book")
        for number, page in enumerate(printer.layout(doc).pages, 1):
            found = [c for b in walk(page._page_box) for c in classes(b)]
            if "form-title" in found and "question" not in found:
                lonely.append((lines, number))
    assert lonely == []
