"""The pipeline: load → validate → check → render → package, one program at a time.

Each stage runs all of its checks; the build stops before the next stage when
there were errors, so a later stage never sees invalid input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2

from builder.base_package import package_sources
from builder.check import check_program
from builder.config import BuildConfig
from builder.diagnostics import Diagnostics
from builder.diff import check_version_bump
from builder.incremental import InputValues, PreviousPages, page_paths, plan_pages, record_outputs, settings_of
from builder.markdown import LazyBody
from builder.memo import ParseMemo
from builder.model import Program, Step
from builder.package import PackageResult, dumps, make_manifest, write_package
from builder.progress import NO_PROGRESS, Progress
from builder.render.chrome import catalogue_path, chrome_for, is_source_language
from builder.render.data import program_data, program_json
from builder.render.fhir import questionnaire
from builder.render.html import render_pages
from builder.render.readout import Readout, build_readout
from builder.render.storyboard import FilmPlan, film_encoder, film_plans
from builder.resolve import resolve_program
from builder.shard import summarise_steps
from builder.speech.lexicon import Lexicon
from builder.state import check_unchanged, package_facts, program_language, record_build, state_path, take_snapshot
from builder.summaries import SummaryStore, content_key
from builder.terms import terms_note
from builder.validate import validate_program

if TYPE_CHECKING:  # pragma: no cover
    from builder.speech.engines import Engine


@dataclass
class BuildReport:
    """What a build did besides writing files: lines for the build output and manifest extras."""

    notes: list[str] = field(default_factory=list)
    manifest: dict = field(default_factory=dict)
    #: HTML page -> [fingerprint, sha256], recorded for the next incremental build (issue #7)
    outputs: dict[str, list[str]] = field(default_factory=dict)
    #: pages rendered and taken unchanged from the previous build
    pages_built: int = 0
    pages_reused: int = 0
    rebuilt: list[str] = field(default_factory=list)  # the pages rendered, sorted
    #: what `notes` says when a later build finds nothing changed (replayed from the build state)
    unchanged_notes: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    program_dir: Path
    program: Program | None  # None when the build failed, or found nothing changed
    package: PackageResult | None = None
    report: BuildReport = field(default_factory=BuildReport)

    @property
    def label(self) -> str:
        """'<program-id> <version>' of the program built (from its package when nothing changed)."""
        if self.program is not None:
            return f"{self.program.meta.id} {self.program.meta.version}"
        folder = self.package.folder if self.package is not None else self.program_dir
        return f"{folder.parent.name} {folder.name}"


@dataclass
class StepWork:
    """How `check_dir` gets its steps' summaries in `stegvis build` (issue 16): the store of
    summaries, the worker processes, and, for a build without audio, the settings with which
    the workers render their steps' pages (`rendered` receives them)."""

    store: SummaryStore
    jobs: int = 1
    render: BuildConfig | None = None
    rendered: dict[str, tuple[bytes, list[str]]] = field(default_factory=dict)


def check_dir(program_dir: Path, diags: Diagnostics, strict: bool = False,
              memo: ParseMemo | None = None, cache: Path | None = None, work: StepWork | None = None) -> Program | None:
    """Load, validate and check one program folder. Returns the program when valid.

    With a `memo` (`stegvis serve`), files parsed and steps checked in an earlier run
    with the same text are taken from it (issue #7). `cache`: the build cache, where an
    overlay's base package is extracted (default .cache/). With `work` (`stegvis build`),
    step bodies are parsed only when read: steps summarised before are not parsed, the
    others are summarised (and rendered) in shards (`builder.shard`, issue 16).
    """
    tree = resolve_program(program_dir, diags, memo=memo, cache=cache)
    if tree is None:
        return None
    parse = LazyBody if work is not None else None
    if diags.has_errors():
        # Validate anyway what could be read, so one run reports as much as it can.
        validate_program(tree, diags, memo, parse)
        return None
    program = validate_program(tree, diags, memo, parse)
    if program is None:
        return None
    silenced = Diagnostics(silenced=program.meta.silence)
    if work is not None:
        work.rendered = summarise_steps(program, work.store, silenced.silenced, work.jobs, work.render)
        work.store.save({content_key(step) for step in program.steps})
    check_program(program, silenced, per_step=memo is not None or work is not None)
    diags.extend(silenced)
    return None if diags.has_errors(strict) else program


