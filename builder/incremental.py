"""Incremental builds (issue #7): every output records the hashes of the inputs it read.

Stage: around render and package, used by `builder.pipeline` (`stegvis build`) and
`builder.serve`. Input: the program folder, the build settings, a checked `Program`, and
the state of the previous build. Output: whether nothing changed at all (a no-change
build skips every stage), the fingerprint of every HTML page, and which pages can take
their bytes from the previous build. Must not write into `dist/` (`builder.package`
does); it writes only its state file, `<cache>/state/<key>.json`.

Two levels:

- **Nothing changed.** The state lists the sha256 of every file under the program folder
  (and under the bases of an overlay), of the templates and of Stegvis' own code, the
  settings, and the package written. When all of these are equal and the package on
  disk is the one recorded, the build replays the warnings and notes and stops.
- **Something changed.** Each page's fingerprint is the hash of exactly the values its
  renderer consumes (for a step page: the step's source bytes, its module's and the
  program's metadata, its neighbours' titles and paths, the forms it embeds, the pages
  its links point at, the media names, the templates, its readout). A page whose
  fingerprint is the recorded one takes its bytes from the previous package, verified
  by sha256; only the others are rendered. A clean build gives the same bytes.
  The audio and PDF stages keep their own content-addressed caches.

The module imports only the standard library at the top, so that the command line can
answer "nothing changed" without importing the whole compiler.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from builder.config import BuildConfig
    from builder.diagnostics import Diagnostic
    from builder.model import Program, Step
    from builder.render.readout import Readout

#: Bump when the state file's layout or the fingerprints' contents change.
STATE_FORMAT = 1
#: Stegvis' own code: a change to the compiler invalidates every recorded output.
CODE_ROOT = Path(__file__).resolve().parent
#: Folders never hashed as sources (version control, editor and tool folders).
SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"})
_EXTENDS = re.compile(r"^extends\s*:\s*['\"]?([^'\"#\n]+?)['\"]?\s*(#.*)?$", re.M)


def sha256(data: bytes) -> str:
    """Hex sha256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def digest(*parts: object) -> str:
    """sha256 over parts (str, bytes or JSON-able values), each length-prefixed so no two lists collide."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, bytes):
            data = part
        elif isinstance(part, str):
            data = part.encode("utf-8")
        else:
            data = json.dumps(part, ensure_ascii=False, sort_keys=True, default=str).encode("utf-8")
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


# --- source files ----------------------------------------------------------------------


def source_roots(program_dir: Path) -> list[Path]:
    """The program folder and, for an overlay, every base it extends (followed transitively);
    a base package is a root too (a zip file, or a package folder), and ends the chain.

    Read with a regular expression, not YAML: over-approximating the folders only costs a
    little hashing, and a broken `extends:` is reported by the real build.
    """
    roots: list[Path] = []
    current = program_dir.resolve()
    while current not in roots:
        roots.append(current)
        try:
            text = (current / "program.yaml").read_text("utf-8")
        except (OSError, UnicodeDecodeError):
            break
        m = _EXTENDS.search(text)
        if not m:
            break
        current = (current / m.group(1).strip()).resolve()
    return roots


def hash_tree(roots: Iterable[Path], skip: Iterable[Path] = ()) -> dict[str, str]:
    """sha256 of every file under the roots, by absolute path (tool folders and `skip` left out).

    A root that is a file (a base package zip) is hashed itself."""
    skipped = {str(p.resolve()) for p in skip}
    out: dict[str, str] = {}
    for root in roots:
        if os.path.isfile(root):  # a base package zip that an overlay extends
            with open(root, "rb") as f:
                out[str(root)] = hashlib.file_digest(f, "sha256").hexdigest()
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames
                           if d not in SKIPPED_DIRS and os.path.join(dirpath, d) not in skipped]
            for name in filenames:
                path = os.path.join(dirpath, name)
                try:
                    with open(path, "rb") as f:
                        out[path] = hashlib.sha256(f.read()).hexdigest()
                except OSError:
                    out[path] = "unreadable"
    return dict(sorted(out.items()))


#: Template subfolders the compiler never reads (the runtime's own pages), so editing them rebuilds nothing.
NOT_BUILD_TEMPLATES = ("runtime",)


def hash_folder(folder: Path, suffixes: tuple[str, ...] = (), skip: tuple[str, ...] = ()) -> str:
    """One hash over every file of a folder (relative path and bytes), e.g. the templates.

    `skip` names top-level subfolders to leave out.
    """
    parts = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if rel.parts[0] in skip:
            continue
        if path.is_file() and "__pycache__" not in path.parts and (not suffixes or path.suffix in suffixes):
            parts += [path.relative_to(folder).as_posix(), path.read_bytes()]
    return digest(*parts)


@functools.cache
def code_hash() -> str:
    """Hash of Stegvis' own Python code, so a changed compiler never reuses old outputs.

    Taken once per process: the code that runs is the code imported when it started,
    whatever happens to the files later (cached as a fact of the process, not state).
    """
    return hash_folder(CODE_ROOT, (".py",))


# --- settings and state ------------------------------------------------------------------


def settings_key(program_dir: Path, out: Path, templates: Path, audio: bool, pdf: bool, strict: bool,
                 release: bool, tts: str, source_date_epoch: int, engine: dict | None = None,
                 previous: Path | None = None) -> dict:
    """Every build setting that changes what a build writes or reports, as plain values."""
    return {
        "format": STATE_FORMAT,
        "program_dir": str(program_dir.resolve()),
        "out": str(out.resolve()),
        "templates": str(templates.resolve()),
        "audio": audio,
        "pdf": pdf,
        "strict": strict,
        "release": release,
        "tts": tts,
        "source_date_epoch": source_date_epoch,
        "engine": engine if audio else None,
        "previous": str(previous.resolve()) if previous is not None else None,
    }


def settings_of(program_dir: Path, config: BuildConfig, engine: dict | None = None,
                previous: Path | None = None) -> dict:
    """`settings_key` of a `BuildConfig` (and the identity of the voice engine used)."""
    return settings_key(program_dir, config.out, config.templates, config.audio, config.pdf, config.strict,
                        config.release, config.tts, config.source_date_epoch, engine, previous)


def state_path(cache: Path, program_dir: Path, out: Path) -> Path:
    """Where the state of one program folder built into one output folder lives."""
    key = digest(str(program_dir.resolve()), str(out.resolve()))[:20]
    return cache / "state" / f"{key}.json"


@dataclass
class BuildState:
    """What the last successful build of a program read and wrote."""

    settings: dict
    roots: list[str]
    sources: dict[str, str]  # absolute path -> sha256, every file under the roots
    templates: str  # hash of the templates folder
    code: str  # hash of Stegvis' code
    package: dict  # id, version, folder, zip, manifest sha256, zip size, sibling versions
    outputs: dict[str, list[str]] = field(default_factory=dict)  # page -> [fingerprint, sha256]
    diagnostics: list[dict] = field(default_factory=list)  # warnings, replayed when nothing changed
    notes: list[str] = field(default_factory=list)
    manifest: dict = field(default_factory=dict)  # the BuildReport's manifest extras

    @classmethod
    def load(cls, path: Path) -> BuildState | None:
        """The state in `path`, or None when missing, unreadable or of another format."""
        try:
            data = json.loads(path.read_text("utf-8"))
            state = cls(**data)
        except (OSError, ValueError, TypeError):
            return None
        return state if state.settings.get("format") == STATE_FORMAT else None

    def save(self, path: Path) -> None:
        """Write the state atomically; a cache that cannot be written only makes the next build slower."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(asdict(self), ensure_ascii=False, sort_keys=True), "utf-8")
            os.replace(tmp, path)
        except OSError:
            return


