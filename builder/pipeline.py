"""The pipeline: load → validate → check → render → package, one program at a time.

Each stage runs all of its checks; the build stops before the next stage when
there were errors, so a later stage never sees invalid input.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from builder.check import check_program
from builder.config import BuildConfig
from builder.diagnostics import Diagnostics
from builder.load import load_tree
from builder.package import PackageResult, dumps, make_manifest, write_package
from builder.render.data import program_data
from builder.render.fhir import questionnaire
from builder.render.html import render_pages
from builder.validate import Program, validate_program


@dataclass
class Outcome:
    program_dir: Path
    program: Program | None
    package: PackageResult | None = None


def check_dir(program_dir: Path, diags: Diagnostics, strict: bool = False) -> Program | None:
    """Load, validate and check one program folder. Returns the program when valid."""
    tree = load_tree(program_dir, diags)
    if diags.has_errors():
        # Validate anyway what could be read, so one run reports as much as it can.
        validate_program(tree, diags)
        return None
    program = validate_program(tree, diags)
    if program is None:
        return None
    silenced = Diagnostics(silenced=program.meta.silence)
    check_program(program, silenced)
    diags.extend(silenced)
    return None if diags.has_errors(strict) else program


def render_files(program: Program, config: BuildConfig) -> dict[str, bytes]:
    """Every file of the package except the manifest."""
    content_hash = program.tree.content_hash
    files = render_pages(program, config)
    for form_id, fd in program.forms.items():
        files[f"fhir/Questionnaire-{form_id}.json"] = dumps(questionnaire(program.meta, form_id, fd.form))
    files["program.json"] = dumps(program_data(program, content_hash))
    return files


def build_dir(program_dir: Path, config: BuildConfig, diags: Diagnostics) -> Outcome:
    """Check, render and package one program folder."""
    program = check_dir(program_dir, diags, config.strict)
    if program is None:
        return Outcome(program_dir, None)
    files = render_files(program, config)
    meta = program.meta
    manifest = make_manifest(meta.id, meta.version, meta.title, program.tree.content_hash, files)
    package = write_package(meta.id, meta.version, manifest, files, config, diags, program.tree.program_path)
    return Outcome(program_dir, program, package)
