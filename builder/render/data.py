"""program.json: the whole structured program that the runtime needs.

Its shape is `stegvis_package.model.ProgramData`; `program_json` checks what is written
against it, so the builder never writes what readers would refuse.
"""

from __future__ import annotations

from builder.model import Program
from builder.paths import (
    BROCHURE,
    GUIDE,
    audio_paths,
    form_page,
    module_page,
    module_pdf,
    plan_page,
    program_pdf,
    step_page,
    step_pdf,
)
from builder.review import review_status
from stegvis_package import PACKAGE_FORMAT
from stegvis_package.encoding import dumps
from stegvis_package.model import ProgramData
from stegvis_package.paths import fragment_path


def program_data(program: Program, content_hash: str, readouts: dict | None = None, pdf: bool = False) -> dict:
    """Modules, sections, steps, forms and plans with their package paths.

    `readouts` (step -> Readout) adds each read step's MP3 and cue file; `pdf` (PDFs
    were built) adds the PDF of each step and module, the program, the guide and the brochure.
    """
    readouts = readouts or {}

    def readout_paths(step) -> dict | None:
        readout = readouts.get(step)
        if readout is None or not readout.sentences:
            return None
        mp3, vtt = audio_paths(step)
        return {"mp3": mp3, "cues": vtt, "sentences": len(readout.sentences)}

    meta = program.meta
    modules = []
    for m in program.modules:
        modules.append({
            "id": m.id,
            "title": m.meta.title,
            "kind": m.meta.kind,
            "start": m.meta.start,
            "description": m.meta.description,
            "page": module_page(m),
            "sections": [
                {
                    "title": s.title,
                    "steps": [
                        {
                            "id": st.id,
                            "title": st.meta.title,
                            "visible": st.meta.visible,
                            "audio": st.meta.audio,
                            "page": step_page(st),
                            "fragment": fragment_path(m.id, st.id),
                            "forms": [d.arg for d in st.body.directives if d.name == "form"],
                            "reviewed": st.meta.reviewed.model_dump(mode="json") if st.meta.reviewed else None,
                            "review_status": review_status("step", st.file, st.meta.reviewed)[0],
                            "readout": readout_paths(st),
                        } | ({"pdf": step_pdf(st)} if pdf else {})
                        | ({"sources": [s.model_dump(mode="json") for s in st.meta.sources]} if st.meta.sources else {})
                        for st in s.steps
                    ],
                }
                for s in m.sections
            ],
        } | ({"pdf": module_pdf(program, m)} if pdf else {}))
    pdfs = {"pdf": {"program": program_pdf(program), "guide": GUIDE, "brochure": BROCHURE}} if pdf else {}
    return {
        "format": PACKAGE_FORMAT,
        "content_hash": content_hash,
        "program": meta.model_dump(mode="json", exclude={"modules", "silence"}),
        "modules": modules,
        "forms": {
            fid: fd.form.model_dump(mode="json", exclude_none=True)
            | {"page": form_page(fid), "fhir": f"fhir/Questionnaire-{fid}.json"}
            for fid, fd in program.forms.items()
        },
        "activity_plans": {
            pid: pd.plan.model_dump(mode="json", exclude_none=True) | {"page": plan_page(pid)}
            for pid, pd in program.plans.items()
        },
    } | pdfs


def program_json(data: dict) -> bytes:
    """program.json's bytes, checked against the package model (a mismatch is a bug in Stegvis)."""
    raw = dumps(data)
    ProgramData.model_validate_json(raw)
    return raw
