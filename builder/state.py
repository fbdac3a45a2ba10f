"""The build state (issue #7): what the last successful build read and wrote.

Layer: just below `builder.incremental`, above the readers (see DESIGN.md, "Layers").
Input: the program folder, the build settings as plain values, the package written.
Output: a `Snapshot` of every source file, the templates and Stegvis' code; whether
nothing changed since the last build (`check_unchanged`, `unchanged_build`); the state
file `<cache>/state/<key>.json` (`record_build`). Must not write into `dist/`.

Imports only the standard library and the compiler's standard-library-only modules
(`builder.hashing`, `builder.defaults`, `builder.diagnostics`), so that the command line
can answer "nothing changed" without importing the whole compiler.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from builder.defaults import FILM_HEIGHT, TEMPLATES, source_date_epoch
from builder.diagnostics import Diagnostic, Severity
from builder.hashing import code_hash, digest, hash_folder, hash_tree, sha256
from stegvis_package import PACKAGE_FORMAT
from stegvis_package.paths import MANIFEST

#: Bump when the state file's layout or what the state records of each page changes.
STATE_FORMAT = 4
_EXTENDS = re.compile(r"^(?:extends|translates)\s*:\s*['\"]?([^'\"#\n]+?)['\"]?\s*(#.*)?$", re.M)


# --- source files ----------------------------------------------------------------------


def source_roots(program_dir: Path) -> list[Path]:
    """The program folder and, for an overlay or a translation, every base it extends or
    translates (followed transitively);
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


_LANGUAGE = re.compile(r"^language\s*:\s*['\"]?([A-Za-z][\w-]*)['\"]?\s*(#.*)?$", re.M)


def program_language(program_dir: Path) -> str:
    """The language of a program folder: its program.yaml's `language:`, else its base's, else sv.

    Read with a regular expression, as `source_roots` reads `extends:`, so that the voice can
    be chosen before anything is loaded; validate checks the real value.
    """
    for root in source_roots(program_dir):
        try:
            m = _LANGUAGE.search((root / "program.yaml").read_text("utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
        if m:
            return m.group(1)
    return "sv"


#: Template subfolders the compiler never reads (the runtime's own pages), so editing them rebuilds nothing.
NOT_BUILD_TEMPLATES = ("runtime",)


# --- settings and state ------------------------------------------------------------------


def settings_key(program_dir: Path, settings: Mapping[str, object], engine: dict | None = None,
                 previous: Path | None = None) -> dict:
    """The build settings that change what a build writes or reports (`BuildConfig.output_settings`),
    the program folder, the voice engine (with audio) and the previous package, as plain values."""
    return {
        "format": STATE_FORMAT,
        "program_dir": str(program_dir.resolve()),
        **{name: str(value.resolve()) if isinstance(value, Path) else value for name, value in settings.items()},
        "engine": engine if settings.get("audio") else None,
        "previous": str(previous.resolve()) if previous is not None else None,
    }


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
            # fields() and not asdict(): asdict copies every list of every page's reads first
            data = {f.name: getattr(self, f.name) for f in fields(self)}
            tmp.write_text(json.dumps(data, ensure_ascii=False, sort_keys=True), "utf-8")
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
        # Read as plain JSON: pydantic's package model costs 0.2 s of imports, and these facts only
        # need the names listed and the manifest's hash (any change to it changes the hash).
        with open(folder / MANIFEST, "rb") as f:
            manifest = f.read()
        listed = json.loads(manifest)
        if listed.get("format") != PACKAGE_FORMAT:
            return {}
        names = sorted(files) if files is not None else sorted(listed["files"]) + [MANIFEST]
        base = str(folder)
        stamps = {rel: _stamp(os.path.join(base, rel)) for rel in names}
        siblings = sorted(p.name for p in (out / program_id).iterdir())
        return {"id": program_id, "version": version, "folder": str(folder), "zip": str(zip_path),
                "manifest": sha256(manifest), "zip_stamp": _stamp(str(zip_path)), "siblings": siblings,
                "files": stamps}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
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
                    previous: Path | None = None, taken: dict[Path, Snapshot] | None = None) -> Unchanged | None:
    """For a build without audio: `Unchanged` when nothing changed since the last one.

    Uses only the standard library and `builder.defaults`, so the command line can answer
    in a fraction of a second, before importing the compiler. `taken` receives the snapshot
    (by program folder), so that the build that follows does not hash every file again.
    """
    # What the command line can set, and BuildConfig's defaults for the rest. A setting of
    # BuildConfig.output_settings() missing here only means this check never says "unchanged"
    # (tests/test_incremental.py compares the two).
    cli = {"out": out, "audio": False, "pdf": pdf, "strict": strict, "release": release,
           "source_date_epoch": source_date_epoch(), "templates": TEMPLATES, "tts": tts,
           "film_height": FILM_HEIGHT}
    settings = settings_key(program_dir, cli, None, previous)
    snapshot = take_snapshot(program_dir, settings, cache)
    if taken is not None:
        taken[program_dir] = snapshot
    return check_unchanged(snapshot, state_path(cache, program_dir, out))


def record_build(state_file: Path, snapshot: Snapshot, package: dict, outputs: dict[str, list[str]],
                 diagnostics: Iterable[Diagnostic], notes: list[str], manifest: dict) -> None:
    """Store the state of a successful build."""
    BuildState(snapshot.settings, snapshot.roots, snapshot.sources, snapshot.templates, snapshot.code, package,
               outputs, [d.as_dict() for d in diagnostics], notes, manifest).save(state_file)
