"""Stage 2, validate: turn a `SourceTree` into a typed `Program`.

Input: `SourceTree` from load. Output: `Program` (pydantic models plus parsed
Markdown), or diagnostics. Maps every pydantic error back to file:line:col through
the YAML position maps. Owns the rules about a single document (a form's own
questions, a plan's own schedule); rules that span files live in `builder.check`.
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from collections.abc import Callable

from pydantic import BaseModel, ValidationError

from builder.diagnostics import Diagnostics, did_you_mean
from builder.formrules import check_plan, check_questions, check_scoring
from builder.markdown import ParsedBody, parse_body
from builder.memo import ParseMemo
from builder.model import FilmDoc, FormDoc, Module, ModuleSource, PlanDoc, Program, SourceTree, Step, StepSource
from builder.schema.activity_plan import ActivityPlan
from builder.schema.common import ID_PATTERN
from builder.schema.film import Storyboard
from builder.schema.form import Form
from builder.schema.module import ModuleMeta
from builder.schema.program import LexiconFile, ProgramMeta
from builder.schema.step import StepMeta
from builder.yamlsrc import YamlDoc


def validate_program(tree: SourceTree, diags: Diagnostics, memo: ParseMemo | None = None,
                     parse: Callable[[str, int], ParsedBody] | None = None) -> Program | None:
    """Validate every document; return a `Program` only when no document failed.

    With a `memo` (`stegvis serve`), a step body parsed before is not parsed again. `parse`
    replaces the body parser (`builder.markdown.LazyBody`: parsed when first read, issue 16).
    """
    before = len(diags.errors())
    meta = validate_model(ProgramMeta, tree.program, diags) if tree.program else None
    parse = parse or (memo.parse_body if memo is not None else parse_body)
    modules = _validate_modules(tree, meta, diags, parse)
    forms = {}
    for form_id, doc in sorted(tree.forms.items()):
        _check_file_id(form_id, doc.path, diags)
        form = validate_model(Form, doc, diags)
        if form is not None:
            check_questions(form.questions, doc, ("questions",), diags)
            check_scoring(form, doc, diags)
            forms[form_id] = FormDoc(form_id, doc, form)
    plans = {}
    for plan_id, doc in sorted(tree.plans.items()):
        _check_file_id(plan_id, doc.path, diags)
        plan = validate_model(ActivityPlan, doc, diags)
        if plan is not None:
            check_questions(plan.fields, doc, ("fields",), diags)
            check_plan(plan, doc, diags)
            plans[plan_id] = PlanDoc(plan_id, doc, plan)
    lexicon: dict[str, str] = {}
    for doc in tree.lexicons:
        lexicon |= _validate_lexicon(doc, diags)
    films = {}
    for key, doc in sorted(tree.films.items()):
        storyboard = validate_model(Storyboard, doc, diags)
        if storyboard is not None:
            _check_storyboard(storyboard, doc, diags)
            films[key] = FilmDoc(key, doc, storyboard)
    if meta is None or len(diags.errors()) > before:
        return None
    return Program(tree, meta, modules, forms, plans, lexicon, films)


def _check_storyboard(storyboard: Storyboard, doc: YamlDoc, diags: Diagnostics) -> None:
    """A storyboard's own rules: scenes, and every scene's alt text and narration (issue 17)."""
    if not storyboard.scenes:
        diags.add("FILM-001", doc.path, *doc.locate(("scenes",)))
    for i, scene in enumerate(storyboard.scenes):
        if not scene.alt.strip():
            diags.add("FILM-002", doc.path, *doc.locate(("scenes", i, "alt")), scene=i + 1, image=scene.image)
        if not scene.narration.strip():
            diags.add("FILM-003", doc.path, *doc.locate(("scenes", i, "narration")), scene=i + 1)


def _validate_lexicon(doc: YamlDoc, diags: Diagnostics) -> dict[str, str]:
    if not isinstance(doc.data, dict):
        diags.add("YAML-004", doc.path, *doc.locate(()), found="en lista" if isinstance(doc.data, list) else "ett enda värde")
        return {}
    try:
        return LexiconFile.model_validate(doc.data).root
    except ValidationError as exc:
        for err in exc.errors():
            loc = _clean_loc(err["loc"])
            diags.add("SCHEMA-003", doc.path, *doc.locate(loc), key=str(loc[-1]) if loc else "lexicon",
                      problem=f"{_show(err['input'])} är inte text", expected="Skriv uttalet som text, t.ex. FRAMÅT: Framåt.")
        return {}


def _check_file_id(file_id: str, path: str, diags: Diagnostics) -> None:
    if not ID_PATTERN.match(file_id):
        diags.add("SCHEMA-005", path, value=f"'{file_id}' (filnamnet)")


def _validate_modules(tree: SourceTree, meta: ProgramMeta | None, diags: Diagnostics,
                      parse: Callable[[str, int], ParsedBody] = parse_body) -> list[Module]:
    listed = list(meta.modules) if meta else []
    doc = tree.program
    if meta is not None and not listed:
        diags.add("PROGRAM-006", tree.program_path, *doc.locate(("modules",)))
    seen: set[str] = set()
    for i, module_id in enumerate(listed):
        line, col = doc.locate(("modules", i))
        if module_id in seen:
            diags.add("PROGRAM-005", tree.program_path, line, col, module=module_id)
        elif module_id not in tree.modules:
            suggestion = did_you_mean(module_id, tree.modules, " Menade du ")
            folders = ", ".join(sorted(tree.modules)) or "inga"
            diags.add("PROGRAM-003", tree.program_path, line, col, module=module_id,
                      suggestion=(suggestion or f" Modulmappar som finns: {folders}.").strip()
                      + " Mappen heter NN-id under modules/.")
        seen.add(module_id)
    for module_id, sources in sorted(tree.modules.items()):
        if len(sources) > 1:
            diags.add("MODULE-003", sources[1].path, module=module_id,
                      folders=", ".join(s.folder for s in sources))
        if meta is not None and module_id not in seen:
            diags.add("PROGRAM-004", sources[0].path, folder=sources[0].folder, module=module_id)
        if not ID_PATTERN.match(module_id):
            diags.add("SCHEMA-005", sources[0].path, value=f"'{module_id}' (mappnamnet)")

    modules = []
    for module_id in dict.fromkeys(listed):
        for source in tree.modules.get(module_id, [])[:1]:
            module = _validate_module(source, diags, tree.hidden, parse)
            if module is not None:
                modules.append(module)
    return modules


def _validate_module(source: ModuleSource, diags: Diagnostics, hidden: set[str],
                     parse: Callable[[str, int], ParsedBody] = parse_body) -> Module | None:
    meta = validate_model(ModuleMeta, source.meta, diags) if source.meta else None
    if source.meta is None and source.meta_missing:
        diags.add("MODULE-001", source.path, folder=source.folder)
    if not source.steps:
        diags.add("MODULE-002", source.path, module=source.id)
    steps, files_by_id = [], {}
    for step_src in source.steps:
        files_by_id.setdefault(step_src.id, []).append(step_src)
        if not ID_PATTERN.match(step_src.id):
            diags.add("SCHEMA-005", step_src.path, value=f"'{step_src.id}' (filnamnet)")
        step = validate_step(step_src, source.id, diags, hidden, parse)
        if step is not None:
            steps.append(step)
    for step_id, dupes in files_by_id.items():
        for dupe in dupes[1:]:
            diags.add("STEP-002", dupe.path, step=step_id, files=", ".join(d.file.name for d in dupes))
    return Module(source.id, source, meta, steps) if meta else None


def validate_step(step_src: StepSource, module_id: str, diags: Diagnostics, hidden: set[str],
                  parse: Callable[[str, int], ParsedBody] = parse_body) -> Step | None:
    """One step's front matter validated and its body parsed; None when its front matter is missing or invalid."""
    if step_src.front is None:
        return None
    step_meta = validate_model(StepMeta, step_src.front, diags)
    if step_meta is None:
        return None
    check_sources_read(step_meta, step_src.front, diags)
    if f"{module_id}/{step_src.id}" in hidden:
        step_meta = step_meta.model_copy(update={"visible": False})
    return Step(step_src.id, module_id, step_src, step_meta, parse(step_src.body, step_src.body_line))


