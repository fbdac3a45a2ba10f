"""Stage 3, resolve: apply a regional overlay to its base program.

Input: a program folder. Output: one `SourceTree`, for a plain program the loaded
tree, for an overlay (a program.yaml with `extends:`) the base's tree with the
overlay's files on top, its removals and hidden steps applied, and program.yaml's
keys merged (lexicon key by key, everything else replaced). Every file keeps its
own display path, so a diagnostic names the overlay's file or the base's, whichever
is at fault. The base is a program folder or a built package (zip or package folder),
whose `source/` `builder.base_package` verifies and extracts into the cache; its files
are then shown as `<zip>!source/<path>`. Rules: docs/overlays.md. Must not validate
meaning (that is validate's).
"""

from __future__ import annotations

import hashlib
import posixpath
from dataclasses import replace
from pathlib import Path

from pydantic import ValidationError

from builder.base_package import SOURCE_DIR, BasePackageError, is_package, open_base_package
from builder.diagnostics import Diagnostics, did_you_mean
from builder.drift import drift_report
from builder.load import load_tree
from builder.memo import ParseMemo
from builder.model import ModuleSource, SourceTree
from builder.schema.program import OVERLAY_REQUIRED, OverlaySpec
from builder.terms import Vocabulary, apply_terms, check_terms
from builder.translation import merge_translation
from builder.validate import report_errors
from builder.yamlsrc import YamlDoc

OVERLAY_KEYS = ("extends", "remove", "hide", "terms")


def is_overlay(tree: SourceTree) -> bool:
    return tree.program is not None and isinstance(tree.program.data, dict) and "extends" in tree.program.data


def resolve_program(program_dir: Path, diags: Diagnostics, _chain: tuple[Path, ...] = (),
                    memo: ParseMemo | None = None, cache: Path | None = None,
                    display_root: str | None = None) -> SourceTree | None:
    """Load a program folder, resolving `extends:` (recursively) when it is an overlay.

    `extends:` names a base program folder or a built base package (a zip, or a package
    folder with manifest.json): a package is verified and its sources extracted into
    `cache` (see `builder.base_package`), and its files are shown as `<zip>!source/<path>`.
    `memo` (`stegvis serve`) keeps parsed files between builds (see `builder.memo`).
    """
    program_dir = program_dir.resolve()
    tree = load_tree(program_dir, diags, display_root, memo=memo)
    if is_translation(tree):
        return _resolve_translation(program_dir, tree, diags, _chain, memo, cache)
    if not is_overlay(tree):
        return _without_terms(tree, diags)
    doc = tree.program
    extends = doc.data.get("extends")
    line, col = doc.locate(("extends",))
    if not isinstance(extends, str) or not extends.strip():
        diags.add("OVERLAY-001", doc.path, line, col, target=repr(extends))
        return None
    base_dir = (program_dir / extends).resolve()
    chain = (*_chain, program_dir)
    if base_dir in chain:
        cycle = " → ".join(p.name for p in (*chain, base_dir))
        diags.add("OVERLAY-002", doc.path, line, col, cycle=cycle)
        return None
    package = None
    if is_package(base_dir):
        try:
            package = open_base_package(base_dir, cache)
        except BasePackageError as exc:
            diags.add(exc.code, doc.path, line, col, **exc.params)
            return None
        base_dir, shown = package.source, _package_display(tree, extends)
    elif not (base_dir / "program.yaml").is_file():
        diags.add("OVERLAY-001", doc.path, line, col, target=extends)
        return None
    else:
        shown = None
    base = resolve_program(base_dir, diags, chain, memo, cache, shown)
    if base is None or base.program is None:
        return None
    if package is not None:
        base.hidden |= package.hidden
    merged = merge_overlay(base, tree, diags)
    if merged is not None:
        if package is not None:
            merged.base["package"] = package.record()
        _report_drift(program_dir, tree, base, diags, base_dir, _silence(merged))
    return merged


def is_translation(tree: SourceTree) -> bool:
    """A program.yaml with `translates:` (issue 18): the program in another language."""
    return tree.program is not None and isinstance(tree.program.data, dict) and "translates" in tree.program.data


