"""Incremental builds (issue #7): every output records the inputs it read and their values.

Stage: around render and package, used by `builder.pipeline` (`stegvis build`) and
`builder.serve`. Input: the build settings, a checked `Program`, and the pages of the
previous build. Output: which pages can take their bytes from the previous build, and
what to record of the pages of this one. Must not write into `dist/` (`builder.package`
does). Whether nothing changed at all (a no-change build skips every stage) is
`builder.state`'s, which the command line asks before importing the compiler.

While a page renders, the renderer notes every input it reads (`builder.reads`, as
lektor's `record_dependency` does): a step's source, a neighbour's title, a form, where
a link leads, the templates and settings. The build records, per page, those keys and a
fingerprint of their values. The next build computes the value of each recorded key from
the new program (`InputValues`); a page whose fingerprint is unchanged takes its bytes
from the previous package, verified by sha256, and only the others are rendered. So a
page never depends on an input nobody remembered to list: what it read is what counts.
A clean build gives the same bytes. The audio and PDF stages keep their own
content-addressed caches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from builder.config import BuildConfig
from builder.hashing import code_hash, digest, hash_folder, sha256
from builder.links import resolve_step_link, step_index
from builder.model import Program, Step
from builder.paths import form_page, media_names, module_page, plan_page, step_page
from builder.reads import (
    CATALOGUE,
    FILM,
    FORM,
    FORM_USE,
    LINK,
    MODULE,
    MODULE_STEPS,
    NEXT,
    PLAN,
    PLANS,
    PREV,
    READOUT,
    SHARED,
    STEP,
    STRUCTURE,
    split_key,
)
from builder.render.chrome import LOCALES, catalogue_path
from builder.render.readout import Readout
from builder.render.storyboard import FilmPlan
from builder.state import NOT_BUILD_TEMPLATES, BuildState, settings_key
from stegvis_package.paths import fragment_path

#: The value of an input that no longer exists (a removed step, form or plan).
GONE = "-"
#: Template folders no page reads as a whole: the runtime's, and the catalogues, which a page
#: reads only in its own language (a `catalogue` read), so a Finnish msgstr rebuilds Finnish pages.
NOT_PAGE_TEMPLATES = (*NOT_BUILD_TEMPLATES, LOCALES)


def settings_of(program_dir: Path, config: BuildConfig, engine: dict | None = None,
                previous: Path | None = None) -> dict:
    """`settings_key` of a `BuildConfig`'s output settings (and the identity of the voice engine used)."""
    return settings_key(program_dir, config.output_settings(), engine, previous)


# --- what pages read, and its value now ---------------------------------------------------


def _model(value) -> str:
    return value.model_dump_json() if value is not None else ""


def page_paths(program: Program) -> list[str]:
    """Every page and step fragment a program's render gives, in render order."""
    out = ["index.html"]
    for module in program.modules:
        out.append(module_page(module))
        for step in module.steps:
            out += [step_page(step), fragment_path(step.module_id, step.id)]
    out += [form_page(fid) for fid in program.forms]
    out += [plan_page(pid) for pid in program.plans]
    return out


