"""Preview an enrolment as its patient sees it ("Förhandsgranska" in the method support).

Input: a staff request context and an enrolment of the unit (Action.enrolment_read).
Output: the patient's start page and step pages, read-only: the same module tree
(current modules, visible steps, opened marks) and the same sanitised step content
as runtime/pages.py renders for the patient, under a banner that says it is a
preview. Forms are shown empty and disabled. The program's texts (titles, steps, forms,
plans) are in the enrolment's language as the patient reads them (issue 18: from the
translation where it has the part, else Swedish, marked); the staff chrome stays Swedish.

URLs mirror the patient's, so the step content's relative links work unchanged:

  /personal/moment/<e>/forhandsvisning                       start page
  /personal/moment/<e>/forhandsvisning/steg/<module>/<step>  step page
  /personal/moment/<e>/forhandsvisning/filer/<path>          package files
  /personal/moment/<e>/forhandsvisning/sprak/<lang>/<path>   a translation's files

Must not: write anything but the access-log row (no opened marks, no drafts, no read receipts).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter
from fastapi.responses import Response
from markupsafe import Markup

from runtime.content import FormSlot, markdown, step_body
from runtime.enrolments import module_tree, patient_access, step_readable, visible_plans
from runtime.language import swedish_name
from runtime.models import Enrolment
from runtime.packages import Package
from runtime.services.access import Action, enrolment_package, unit_enrolment
from runtime.services.enrolment import local_today
from runtime.services.patient import neighbours, program_files, text_of, tree
from runtime.staff.common import render_staff
from runtime.views import QuestionView, question_views
from runtime.web import AppError, Ctx, StaffDep, not_found, package_file_response

router = APIRouter(include_in_schema=False)


@dataclass
class PreviewForm:
    """A form of a step as a new patient sees it: its questions, empty, disabled."""

    form_id: str
    html_id: str
    title: str
    description: Markup | None
    required: bool
    page_comments: bool
    questions: list[QuestionView]


def _root(enrolment: Enrolment) -> str:
    return f"/personal/moment/{enrolment.id}/forhandsvisning"


def _common(ctx: Ctx, enrolment: Enrolment, package: Package) -> dict:
    """What every preview page shows around the content: the banner and the patient's access today."""
    access = patient_access(enrolment, local_today(ctx))
    stylesheet = f"{_root(enrolment)}/filer/assets/stegvis.css" if "assets/stegvis.css" in package.files else None
    words = text_of(ctx, enrolment, package)
    return {"enrolment": enrolment, "package": package, "root": _root(enrolment), "readable": access.read,
            "readonly": access.reason if access.read else "", "closed": "" if access.read else access.reason,
            "program_title": words.title, "stylesheet": stylesheet,
            "language_name": swedish_name(words.language) if words.in_translation else None}


@router.get("/personal/moment/{eid}/forhandsvisning")
@router.get("/personal/moment/{eid}/forhandsvisning/")
def preview_start(eid: int, ctx: StaffDep) -> Response:
    """The patient's start page: welcome text, current modules with their visible steps, plans, contacts."""
    enrolment = unit_enrolment(ctx, eid, Action.enrolment_read)
    package = enrolment_package(ctx, enrolment)
    values = _common(ctx, enrolment, package)
    words = text_of(ctx, enrolment, package)
    modules = module_tree(ctx.db, enrolment, package, tree=tree(ctx, enrolment, package)) if values["readable"] else []
    plans = [{"id": p.id, "title": (words.plan(p) or {}).get("title", "Aktivitetsplan")}
             for p in visible_plans(enrolment)]
    ctx.audit("enrolment.preview", enrolment)
    return render_staff(ctx, "staff/preview.html", title=f"Förhandsvisning – {words.title}", modules=modules,
                        plans=plans, welcome=enrolment.welcome_text, contacts=enrolment.contacts,
                        program_files=program_files(enrolment, words), **values)


@router.get("/personal/moment/{eid}/forhandsvisning/steg/{module_id}/{step_id}")
def preview_step(eid: int, module_id: str, step_id: str, ctx: StaffDep) -> Response:
    """A step page as the patient sees it; a step the patient cannot open is refused with the reason."""
    enrolment = unit_enrolment(ctx, eid, Action.enrolment_read)
    package = enrolment_package(ctx, enrolment)
    values = _common(ctx, enrolment, package)
    found = step_readable(enrolment, package, module_id, step_id) if values["readable"] else None
    if found is None:
        raise AppError(404, "Patienten ser inte det här steget: det är dolt, ligger i en modul som inte är aktuell, "
                            "eller finns inte i programmet.")
    # As the patient reads it (runtime.pages.render_step): the translation's step where it has it.
    words = text_of(ctx, enrolment, package)
    shown, (module, section, step) = words.step(module_id, step_id)
    translated = words.translated(module_id, step_id)
    body = step_body(shown, module_id, step_id)
    if body is None and shown is not package:
        shown, (module, section, step), translated = package, found, False
        body = step_body(package, module_id, step_id)
    if body is None:
        raise AppError(503, "Steget går inte att visa just nu.")
    parts: list[tuple[str, object]] = []
    for part in body.parts:
        if isinstance(part, FormSlot):
            form_found = words.form(part.form_id)
            if form_found is not None:
                form_package, form = form_found
                prefix = f"f-{part.form_id}"
                parts.append(("form", PreviewForm(
                    part.form_id, prefix, form["title"], markdown(form.get("description")),
                    bool(form.get("required")), bool(form.get("page_comments")),
                    question_views(form_package, part.form_id, form["questions"], prefix, "../../", None, None,
                                   form.get("description")))))
        else:
            parts.append(("html", part))
    previous, following = neighbours(ctx, enrolment, package, module_id, step_id)
    ctx.audit("step.preview", enrolment, f"step:{module_id}/{step_id}")
    return render_staff(ctx, "staff/preview_step.html", title=f"Förhandsvisning – {step['title']} – {module['title']}",
                        module=module, section=section, step=step, body=body, parts=parts, previous=previous,
                        following=following, content_language=shown.data.program.language, untranslated=not translated,
                        pdf=f"../../{shown.files_url}/{step['pdf']}" if step.get("pdf") else None, **values)


@router.get("/personal/moment/{eid}/forhandsvisning/filer/{path:path}")
def preview_file(eid: int, path: str, ctx: StaffDep) -> Response:
    """A file of the enrolment's package (images, audio, the package's stylesheet), as the patient gets it."""
    enrolment = unit_enrolment(ctx, eid, Action.enrolment_read)
    return package_file_response(enrolment, enrolment_package(ctx, enrolment), path)


@router.get("/personal/moment/{eid}/forhandsvisning/sprak/{language}/{path:path}")
def preview_translation_file(eid: int, language: str, path: str, ctx: StaffDep) -> Response:
    """A file of a translation of the enrolment's program version, as the patient gets it (runtime.pages)."""
    enrolment = unit_enrolment(ctx, eid, Action.enrolment_read)
    package = enrolment_package(ctx, enrolment)
    translation = ctx.app.store.translation(package.program_id, package.version, language)
    if translation is None:
        raise not_found()
    return package_file_response(enrolment, translation, path, base=package)
