"""Incremental builds (issue #7): every output records the hashes of the inputs it read.

Stage: around render and package, used by `builder.pipeline` (`stegvis build`) and
`builder.serve`. Input: the build settings, a checked `Program`, and the pages of the
previous build. Output: the fingerprint of every HTML page, and which pages can take
their bytes from the previous build. Must not write into `dist/` (`builder.package`
does). Whether nothing changed at all (a no-change build skips every stage) is
`builder.state`'s, which the command line asks before importing the compiler.

Each page's fingerprint is the hash of exactly the values its renderer consumes (for a
step page: the step's source bytes, its module's and the program's metadata, its
neighbours' titles and paths, the forms it embeds, the pages its links point at, the
media names, the templates, its readout). A page whose fingerprint is the recorded one
takes its bytes from the previous package, verified by sha256; only the others are
rendered. A clean build gives the same bytes. The audio and PDF stages keep their own
content-addressed caches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from builder.config import BuildConfig
from builder.hashing import code_hash, digest, hash_folder, sha256
from builder.links import resolve_step_link, step_index
from builder.markdown import walk
from builder.model import Program, Step
from builder.paths import form_page, media_names, module_page, plan_page, step_page
from builder.render.readout import Readout
from builder.state import NOT_BUILD_TEMPLATES, BuildState, settings_key


def settings_of(program_dir: Path, config: BuildConfig, engine: dict | None = None,
                previous: Path | None = None) -> dict:
    """`settings_key` of a `BuildConfig`'s output settings (and the identity of the voice engine used)."""
    return settings_key(program_dir, config.output_settings(), engine, previous)


# --- page fingerprints -------------------------------------------------------------------


def _model(value) -> str:
    return value.model_dump_json() if value is not None else ""


def _links(step: Step) -> list[str]:
    """Every link and image target in a step, callouts included (what its page may rewrite)."""
    derived = step.body.derived
    if derived.links is None:
        derived.links = [str(tok.attrs.get("href") or tok.attrs.get("src") or "")
                         for tok in walk(step.body.tokens) if tok.type in ("link_open", "image")]
    return derived.links


def page_fingerprints(program: Program, config: BuildConfig, readouts: dict[Step, Readout] | None = None,
                      templates: str | None = None) -> dict[str, str]:
    """The fingerprint of every HTML page: a hash of exactly the values its renderer consumes.

    Shared by all pages: the templates, Stegvis' code, the program's metadata, the media
    names (content-hashed), whether PDFs are linked and whether readouts are on.
    """
    readouts = readouts or {}
    files = program.tree.files
    shared = digest(templates or hash_folder(config.templates, skip=NOT_BUILD_TEMPLATES), code_hash(), _model(program.meta),
                    sorted(media_names(program).items()), config.pdf, bool(readouts))
    forms = {fid: digest(_model(fd.form)) for fid, fd in program.forms.items()}
    index = step_index(program)
    steps = program.steps
    out: dict[str, str] = {}

    def neighbour(i: int) -> list[str] | None:
        return [steps[i].meta.title, step_page(steps[i])] if 0 <= i < len(steps) else None

    modules = {m.id: m for m in program.modules}
    for i, step in enumerate(steps):
        module = modules[step.module_id]
        links = []
        for href in _links(step):
            target = resolve_step_link(step, href, index) if href.split("#", 1)[0].endswith(".md") else None
            links.append([href, step_page(target) if target is not None else None])
        embedded = [[d.arg, forms.get(d.arg)] for d in step.body.directives if d.name == "form"]
        readout = readouts.get(step)
        sentences = [[s.id, s.text] for s in readout.sentences] if readout is not None else None
        out[step_page(step)] = digest(
            "step", shared, step.source.rel, files.get(step.source.rel, b""), _model(step.meta), module.id,
            _model(module.meta), neighbour(i - 1), neighbour(i + 1), links, embedded, sentences)
    for module in program.modules:
        # the whole metadata: the module page shows more than titles (e.g. "dold från start" for visible: false)
        rows = [[s.id, _model(s.meta), step_page(s)] for s in module.steps]
        out[module_page(module)] = digest("module", shared, module.id, _model(module.meta), rows)
    for fid in program.forms:
        used = [[step_page(s), s.meta.title] for s in steps
                if any(d.name == "form" and d.arg == fid for d in s.body.directives)]
        out[form_page(fid)] = digest("form", shared, fid, forms[fid], used)
    plans = {pid: _model(pd.plan) for pid, pd in program.plans.items()}
    for pid in program.plans:
        out[plan_page(pid)] = digest("plan", shared, pid, plans[pid], sorted(plans.items()))
    everything = [[s.source.rel, sha256(files.get(s.source.rel, b"")), _model(s.meta), s.module_id] for s in steps]
    out["index.html"] = digest("overview", shared, [[m.id, _model(m.meta)] for m in program.modules], everything,
                               sorted(forms.items()), sorted(plans.items()))
    return out


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

    fingerprints: dict[str, str]
    reused: dict[str, bytes] = field(default_factory=dict)

    @property
    def todo(self) -> set[str]:
        """Pages whose fingerprint changed (or whose old bytes could not be verified)."""
        return set(self.fingerprints) - set(self.reused)


def plan_pages(fingerprints: dict[str, str], previous: dict[str, list[str]],
               read: Callable[[str], bytes | None]) -> PagePlan:
    """Reuse every page whose fingerprint equals the previous one and whose old bytes still hash as recorded."""
    plan = PagePlan(fingerprints)
    for page, fp in fingerprints.items():
        old = previous.get(page)
        if not old or old[0] != fp:
            continue
        data = read(page)
        if data is not None and sha256(data) == old[1]:
            plan.reused[page] = data
    return plan


def record_outputs(fingerprints: dict[str, str], files: dict[str, bytes]) -> dict[str, list[str]]:
    """page -> [fingerprint, sha256 of the bytes written], for the next build's plan."""
    return {page: [fp, sha256(files[page])] for page, fp in sorted(fingerprints.items()) if page in files}


def package_reader(folder: Path) -> Callable[[str], bytes | None]:
    """Reads a file of a previous package folder (None when it is not there)."""

    def read(page: str) -> bytes | None:
        try:
            return (folder / page).read_bytes()
        except OSError:
            return None

    return read