def step_readouts(program: Program) -> dict[Step, Readout]:
    """The readout of every step that is read aloud."""
    lexicon = Lexicon.for_program(program.lexicon, program.meta.language)
    return {step: build_readout(step, lexicon) for step in program.steps if step.meta.audio}


def program_films(program: Program, config: BuildConfig, engine: Engine | None) -> dict[str, FilmPlan]:
    """The films made from the program's storyboards (issue 17): with an engine, with their MP4
    and captions (raises FilmError without ffmpeg); without one, their transcripts only."""
    if not program.films:
        return {}
    lexicon = Lexicon.for_program(program.lexicon, program.meta.language)
    chrome = chrome_for(config.templates, program.meta.language)
    if engine is None:
        return film_plans(program, lexicon, chrome=chrome)
    return film_plans(program, lexicon, engine.identity(), film_encoder(config.film_height), chrome=chrome)


def render_html(program: Program, config: BuildConfig, report: BuildReport, readouts: dict[Step, Readout],
                previous: PreviousPages | None = None, progress: Progress = NO_PROGRESS,
                env: jinja2.Environment | None = None, films: dict[str, FilmPlan] | None = None,
                rendered: dict[str, tuple[bytes, list[str]]] | None = None) -> dict[str, bytes]:
    """The HTML pages, step fragments, stylesheet and media. Pages whose recorded reads have
    the values they had in `previous` are not rendered again but take their verified bytes
    from it (issues #7 and 12); `report` gets the counts and what each page read.
    `env`: a template environment to reuse (`stegvis serve`). `films`: from `program_films`
    (by default without a voice: the steps show the films' transcripts). `rendered`: step pages
    the workers of a sharded check rendered already (`StepWork.rendered`)."""
    if films is None:
        films = program_films(program, config, None)
    values = InputValues(program, config, readouts, films=films)
    plan = plan_pages(page_paths(program), values, previous.outputs if previous else {},
                      previous.read if previous else (lambda _: None))
    reads: dict[str, list[str]] = dict(plan.reused_reads)
    files = render_pages(program, config, readouts, only=plan.todo, progress=progress, jobs=config.jobs,
                         env=env, reads=reads, films=films, rendered=rendered) | plan.reused
    report.outputs = record_outputs(reads, values, files)
    pages = {p for p in plan.pages if p.endswith(".html")}  # counted without the steps' fragments
    report.pages_built, report.pages_reused = len(plan.todo & pages), len(plan.reused.keys() & pages)
    report.rebuilt = sorted(plan.todo & pages)
    report.notes.append(f"HTML: {report.pages_built} sidor byggda, {report.pages_reused} oförändrade.")
    report.unchanged_notes.append(f"HTML: 0 sidor byggda, {len(pages)} oförändrade.")
    return files