def check_sources_read(meta: StepMeta, doc: YamlDoc, diags: Diagnostics, today: dt.date | None = None) -> None:
    """STEP-006: a step's source read on a day that has not come yet (issue 17)."""
    today = today or dt.date.today()
    for i, source in enumerate(meta.sources):
        if source.read > today:
            diags.add("STEP-006", doc.path, *doc.locate(("sources", i, "read")), value=source.read.isoformat(),
                      today=today.isoformat())


# --- pydantic errors -> diagnostics ------------------------------------------------

_EXPECTED = {
    "string_type": "text",
    "int_type": "ett heltal",
    "int_parsing": "ett heltal",
    "int_from_float": "ett heltal",
    "float_type": "ett tal",
    "float_parsing": "ett tal",
    "bool_type": "true eller false",
    "bool_parsing": "true eller false",
    "list_type": "en lista (rader som börjar med '- ')",
    "dict_type": "nycklar och värden",
    "model_type": "nycklar och värden",
    "model_attributes_type": "nycklar och värden",
    "date_type": "ett datum (ÅÅÅÅ-MM-DD)",
    "date_from_datetime_parsing": "ett datum (ÅÅÅÅ-MM-DD)",
}
_BOUNDS = {
    "greater_than_equal": ("ge", "minst {}"),
    "less_than_equal": ("le", "högst {}"),
    "greater_than": ("gt", "större än {}"),
    "less_than": ("lt", "mindre än {}"),
}


