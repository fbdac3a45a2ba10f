"""Issue #15: the generated method support (metodstöd) covers roles, workflow and administration.

Requirements: the guide has chapters on the roles in a care unit and on the workflow from
start to purge, and its administration chapter carries the journal wording and codes
(`administration.journal`), the support for staff (`support_contacts`) and where to
report a deviation; FRAMÅT's and Norrbotten's values reach their guides; staff support
never reaches the patient brochure.
"""

from __future__ import annotations

from builder.diagnostics import Diagnostics
from builder.pipeline import check_dir
from builder.render.pdf import PdfStage
from builder.render.pdf_guide import render_brochure, render_guide
from builder.render.pdf_html import PrintRenderer
from tests.conftest import FIXTURES, ROOT
from tests.test_pdf import html_text, pdf_config, text


def guide_and_brochure(root, config) -> tuple[str, str]:
    program = check_dir(root, Diagnostics())
    renderer = PrintRenderer(program, config)
    return html_text(render_guide(program, renderer).html), html_text(render_brochure(program, renderer).html)


def test_guide__roles_workflow_journal_support_and_deviation__ok(config):
    guide, brochure = guide_and_brochure(FIXTURES / "minimal", config)
    for phrase in ("Roller och behörigheter", "Behandlare", "Invånaradministratör", "Behörighetsadministratör",
                   "Dataadministratör", "flera roller på samma vårdenhet",
                   "Arbetsgång", "Starta", "Anpassa", "Följa och granska", "Avisera till inkorgen",
                   "Vidmakthålla eller avsluta", "Frånvaro", "Gallra",
                   "Från start är 1 av programmets 2 moduler aktuella: Start.",
                   "Journalföring", "Journalför som vid annat arbete med levnadsvanor.",
                   "Vid start Start av Testprogrammet.", "Vid granskning Granskning av Testprogrammet.",
                   "AN5 Vårdkontakt vid start utan besök", "AN24 Vårdkontakt vid granskning",
                   "Rapportera avvikelse", "Support för vårdpersonal", "Testsupport",
                   "010-000 00 00, vardagar 8–16"):
        assert phrase in guide, phrase
    # The chapters come in the contents, in order, before the administration.
    contents = guide[guide.index("Innehåll"):]
    assert contents.index("Roller och behörigheter") < contents.index("Arbetsgång") \
        < contents.index("Administrativa uppgifter")
    assert "Testsupport" not in brochure


def test_guide__framat_and_norrbotten_values_from_the_method_support__ok(config):
    framat, _ = guide_and_brochure(ROOT / "content", config)
    assert "ZV044" in framat and "Nationell support (Inera)" in framat and "0771-25 10 10" in framat
    norrbotten, brochure = guide_and_brochure(ROOT / "regions" / "norrbotten", config)
    for phrase in ("AN5", "AN24", "DR16", "ZV044",
                   "Start av Framåt för hälsa och livskvalitet i Norrbotten i Stöd och behandling.",
                   "Regional support för Stöd och behandling", "Nationell support (Inera)"):
        assert phrase in norrbotten, phrase
    assert "Regional support" not in brochure  # staff support is not for patients


def test_guide_pdf__has_the_new_chapters__ok(program, tmp_path):
    stage = PdfStage(check_dir(program(), Diagnostics()), pdf_config(tmp_path))
    files, _ = stage.printer.render_whole(stage.singles)
    guide = text(files["pdf/metodstod.pdf"])
    for phrase in ("Roller och behörigheter", "Arbetsgång", "Journalföring", "Support för vårdpersonal",
                   "Rapportera avvikelse"):
        assert phrase in guide, phrase