def render_files(program: Program, config: BuildConfig, report: BuildReport, engine: Engine | None = None,
                 previous: PreviousPages | None = None, progress: Progress = NO_PROGRESS,
                 gate: Callable[[dict[str, bytes]], bool] | None = None,
                 rendered: dict[str, tuple[bytes, list[str]]] | None = None) -> dict[str, bytes] | None:
    """Every file of the package except the manifest. With an engine, steps get readouts.

    With `previous` (the pages of the last build and what they read), unchanged pages
    are reused instead of rendered; `progress` hears about pages, sentences and PDFs.
    `gate` sees the pages and program.json before the slow audio and PDF stages; when it
    says no (a version too small for the changes), they are skipped and None is returned.
    `rendered`: step pages rendered already by a sharded check (only without audio).
    """
    content_hash = program.tree.content_hash
    readouts = step_readouts(program) if engine is not None else {}
    films = program_films(program, config, engine)
    files = render_html(program, config, report, readouts, previous, progress, films=films,
                        rendered=rendered if engine is None else None)
    for form_id, fd in program.forms.items():
        files[f"fhir/Questionnaire-{form_id}.json"] = dumps(questionnaire(program.meta, form_id, fd.form))
    data = program_json(program_data(program, content_hash, readouts, pdf=config.pdf))
    if gate is not None and not gate(files | {"program.json": data}):
        return None
    if engine is not None:
        from builder.render.audio import render_audio  # numpy and LAME: only when there is audio

        audio = render_audio(readouts, engine, config.cache, config.jobs, progress)
        files.update(audio.files)
        report.manifest["audio"] = audio.provenance
        report.notes.append(f"Ljud: {len(audio.provenance)} steg, {audio.synthesized} meningar syntetiserade, "
                            f"{audio.cached} från cachen ({engine.name}, röst {engine.voice}).")
        report.unchanged_notes.append(f"Ljud: {len(audio.provenance)} steg, 0 meningar syntetiserade, "
                                      f"{audio.synthesized + audio.cached} från cachen ({engine.name}, röst {engine.voice}).")
        if films:
            from builder.render.film import render_films  # numpy and ffmpeg: only when there are films

            made = render_films(films, engine, program.tree.media, config.cache, config.jobs, progress)
            files.update(made.files)
            report.manifest["films"] = made.provenance
            times = "".join(f", {s:.1f} s" for s in made.seconds.values())
            report.notes.append(f"Film: {len(made.provenance)} filmer, {made.encoded} kodade{times}, "
                                f"{made.cached} från cachen.")
            report.unchanged_notes.append(f"Film: {len(made.provenance)} filmer, 0 kodade, "
                                          f"{made.encoded + made.cached} från cachen.")
    elif films:
        # The film needs the readouts' voice: without it the step shows the film's text instead.
        note = f"Film: {len(films)} filmer görs inte utan ljud (--no-audio); stegen visar filmens text."
        report.notes.append(note)
        report.unchanged_notes.append(note)
    if config.pdf:
        # Imported here: WeasyPrint takes a second to import, which `check` and --no-pdf skip.
        from builder.render.pdf import render_pdfs

        pdfs = render_pdfs(program, config, progress)
        files.update(pdfs.files)
        report.notes.append(pdfs.summary())
        report.unchanged_notes.append(f"PDF: 0 skapade, {len(pdfs.files)} från cachen.")
    files["program.json"] = data
    return files


def _voice(engine: Engine, language: str) -> tuple[Engine, str | None]:
    """The engine with the voice of `language`, or the engine and the name of the engine that has none."""
    from builder.speech.engines import NoVoice, engine_for_language

    try:
        return engine_for_language(engine, language), None
    except NoVoice:
        return engine, engine.name


def _no_voice(program: Program, engine: str, diags: Diagnostics) -> None:
    """VOICE-001 at program.yaml's `language:` (the program is built without readouts)."""
    doc = program.tree.program
    line, col = doc.locate(("language",)) if doc is not None else (1, 1)
    silenced = Diagnostics(silenced=program.meta.silence)
    silenced.add("VOICE-001", program.tree.program_path, line, col, language=program.meta.language, engine=engine)
    diags.extend(silenced)


def _no_catalogue(program: Program, config: BuildConfig, diags: Diagnostics) -> None:
    """PAGES-001 at program.yaml's `language:` when the language has no pages catalogue (the
    builder's own words on its pages and PDFs are then Swedish; issue 18)."""
    language = program.meta.language
    if is_source_language(language) or catalogue_path(config.templates, language) is not None:
        return
    doc = program.tree.program
    line, col = doc.locate(("language",)) if doc is not None else (1, 1)
    silenced = Diagnostics(silenced=program.meta.silence)
    silenced.add("PAGES-001", program.tree.program_path, line, col, language=language,
                 catalogue=f"templates/locales/{language.replace('-', '_')}/LC_MESSAGES/pages.po")
    diags.extend(silenced)