@dataclass
class Snapshot:
    """The inputs of a build as found before it starts: compared with, then stored in, the state."""

    settings: dict
    roots: list[str]
    sources: dict[str, str]
    templates: str
    code: str


def take_snapshot(program_dir: Path, settings: dict, cache: Path) -> Snapshot:
    """Hash every source file, the templates and the code (the output and cache folders are skipped)."""
    roots = source_roots(program_dir)
    skip = [Path(settings["out"]), cache]
    return Snapshot(settings, [str(r) for r in roots], hash_tree(roots, skip),
                    hash_folder(Path(settings["templates"]), skip=NOT_BUILD_TEMPLATES), code_hash())


def _stamp(path: str) -> list[int]:
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


def package_facts(out: Path, program_id: str, version: str, files: Iterable[str] | None = None) -> dict:
    """What identifies a written package on disk: folder, zip, manifest hash, sibling versions, and
    the size and modification time of the zip and of every file (`files`: package paths; all when None)."""
    folder = out / program_id / version
    zip_path = out / f"{program_id}-{version}.zip"
    try:
        manifest = (folder / "manifest.json").read_bytes()
        names = sorted(files) if files is not None else sorted(json.loads(manifest)["files"]) + ["manifest.json"]
        base = str(folder)
        stamps = {rel: _stamp(os.path.join(base, rel)) for rel in names}
        siblings = sorted(p.name for p in (out / program_id).iterdir())
        return {"id": program_id, "version": version, "folder": str(folder), "zip": str(zip_path),
                "manifest": sha256(manifest), "zip_stamp": _stamp(str(zip_path)), "siblings": siblings,
                "files": stamps}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def package_intact(facts: dict) -> bool:
    """Whether the recorded package is on disk as written (nothing replaced, touched or added beside it)."""
    if not facts:
        return False
    folder = Path(facts["folder"])
    return package_facts(folder.parent.parent, facts["id"], facts["version"], facts["files"]) == facts


@dataclass
class Unchanged:
    """A build that found nothing changed: the package it would write is already there."""

    state: BuildState

    @property
    def folder(self) -> Path:
        """The package folder, `<out>/<program-id>/<version>/`."""
        return Path(self.state.package["folder"])

    @property
    def zip(self) -> Path:
        """The package's zip."""
        return Path(self.state.package["zip"])

    def diagnostics(self) -> list[Diagnostic]:
        """The warnings of the build that wrote the package, to show them again."""
        from builder.diagnostics import Diagnostic, Severity

        return [Diagnostic(d["path"], d["line"], d["col"], d["code"], Severity(d["severity"]), d["message"], d["hint"])
                for d in self.state.diagnostics]


