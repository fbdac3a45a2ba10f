"""program.json: the whole structured program that the runtime needs."""

from __future__ import annotations

from builder import PACKAGE_FORMAT
from builder.render.html import form_page, module_page, plan_page, step_page
from builder.validate import Program


def program_data(program: Program, content_hash: str) -> dict:
    """Modules, sections, steps, forms and plans with their package paths."""
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
                            "forms": [d.arg for d in st.body.directives if d.name == "form"],
                            "reviewed": st.meta.reviewed.model_dump(mode="json") if st.meta.reviewed else None,
                        }
                        for st in s.steps
                    ],
                }
                for s in m.sections
            ],
        })
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
    }