def build_dir(program_dir: Path, config: BuildConfig, diags: Diagnostics, engine: Engine | None = None,
              previous: Path | None = None, progress: Progress = NO_PROGRESS) -> Outcome:
    """Check, render and package one program folder, incrementally (issue #7).

    When every source file, template, setting and Stegvis' code is as the last successful
    build recorded it (`config.cache/state/`) and its package is intact, nothing runs: the
    warnings and notes are replayed and the package is reported unchanged (`program` is
    then None). Otherwise only pages whose inputs changed are rendered; the others take
    their bytes from the previous package, so the result equals a clean build.

    A version too small for the changes since the previous package (`previous`, or the
    newest lower version in `config.out`) is refused with PACKAGE-002 before anything is
    written (raises PackageError when that package cannot be read).

    With `config.audio` and no engine given, the engine is chosen from `config.tts`
    (raises EngineUnavailable when it cannot run).
    """
    snapshot = None
    state_file = state_path(config.cache, program_dir, config.out)
    no_voice = None
    if config.audio and engine is not None:  # a voice of the program's language (issue 18)
        engine, no_voice = _voice(engine, program_language(program_dir))
        if no_voice is not None:
            config = config.model_copy(update={"audio": False})
    if not config.audio or engine is not None:  # the engine's identity is part of what is compared
        settings = settings_of(program_dir, config, engine.identity() if config.audio and engine else None, previous)
        snapshot = take_snapshot(program_dir, settings, config.cache)
        unchanged = check_unchanged(snapshot, state_file)
        if unchanged is not None:
            diags.add_items(unchanged.diagnostics())
            report = BuildReport(notes=list(unchanged.state.notes), manifest=unchanged.state.manifest,
                                 pages_reused=len(unchanged.state.outputs))
            return Outcome(program_dir, None, PackageResult(unchanged.folder, unchanged.zip, unchanged=True), report)
    before = set(diags.items)  # the collector may hold other programs' diagnostics
    work = StepWork(SummaryStore.for_program(config.cache, program_dir), config.jobs,
                    None if config.audio else config)
    program = check_dir(program_dir, diags, config.strict, cache=config.cache, work=work)
    if program is None:
        return Outcome(program_dir, None)
    report = BuildReport()
    _no_catalogue(program, config, diags)
    if no_voice is not None:
        _no_voice(program, no_voice, diags)
    if program.tree.base is not None:
        report.manifest["base"] = program.tree.base
    if program.tree.translation is not None:
        report.manifest["translation"] = program.tree.translation
    note = terms_note(program.tree, str(program_dir))
    if note:  # regional words replaced in the inherited text (issue 17)
        report.notes.append(note)
        report.unchanged_notes.append(note)
    if config.audio and engine is None:
        from builder.speech.engines import choose_engine  # numpy: only when there is audio

        engine, note = choose_engine(config.tts)
        if note:
            report.notes.append(note)
        engine, no_voice = _voice(engine, program.meta.language)
        if no_voice is not None:
            _no_voice(program, no_voice, diags)
            config, engine = config.model_copy(update={"audio": False}), None
    meta = program.meta
    old = PreviousPages.of_state(state_file, config.out, meta.id)
    def with_sources(files: dict[str, bytes]) -> tuple[dict[str, bytes], dict]:
        # The package carries its sources, so that an overlay can extend it as a zip (issue #6).
        sources, report.manifest["source"] = package_sources(program.tree, files)
        files = files | sources
        return files, make_manifest(meta.id, meta.version, meta.title, program.tree.content_hash, files,
                                    report.manifest)

    def version_ok(draft: dict[str, bytes]) -> bool:
        # Checked on the pages and program.json, before audio and PDFs are made: what they add is
        # patch-level at most, so the verdict cannot change, and a refused build wastes no minutes.
        return check_version_bump(program, *with_sources(draft), config.out, previous, diags)

    slow = config.audio or config.pdf
    files = render_files(program, config, report, engine if config.audio else None, old, progress,
                         gate=version_ok if slow else None, rendered=work.rendered)
    if files is None:
        return Outcome(program_dir, program, None, report)
    files, manifest = with_sources(files)
    if not slow and not check_version_bump(program, files, manifest, config.out, previous, diags):
        return Outcome(program_dir, program, None, report)
    package = write_package(meta.id, meta.version, manifest, files, config, diags, program.tree.program_path)
    if package is not None and snapshot is not None:
        record_build(state_file, snapshot, package_facts(config.out, meta.id, meta.version), report.outputs,
                     [d for d in diags.items if d not in before], report.unchanged_notes, report.manifest)
    return Outcome(program_dir, program, package, report)