class InputValues:
    """The value now of every input a page can read (`builder.reads`), each computed once.

    A value is a short digest; an input that no longer exists has the value GONE.
    """

    def __init__(self, program: Program, config: BuildConfig, readouts: dict[Step, Readout] | None = None,
                 templates: str | None = None, films: dict[str, FilmPlan] | None = None) -> None:
        self.program = program
        self.config = config
        self.readouts = readouts or {}
        self.films = films or {}
        self._templates = templates
        self._memo: dict[str, str] = {}
        self._prints: dict[str, str] = {}

    @cached_property
    def _step_list(self) -> list[Step]:
        return self.program.steps  # a property that builds the list: once, not once per step

    @cached_property
    def _steps(self) -> dict[str, tuple[int, Step]]:
        return {f"{s.module_id}/{s.id}": (i, s) for i, s in enumerate(self._step_list)}

    @cached_property
    def _modules(self) -> dict:
        return {m.id: m for m in self.program.modules}

    @cached_property
    def _index(self):
        return step_index(self.program)

    def value(self, key: str) -> str:
        """The value of one read now."""
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = self._compute(*split_key(key))
        return found

    def fingerprint(self, keys: list[str]) -> str:
        """One digest of what a page read: its keys and their values now."""
        memo_key = "\n".join(keys)
        found = self._prints.get(memo_key)
        if found is None:  # planning and recording ask for the same pages' fingerprints
            found = self._prints[memo_key] = digest([[key, self.value(key)] for key in keys])
        return found

    def _compute(self, kind: str, name: str) -> str:
        program = self.program
        if kind == SHARED:
            templates = self._templates or hash_folder(self.config.templates, skip=NOT_PAGE_TEMPLATES)
            return digest(templates, code_hash(), _model(program.meta), sorted(media_names(program).items()),
                          self.config.pdf, bool(self.readouts))
        if kind == CATALOGUE:
            path = catalogue_path(self.config.templates, name)
            return GONE if path is None else digest(path.relative_to(self.config.templates).as_posix(),
                                                    sha256(path.read_bytes()))
        if kind == STRUCTURE:
            return digest([[m.id, _model(m.meta)] for m in program.modules])
        if kind == PLANS:
            return digest(sorted((pid, _model(pd.plan)) for pid, pd in program.plans.items()))
        if kind in (STEP, PREV, NEXT, READOUT, LINK):
            step_key, _, href = name.partition("\t")
            found = self._steps.get(step_key)
            if found is None:
                return GONE
            i, step = found
            if kind == STEP:
                outdated = step.source.rel in (program.tree.translation or {}).get("outdated", ())
                return digest(step.source.rel, sha256(program.tree.files.get(step.source.rel, b"")),
                              _model(step.meta), step.module_id, outdated)
            if kind in (PREV, NEXT):
                j = i - 1 if kind == PREV else i + 1
                steps = self._step_list
                other = steps[j] if 0 <= j < len(steps) else None
                return digest([other.meta.title, step_page(other)] if other is not None else None)
            if kind == READOUT:
                readout = self.readouts.get(step)
                return digest([[s.id, s.text] for s in readout.sentences] if readout is not None else None)
            target = resolve_step_link(step, href, self._index)
            return digest(step_page(target) if target is not None else None)
        if kind in (MODULE, MODULE_STEPS):
            module = self._modules.get(name)
            if module is None:
                return GONE
            if kind == MODULE:
                return digest(_model(module.meta))
            # the whole metadata: the module page shows more than titles (e.g. "dold från start")
            return digest([[s.id, _model(s.meta), step_page(s)] for s in module.steps])
        if kind in (FORM, FORM_USE):
            fd = program.forms.get(name)
            if fd is None:
                return GONE
            if kind == FORM:
                return digest(_model(fd.form))
            return digest([[step_page(s), s.meta.title] for s in self._step_list
                           if any(d.name == "form" and d.arg == name for d in s.body.directives)])
        if kind == PLAN:
            pd = program.plans.get(name)
            return GONE if pd is None else digest(_model(pd.plan))
        if kind == FILM:
            plan = self.films.get(name)
            return GONE if plan is None else digest(
                plan.title, plan.transcript, plan.mp4, plan.vtt, [[s.image, s.alt, s.narration] for s in plan.scenes])
        raise ValueError(f"unknown kind of read: {kind}")


@dataclass
class PreviousPages:
    """The pages of the last build: their recorded fingerprints and hashes, and how to read their bytes."""

    outputs: dict[str, list[str]]
    read: Callable[[str], bytes | None]

    @classmethod
    def of_state(cls, state_file: Path, out: Path, program_id: str) -> PreviousPages | None:
        """The pages recorded in a build state, read from the package folder it wrote."""
        state = BuildState.load(state_file)
        if state is None or state.package.get("id") != program_id or not state.package.get("folder"):
            return None
        return cls(state.outputs, package_reader(Path(state.package["folder"])))


@dataclass
class PagePlan:
    """Which pages to render and which to take from the previous build."""

    pages: list[str]
    reused: dict[str, bytes] = field(default_factory=dict)
    #: the recorded reads of the reused pages (they are recorded again for the next build)
    reused_reads: dict[str, list[str]] = field(default_factory=dict)

    @property
    def todo(self) -> set[str]:
        """Pages whose reads changed (or that are new, or whose old bytes could not be verified)."""
        return set(self.pages) - set(self.reused)


def plan_pages(pages: list[str], values: InputValues, previous: dict[str, list],
               read: Callable[[str], bytes | None]) -> PagePlan:
    """Reuse every page whose recorded reads have the values they had and whose old bytes still hash as recorded.

    `previous`: page -> [fingerprint, sha256, keys read], as `record_outputs` wrote it.
    """
    plan = PagePlan(pages)
    for page in pages:
        old = previous.get(page)
        if not old or len(old) != 3 or values.fingerprint(old[2]) != old[0]:
            continue
        data = read(page)
        if data is not None and sha256(data) == old[1]:
            plan.reused[page] = data
            plan.reused_reads[page] = old[2]
    return plan


def record_outputs(reads: dict[str, list[str]], values: InputValues, files: dict[str, bytes]) -> dict[str, list]:
    """page -> [fingerprint of its reads, sha256 of the bytes written, the keys it read], for the next build."""
    return {page: [values.fingerprint(keys), sha256(files[page]), keys]
            for page, keys in sorted(reads.items()) if page in files}


def package_reader(folder: Path) -> Callable[[str], bytes | None]:
    """Reads a file of a previous package folder (None when it is not there)."""

    def read(page: str) -> bytes | None:
        try:
            return (folder / page).read_bytes()
        except OSError:
            return None

    return read