def _resolve_translation(program_dir: Path, tree: SourceTree, diags: Diagnostics, chain: tuple[Path, ...],
                         memo: ParseMemo | None, cache: Path | None) -> SourceTree | None:
    """A translation on its resolved base (a program folder, itself maybe an overlay)."""
    doc = tree.program
    target = doc.data.get("translates")
    line, col = doc.locate(("translates",))
    base_dir = (program_dir / target).resolve() if isinstance(target, str) and target.strip() else None
    if base_dir is None or not (base_dir / "program.yaml").is_file():
        diags.add("TRANS-005", doc.path, line, col, key="translates (en mapp med basens program.yaml)")
        return None
    if base_dir in (*chain, program_dir):
        diags.add("OVERLAY-002", doc.path, line, col, cycle=" → ".join(p.name for p in (*chain, program_dir, base_dir)))
        return None
    base = resolve_program(base_dir, diags, (*chain, program_dir), memo, cache)
    if base is None or base.program is None:
        return None
    return merge_translation(base, tree, diags)


def _without_terms(tree: SourceTree, diags: Diagnostics) -> SourceTree:
    """A program that is not an overlay has nothing to rewrite: `terms:` is OVERLAY-108, said once."""
    doc = tree.program
    if doc is None or not isinstance(doc.data, dict) or "terms" not in doc.data:
        return tree
    diags.add("OVERLAY-108", doc.path, *doc.locate(("terms",), prefer_key=True))
    data = {k: v for k, v in doc.data.items() if k != "terms"}  # not SCHEMA-001 as well
    return replace(tree, program=replace(doc, data=data))


def _silence(tree: SourceTree) -> list[str]:
    """The codes the program silences (its `silence:`), for the warnings resolve gives itself."""
    codes = tree.program.data.get("silence") if tree.program is not None else None
    return [c for c in codes if isinstance(c, str)] if isinstance(codes, list) else []


def _package_display(tree: SourceTree, extends: str) -> str:
    """How the files of a base package are shown: `<zip>!source`, or `<package folder>/source`."""
    shown = posixpath.normpath(posixpath.join(tree.display_root or ".", extends.strip()))
    return f"{shown}!{SOURCE_DIR}" if shown.lower().endswith(".zip") else f"{shown}/{SOURCE_DIR}"


def _report_drift(overlay_dir: Path, tree: SourceTree, base: SourceTree, diags: Diagnostics,
                  base_dir: Path, silence: list[str]) -> None:
    """Warnings for base changes to overridden files and new occurrences of the overlay's
    terms in inherited ones; an error for overridden files the base lost."""
    report = drift_report(overlay_dir, base_dir)
    shown = tree.display_root or "."
    for f in report.files:
        path = tree.display(f.path)
        if f.status == "changed":
            diags.add("OVERLAY-101", path, target=f.path, overlay=shown)
        elif f.status == "unaccepted":
            diags.add("OVERLAY-102", path, target=f.path, overlay=shown)
        else:
            diags.add("OVERLAY-004", tree.display("overlay.lock"), target=f.path)
    quiet = Diagnostics(silenced=silence)
    for t in report.terms:
        quiet.add("OVERLAY-103", base.display(t.path), t.line, t.col, word=t.found, term=t.term,
                  target=t.path, overlay=shown)
    diags.extend(quiet)


def _spec(doc: YamlDoc, diags: Diagnostics) -> OverlaySpec | None:
    # `terms` is checked by builder.terms, with its own codes and hints (OVERLAY-104..107).
    data = {k: v for k, v in doc.data.items() if k in OVERLAY_KEYS and k != "terms"}
    try:
        return OverlaySpec.model_validate(data)
    except ValidationError as exc:
        report_errors(OverlaySpec, exc, doc, diags)
        return None


def _merged_program(base: YamlDoc, overlay: YamlDoc, modules: list[str]) -> YamlDoc:
    """The overlay's program.yaml on top of the base's; positions point into the overlay."""
    data = {k: v for k, v in base.data.items()}
    for key, value in overlay.data.items():
        if key in OVERLAY_KEYS:
            continue
        if key == "lexicon" and isinstance(value, dict) and isinstance(data.get("lexicon"), dict):
            data["lexicon"] = data["lexicon"] | value
        else:
            data[key] = value
    data["modules"] = modules
    merged = YamlDoc(path=overlay.path, data=data)
    anchor = overlay.locate(("extends",))
    for loc in base.values:  # base values are valid in the base; point them at `extends`
        merged.values[loc] = anchor
    merged.values.update(overlay.values)
    merged.keys.update(overlay.keys)
    return merged


