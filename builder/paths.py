"""Where every output of a program lands in the package: pages, media, readouts and PDFs.

Layer: links and output paths, above the program model and below every stage (see
DESIGN.md, "Layers"). Input: a `Program`, a module, a step, a form or plan id. Output:
package paths such as `<module>/<step>.html`, `media/<name>.<hash>.jpg`,
`audio/<module>/<step>.mp3` or `pdf/<module>/<step>.pdf`. Kept apart from the renderers
so that pages, program.json and incremental builds can link every output without
importing the renderer that makes it (WeasyPrint, numpy and the encoder are slow to
import, and a build without audio or PDFs never needs them; issue #7). Must not render
or read files.
"""

from __future__ import annotations

import hashlib
from pathlib import PurePosixPath

from builder.model import Module, Program, Step

# --- pages and media -----------------------------------------------------------------


def step_page(step: Step) -> str:
    """A step's page: `<module>/<step>.html`."""
    return f"{step.module_id}/{step.id}.html"


def module_page(module: Module) -> str:
    """A module's page: `<module>/index.html`."""
    return f"{module.id}/index.html"


def form_page(form_id: str) -> str:
    """A form's page: `formular/<form>.html`."""
    return f"formular/{form_id}.html"


def plan_page(plan_id: str) -> str:
    """An activity plan's page: `aktivitetsplaner/<plan>.html`."""
    return f"aktivitetsplaner/{plan_id}.html"


def media_names(program: Program) -> dict[str, str]:
    """media/ path -> package path with a content hash, so caches never serve stale files.

    Films' storyboards (YAML) are sources, not media: the films made from them are shipped instead.
    """
    names = {}
    media = (k for k in program.tree.media if k not in program.tree.films)
    for key, data in ((k, program.tree.files[f"media/{k}"]) for k in media):
        p = PurePosixPath(key)
        digest = hashlib.sha256(data).hexdigest()[:10]
        suffix = ".vtt" if p.suffix.lower() == ".srt" else p.suffix  # SRT captions ship as WebVTT
        names[key] = str(PurePosixPath("media") / p.parent / f"{p.stem}.{digest}{suffix}")
    return names


# --- readouts (the audio stage) ------------------------------------------------------


def audio_paths(step: Step) -> tuple[str, str]:
    """Package paths of a step's MP3 and cue file."""
    base = f"audio/{step.module_id}/{step.id}"
    return f"{base}.mp3", f"{base}.vtt"


# --- PDFs (the pdf stage) --------------------------------------------------------------

PDF_FOLDER = "pdf"
GUIDE = f"{PDF_FOLDER}/metodstod.pdf"
BROCHURE = f"{PDF_FOLDER}/patientbroschyr.pdf"


def program_pdf(program: Program) -> str:
    """The whole program as one PDF: `pdf/<program-id>.pdf`."""
    name = program.meta.id
    if f"{PDF_FOLDER}/{name}.pdf" in (GUIDE, BROCHURE):
        name = f"program-{name}"
    return f"{PDF_FOLDER}/{name}.pdf"


def module_pdf(program: Program, module: Module) -> str:
    """One module: `pdf/<module>.pdf`, or `pdf/modul-<module>.pdf` when that name is taken."""
    path = f"{PDF_FOLDER}/{module.id}.pdf"
    if path in (GUIDE, BROCHURE, program_pdf(program)):
        path = f"{PDF_FOLDER}/modul-{module.id}.pdf"
    return path


def step_pdf(step: Step) -> str:
    """One step: `pdf/<module>/<step>.pdf`."""
    return f"{PDF_FOLDER}/{step.module_id}/{step.id}.pdf"
