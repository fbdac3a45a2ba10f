"""The pipeline: load → validate → check → render → package, one program at a time.

Each stage runs all of its checks; the build stops before the next stage when
there were errors, so a later stage never sees invalid input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from builder.check import check_program
from builder.config import BuildConfig
from builder.diagnostics import Diagnostics
from builder.diff import check_version_bump
from builder.package import PackageResult, dumps, make_manifest, write_package
from builder.render.audio import render_audio
from builder.render.data import program_data
from builder.render.fhir import questionnaire
from builder.render.html import render_pages
from builder.render.readout import build_readout
from builder.resolve import resolve_program
from builder.speech.engines import Engine, choose_engine
from builder.speech.lexicon import Lexicon
from builder.validate import Program, validate_program


@dataclass
class BuildReport:
    """What a build did besides writing files: lines for the build output and manifest extras."""

    notes: list[str] = field(default_factory=list)
    manifest: dict = field(default_factory=dict)


@dataclass
class Outcome:
    program_dir: Path
    program: Program | None
    package: PackageResult | None = None
    report: BuildReport = field(default_factory=BuildReport)


def check_dir(program_dir: Path, diags: Diagnostics, strict: bool = False) -> Program | None:
    """Load, validate and check one program folder. Returns the program when valid."""
    tree = resolve_program(program_dir, diags)
    if tree is None:
        return None
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


def render_files(program: Program, config: BuildConfig, report: BuildReport, engine: Engine | None = None) -> dict[str, bytes]:
    """Every file of the package except the manifest. With an engine, steps get readouts."""
    content_hash = program.tree.content_hash
    readouts = {}
    if engine is not None:
        lexicon = Lexicon.for_program(program.lexicon)
        readouts = {step: build_readout(step, lexicon) for step in program.steps if step.meta.audio}
    files = render_pages(program, config, readouts)
    for form_id, fd in program.forms.items():
        files[f"fhir/Questionnaire-{form_id}.json"] = dumps(questionnaire(program.meta, form_id, fd.form))
    if engine is not None:
        audio = render_audio(readouts, engine, config.cache, config.jobs)
        files.update(audio.files)
        report.manifest["audio"] = audio.provenance
        report.notes.append(f"Ljud: {len(audio.provenance)} steg, {audio.synthesized} meningar syntetiserade, "
                            f"{audio.cached} från cachen ({engine.name}, röst {engine.voice}).")
    if config.pdf:
        # Imported here: WeasyPrint takes a second to import, which `check` and --no-pdf skip.
        from builder.render.pdf import render_pdfs

        pdfs = render_pdfs(program, config)
        files.update(pdfs.files)
        report.notes.append(pdfs.summary())
    files["program.json"] = dumps(program_data(program, content_hash, readouts, pdf=config.pdf))
    return files


def build_dir(program_dir: Path, config: BuildConfig, diags: Diagnostics, engine: Engine | None = None,
              previous: Path | None = None) -> Outcome:
    """Check, render and package one program folder.

    A version too small for the changes since the previous package (`previous`, or the
    newest lower version in `config.out`) is refused with PACKAGE-002 before anything is
    written (raises PackageError when that package cannot be read).

    With `config.audio` and no engine given, the engine is chosen from `config.tts`
    (raises EngineUnavailable when it cannot run).
    """
    program = check_dir(program_dir, diags, config.strict)
    if program is None:
        return Outcome(program_dir, None)
    report = BuildReport()
    if program.tree.base is not None:
        report.manifest["base"] = program.tree.base
    if config.audio and engine is None:
        engine, note = choose_engine(config.tts)
        if note:
            report.notes.append(note)
    files = render_files(program, config, report, engine if config.audio else None)
    meta = program.meta
    manifest = make_manifest(meta.id, meta.version, meta.title, program.tree.content_hash, files, report.manifest)
    if not check_version_bump(program, files, manifest, config.out, previous, diags):
        return Outcome(program_dir, program, None, report)
    package = write_package(meta.id, meta.version, manifest, files, config, diags, program.tree.program_path)
    return Outcome(program_dir, program, package, report)