def check_unchanged(snapshot: Snapshot, state_file: Path) -> Unchanged | None:
    """`Unchanged` when the previous build read the same inputs with the same settings and its package is intact."""
    state = BuildState.load(state_file)
    if state is None:
        return None
    same = (state.settings == snapshot.settings and state.roots == snapshot.roots and state.sources == snapshot.sources
            and state.templates == snapshot.templates and state.code == snapshot.code)
    return Unchanged(state) if same and package_intact(state.package) else None


def unchanged_build(program_dir: Path, out: Path, cache: Path, *, pdf: bool, strict: bool, release: bool, tts: str,
                    previous: Path | None = None) -> Unchanged | None:
    """For a build without audio: `Unchanged` when nothing changed since the last one.

    Uses only the standard library and `builder.defaults`, so the command line can answer
    in a fraction of a second, before importing the compiler.
    """
    from builder.defaults import TEMPLATES, source_date_epoch

    settings = settings_key(program_dir, out, TEMPLATES, False, pdf, strict, release, tts, source_date_epoch(),
                            None, previous)
    return check_unchanged(take_snapshot(program_dir, settings, cache), state_path(cache, program_dir, out))


def record_build(state_file: Path, snapshot: Snapshot, package: dict, outputs: dict[str, list[str]],
                 diagnostics: Iterable[Diagnostic], notes: list[str], manifest: dict) -> None:
    """Store the state of a successful build."""
    BuildState(snapshot.settings, snapshot.roots, snapshot.sources, snapshot.templates, snapshot.code, package,
               outputs, [d.as_dict() for d in diagnostics], notes, manifest).save(state_file)


# --- parsed files kept between builds (serve) -----------------------------------------


class ParseMemo:
    """Parsed YAML and Markdown kept between the builds of one `stegvis serve` session.

    Keyed by the exact text (and where it starts), so a one-step edit parses only that
    step again. A parsed body also keeps what was derived from it (LIX, step checks) in
    `ParsedBody.derived`. Entries not used by a build are dropped after it (`sweep`), so
    memory follows the program, not the editing history. Owned by one serve session;
    never shared between threads that build at the same time.
    """

    def __init__(self) -> None:
        self._yaml: dict[tuple, tuple] = {}
        self._bodies: dict[tuple, object] = {}
        self._used: set[tuple] = set()
        self.hits = self.misses = 0

    def parse_yaml(self, text: str, path: str, diags, line_offset: int = 0):
        """`builder.yamlsrc.parse_yaml`, remembered with the diagnostics it gave."""
        from builder.diagnostics import Diagnostics
        from builder.yamlsrc import parse_yaml

        key = ("yaml", text, path, line_offset)
        self._used.add(key)
        if key in self._yaml:
            self.hits += 1
            doc, items = self._yaml[key]
        else:
            self.misses += 1
            found = Diagnostics()
            doc = parse_yaml(text, path, found, line_offset)
            items = found.items
            self._yaml[key] = (doc, items)
        diags.add_items(items)
        return doc

    def parse_body(self, text: str, line: int):
        """`builder.markdown.parse_body`, remembered (the same object for the same text)."""
        from builder.markdown import parse_body

        key = ("md", text, line)
        self._used.add(key)
        body = self._bodies.get(key)
        if body is None:
            self.misses += 1
            body = self._bodies[key] = parse_body(text, line)
        else:
            self.hits += 1
        return body

    def sweep(self) -> None:
        """Forget everything the last build did not use; start counting anew."""
        self._yaml = {k: v for k, v in self._yaml.items() if k in self._used}
        self._bodies = {k: v for k, v in self._bodies.items() if k in self._used}
        self._used = set()
        self.hits = self.misses = 0


# --- page fingerprints -------------------------------------------------------------------


def _model(value) -> str:
    return value.model_dump_json() if value is not None else ""


def _links(step: Step) -> list[str]:
    """Every link and image target in a step, callouts included (what its page may rewrite)."""
    from builder.markdown import walk

    derived = step.body.derived
    if "links" not in derived:
        derived["links"] = [str(tok.attrs.get("href") or tok.attrs.get("src") or "")
                            for tok in walk(step.body.tokens) if tok.type in ("link_open", "image")]
    return derived["links"]


def page_fingerprints(program: Program, config: BuildConfig, readouts: dict[Step, Readout] | None = None,
                      templates: str | None = None) -> dict[str, str]:
    """The fingerprint of every HTML page: a hash of exactly the values its renderer consumes.

    Shared by all pages: the templates, Stegvis' code, the program's metadata, the media
    names (content-hashed), whether PDFs are linked and whether readouts are on.
    """
    from builder.links import resolve_step_link, step_index
    from builder.paths import form_page, media_names, module_page, plan_page, step_page

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
        rows = [[s.id, s.meta.title, s.meta.section, step_page(s)] for s in module.steps]
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