def validate_model(model: type[BaseModel], doc: YamlDoc, diags: Diagnostics):
    """Validate a YAML document against a model; map every error to its line."""
    if not isinstance(doc.data, dict):
        found = "en lista" if isinstance(doc.data, list) else "ett enda värde"
        diags.add("YAML-004", doc.path, *doc.locate(()), found=found)
        return None
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        report_errors(model, exc, doc, diags)
        return None


def _clean_loc(loc: tuple) -> tuple:
    """Drop pydantic's union-member and key markers so the loc matches the data."""
    return tuple(p for p in loc if not (isinstance(p, str) and (p == "[key]" or "[" in p or p in _MEMBER_TAGS)))


_MEMBER_TAGS = {"str", "int", "float", "bool", "date", "none", "dict", "list"}


def report_errors(model: type[BaseModel], exc: ValidationError, doc: YamlDoc, diags: Diagnostics) -> None:
    """Map each pydantic error of `model` on `doc` to a diagnostic at its line."""
    grouped: dict[tuple, list[dict]] = {}
    for err in exc.errors():
        grouped.setdefault(_clean_loc(err["loc"]), []).append(err)
    for loc, errs in grouped.items():
        err = errs[0]
        kind = err["type"]
        key = next((str(p) for p in reversed(loc) if isinstance(p, str)), "värdet")
        if kind == "extra_forbidden":
            fields = sorted(_model_at(model, loc[:-1]).model_fields)
            suggestion = did_you_mean(loc[-1], fields, "Menade du ")
            allowed = f"Tillåtna nycklar här: {', '.join(fields)}."
            diags.add("SCHEMA-001", doc.path, *doc.locate(loc, prefer_key=True), key=loc[-1],
                      suggestion=f"{suggestion} {allowed}".strip())
        elif kind == "missing":
            diags.add("SCHEMA-002", doc.path, *doc.locate(loc[:-1], prefer_key=True), key=loc[-1])
        elif kind == "literal_error":
            allowed = err["ctx"]["expected"].replace("'", "").replace(" or ", ", ")
            value = err["input"]
            options = [a.strip() for a in allowed.split(",")]
            diags.add("SCHEMA-004", doc.path, *doc.locate(loc), key=key, value=repr(value), allowed=allowed,
                      suggestion=did_you_mean(str(value), options))
        elif kind == "stegvis_id":
            diags.add("SCHEMA-005", doc.path, *doc.locate(loc), value=repr(err["input"]))
        elif kind == "semver":
            diags.add("PROGRAM-002", doc.path, *doc.locate(loc), value=repr(err["input"]))
        elif kind == "stegvis_https":
            diags.add("STEP-005", doc.path, *doc.locate(loc), value=repr(err["input"]))
        else:
            expected = " eller ".join(dict.fromkeys(_expected(e) for e in errs))
            value = err["input"]
            if value is None:
                hint = f"Värdet är tomt. Skriv {expected} efter '{key}:'."
            elif expected == "text" and not isinstance(value, (dict, list)):
                hint = f'Sätt citattecken runt värdet: {key}: "{value}".'
            else:
                hint = f"Skriv {expected}."
            diags.add("SCHEMA-003", doc.path, *doc.locate(loc), key=key,
                      problem=f"{_show(value)} är inte {expected}", expected=hint)


def _expected(err: dict) -> str:
    kind = err["type"]
    if kind in _BOUNDS:
        name, template = _BOUNDS[kind]
        return template.format(err["ctx"][name])
    return _EXPECTED.get(kind, err["msg"])


def _show(value: object) -> str:
    if value is None:
        return "ett tomt värde"
    if isinstance(value, dict):
        return "en mappning"
    if isinstance(value, list):
        return "en lista"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else str(value)


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel]:
    """Follow a data path through annotations to the model that holds its keys."""
    current: object = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel) and isinstance(part, str):
            current = current.model_fields[part].annotation
        elif typing.get_origin(current) in (list, dict):
            current = typing.get_args(current)[-1]
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else model


def _unwrap(tp: object) -> object:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            models = [a for a in members if isinstance(a, type) and issubclass(a, BaseModel)]
            tp = models[0] if models else members[0]
        else:
            return tp