def merge_overlay(base: SourceTree, overlay: SourceTree, diags: Diagnostics) -> SourceTree | None:
    """The base tree with the overlay applied (files replace by path, removals, hides)."""
    doc = overlay.program
    spec = _spec(doc, diags)
    for key in OVERLAY_REQUIRED:
        if key not in doc.data:
            diags.add("OVERLAY-005", doc.path, *doc.locate(()), key=key)
    if doc.data.get("id") is not None and doc.data.get("id") == base.program.data.get("id"):
        diags.add("OVERLAY-006", doc.path, *doc.locate(("id",)), value=doc.data["id"])
    vocabulary = Vocabulary(check_terms(doc, diags))
    if spec is None:
        return None

    modules: dict[str, list[ModuleSource]] = {mid: list(srcs) for mid, srcs in base.modules.items()}
    by_folder = {src.folder: (mid, i) for mid, srcs in modules.items() for i, src in enumerate(srcs)}
    added_modules = []
    for mid, srcs in overlay.modules.items():
        for src in srcs:
            if src.folder in by_folder:
                base_id, i = by_folder[src.folder]
                modules[base_id][i] = _merge_module(modules[base_id][i], src)
            else:
                modules.setdefault(mid, []).append(src)
                added_modules.append(mid)

    base_order = [m for m in base.program.data.get("modules", []) if isinstance(m, str)]
    order = doc.data.get("modules") if isinstance(doc.data.get("modules"), list) else base_order + added_modules

    def missing(what: str, name: str, candidates, loc: tuple) -> None:
        diags.add("OVERLAY-003", doc.path, *doc.locate(loc), what=what, name=name,
                  suggestion=did_you_mean(name, candidates))

    for i, mid in enumerate(spec.remove.modules):
        if mid not in modules:
            missing("Modulen", mid, modules, ("remove", "modules", i))
            continue
        del modules[mid]
        order = [m for m in order if m != mid]
    all_steps = {f"{mid}/{s.id}" for mid, srcs in modules.items() for src in srcs for s in src.steps}
    for i, ref in enumerate(spec.remove.steps):
        if ref not in all_steps:
            missing("Steget", ref, all_steps, ("remove", "steps", i))
            continue
        mid, sid = ref.split("/", 1)
        modules[mid] = [replace(src, steps=[s for s in src.steps if s.id != sid]) for src in modules[mid]]
    forms, plans = dict(base.forms) | overlay.forms, dict(base.plans) | overlay.plans
    for key, table, what in (("forms", forms, "Formuläret"), ("activity_plans", plans, "Aktivitetsplanen")):
        for i, name in enumerate(getattr(spec.remove, key)):
            if table.pop(name, None) is None:
                missing(what, name, table, ("remove", key, i))
    hidden = set(base.hidden)
    for i, ref in enumerate(spec.hide.steps):
        if ref not in all_steps:
            missing("Steget", ref, all_steps, ("hide", "steps", i))
        hidden.add(ref)

    base_files = dict(base.files)
    # Source files as the program sees them (the overlay's replace the base's), plus the
    # base's own program.yaml, so that the content hash changes when either changes.
    files = base_files | overlay.files | {"base:program.yaml": base_files.get("program.yaml", b"")}
    merged = SourceTree(
        root=overlay.root,
        display_root=overlay.display_root,
        program=_merged_program(base.program, doc, order),
        program_path=overlay.program_path,
        modules=modules,
        forms=forms,
        plans=plans,
        media=dict(base.media) | overlay.media,
        films=dict(base.films) | overlay.films,
        files=files,
        lexicons=base.lexicons + overlay.lexicons,
        hidden=hidden,
        base={
            "id": base.program.data.get("id"),
            "version": str(base.program.data.get("version")),
            "content_hash": base.content_hash,
            "files": {rel: hashlib.sha256(data).hexdigest() for rel, data in sorted(base_files.items())},
        },
    )
    # Regional words (issue 17): only in what the overlay inherits; its own files are its own.
    quiet = Diagnostics(silenced=_silence(merged))
    merged = apply_terms(merged, set(overlay.files), vocabulary, quiet)
    diags.extend(quiet)
    return merged


def _merge_module(base: ModuleSource, overlay: ModuleSource) -> ModuleSource:
    """A base module with the overlay's steps replacing (same file name) or added."""
    steps = {s.file.name: s for s in base.steps} | {s.file.name: s for s in overlay.steps}
    if overlay.meta_missing:
        meta, meta_path = base.meta, base.meta_path
    else:
        meta, meta_path = overlay.meta, overlay.meta_path
    return replace(base, meta=meta, meta_path=meta_path,
                   steps=sorted(steps.values(), key=lambda s: (s.order, s.file.name)))
