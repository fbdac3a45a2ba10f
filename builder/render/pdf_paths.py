"""Where the PDFs of a program land in the package (the pdf stage's naming rules).

Stage 7, pdf. Input: a `Program`, a module or a step. Output: package paths
such as `pdf/<module>/<step>.pdf`. Kept apart from `builder.render.pdf` so that the
HTML pages and program.json can link the PDFs without importing WeasyPrint, and
without depending on the PDF renderer having run.
"""

from __future__ import annotations

from builder.model import Module, Program, Step

FOLDER = "pdf"
GUIDE = f"{FOLDER}/metodstod.pdf"
BROCHURE = f"{FOLDER}/patientbroschyr.pdf"


def program_pdf(program: Program) -> str:
    """The whole program as one PDF: `pdf/<program-id>.pdf`."""
    name = program.meta.id
    if f"{FOLDER}/{name}.pdf" in (GUIDE, BROCHURE):
        name = f"program-{name}"
    return f"{FOLDER}/{name}.pdf"


def module_pdf(program: Program, module: Module) -> str:
    """One module: `pdf/<module>.pdf`, or `pdf/modul-<module>.pdf` when that name is taken."""
    path = f"{FOLDER}/{module.id}.pdf"
    if path in (GUIDE, BROCHURE, program_pdf(program)):
        path = f"{FOLDER}/modul-{module.id}.pdf"
    return path


def step_pdf(step: Step) -> str:
    """One step: `pdf/<module>/<step>.pdf`."""
    return f"{FOLDER}/{step.module_id}/{step.id}.pdf"
