"""Drift: which base files an overlay overrides have changed since it last accepted them.

Input: an overlay folder. Output: a `DriftReport` (and, with --accept, an updated
lock). The lock (`overlay.lock`, JSON) records for every overridden file the sha256
of the base file the region last read; a copy of that base file is kept under
`.base/` so the base's change can be shown as a diff. A base package (zip) works the
same way: its base files are the package's `source/`, checked and extracted by
`builder.base_package`. Writes only the lock and the snapshot folder of the overlay,
and only when asked to accept (and the extracted sources into the cache).

Regional words (issue 17): for an overlay with `terms:`, the lock also records, under
`terms`, the occurrences of the terms' words it has accepted in each inherited base file
(the word and its sentence); an occurrence whose sentence the lock does not have is new,
until accepted.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from builder.base_package import BasePackageError, is_package, open_base_package
from builder.diagnostics import Diagnostics
from builder.load import split_id
from builder.terms import Replacement, Vocabulary, check_terms, file_kind, find_in_file
from builder.yamlsrc import YamlDoc, parse_yaml

LOCK_FILE = "overlay.lock"
SNAPSHOT_DIR = ".base"
SKIP = {"program.yaml", LOCK_FILE}


@dataclass
class FileDrift:
    path: str  # relative to the program root
    status: str  # "changed", "unaccepted", "removed"
    diff: str = ""


@dataclass
class TermDrift:
    """A new occurrence of a term's word in an inherited base file (the lock lacks its sentence)."""

    path: str  # relative to the program root
    line: int
    col: int
    term: str
    found: str
    sentence: str  # as the base says it


@dataclass
class DriftReport:
    overlay: Path
    base: Path  # what extends: names: a base program folder or a base package
    files: list[FileDrift] = field(default_factory=list)
    terms: list[TermDrift] = field(default_factory=list)

    @property
    def drifted(self) -> bool:
        return bool(self.files or self.terms)


def _sources(root: Path) -> dict[str, Path]:
    """Every source file of a program folder by relative path (not the lock or snapshots)."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and rel not in SKIP and not any(part.startswith(".") for part in Path(rel).parts):
            out[rel] = path
    return out


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_lock(overlay: Path) -> dict:
    lock = overlay / LOCK_FILE
    if not lock.is_file():
        return {"format": 1, "files": {}}
    return json.loads(lock.read_text("utf-8"))


def write_lock(overlay: Path, lock: dict) -> None:
    lock["files"] = dict(sorted(lock["files"].items()))
    (overlay / LOCK_FILE).write_text(json.dumps(lock, ensure_ascii=False, indent=2) + "\n", "utf-8")


def _program(overlay: Path) -> YamlDoc | None:
    doc = parse_yaml((overlay / "program.yaml").read_text("utf-8"), "program.yaml", Diagnostics())
    return doc if doc is not None and isinstance(doc.data, dict) else None


def extends_target(overlay: Path) -> Path:
    """What an overlay's `extends:` names: a base program folder or a base package (ValueError when none)."""
    doc = _program(overlay)
    extends = doc.data.get("extends") if doc else None
    if not isinstance(extends, str):
        raise ValueError(f"{overlay / 'program.yaml'} har ingen extends:")
    return (overlay / extends).resolve()


def base_dir(overlay: Path, cache: Path | None = None) -> Path:
    """The folder of the base's source files an overlay extends (ValueError when there is none).

    For a base package that is its `source/`, verified and extracted into `cache`.
    """
    target = extends_target(overlay)
    if is_package(target):
        try:
            return open_base_package(target, cache).source
        except BasePackageError as exc:
            raise ValueError(str(exc)) from exc
    if not (target / "program.yaml").is_file():
        raise ValueError(f"basprogrammet {target} finns inte (extends: i {overlay / 'program.yaml'}).")
    return target


def _base_diff(old: str, new: str, path: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        f"bas (godkänd)/{path}", f"bas (nu)/{path}"))


def _removed(doc: YamlDoc, rel: str) -> bool:
    """Whether the overlay's `remove:` takes the base file `rel` out of its program."""
    remove = doc.data.get("remove")
    if not isinstance(remove, dict):
        return False
    parts = rel.split("/")

    def listed(key: str) -> list:
        value = remove.get(key)
        return value if isinstance(value, list) else []

    if parts[0] == "modules" and len(parts) == 3:
        module = split_id(parts[1])[1]
        step = f"{module}/{split_id(parts[2].removesuffix('.md'))[1]}"
        return module in listed("modules") or (parts[2].endswith(".md") and step in listed("steps"))
    stem = parts[-1].rsplit(".", 1)[0]
    return ((parts[0] == "forms" and stem in listed("forms"))
            or (parts[0] == "activity-plans" and stem in listed("activity_plans")))


def term_occurrences(overlay: Path, base_files: dict[str, Path]) -> dict[str, list[Replacement]]:
    """Occurrences of the overlay's terms in the base files it inherits (not its own, not removed).

    The same replacements resolve makes; nothing when the overlay has no usable `terms:`.
    """
    doc = _program(overlay)
    vocabulary = Vocabulary(check_terms(doc, Diagnostics()) if doc is not None else {})
    if not vocabulary:
        return {}
    own = set(_sources(overlay))
    found = {}
    for rel, path in base_files.items():
        if rel in own or file_kind(rel) is None or _removed(doc, rel):
            continue
        occurrences = find_in_file(rel, path.read_bytes(), vocabulary)
        if occurrences:
            found[rel] = occurrences
    return found


def _accepted(entries: list[Replacement]) -> list[dict]:
    return [{"term": r.term, "sentence": r.before} for r in entries]


def _new_terms(lock: dict, occurrences: dict[str, list[Replacement]]) -> list[TermDrift]:
    """The occurrences whose word and sentence the lock has not accepted (as many times)."""
    new = []
    for rel, found in sorted(occurrences.items()):
        accepted = Counter((e.get("term"), e.get("sentence")) for e in lock.get("terms", {}).get(rel, [])
                           if isinstance(e, dict))
        for r in found:
            key = (r.term, r.before)
            if accepted[key] > 0:
                accepted[key] -= 1
            else:
                new.append(TermDrift(rel, r.line, r.col, r.term, r.found, r.before))
    return new


def drift_report(overlay: Path, base: Path | None = None, cache: Path | None = None) -> DriftReport:
    """Compare every overridden base file with the version the overlay accepted.

    `base`: the folder of the base's sources when the caller has it (resolve), else found
    from `extends:` (a base package is extracted into `cache`).
    """
    overlay = overlay.resolve()
    base_files = _sources(base if base is not None else base_dir(overlay, cache))
    lock = read_lock(overlay)
    report = DriftReport(overlay, extends_target(overlay))
    overridden = sorted(set(_sources(overlay)) & set(base_files))
    for rel in overridden:
        accepted = lock["files"].get(rel)
        if accepted is None:
            report.files.append(FileDrift(rel, "unaccepted"))
        elif accepted != _sha(base_files[rel]):
            snapshot = overlay / SNAPSHOT_DIR / rel
            old = snapshot.read_text("utf-8") if snapshot.is_file() else ""
            report.files.append(FileDrift(rel, "changed", _base_diff(old, base_files[rel].read_text("utf-8"), rel)))
    for rel in sorted(set(lock["files"]) - set(base_files)):
        report.files.append(FileDrift(rel, "removed"))
    report.terms = _new_terms(lock, term_occurrences(overlay, base_files))
    return report


def accept(overlay: Path, paths: list[str] | None, cache: Path | None = None) -> list[str]:
    """Record the base's current version of `paths` (every overridden or stale entry when None):
    the hash of a file the overlay overrides, the occurrences of its terms in a file it inherits.

    Raises ValueError for a path that the overlay neither overrides nor rewrites, or a base
    package that cannot be used (extracted into `cache`).
    """
    overlay = overlay.resolve()
    base_files = _sources(base_dir(overlay, cache))
    lock = read_lock(overlay)
    overridden = set(_sources(overlay)) & set(base_files)
    stale = set(lock["files"]) - overridden
    occurrences = term_occurrences(overlay, base_files)
    worded = set(occurrences) | set(lock.get("terms", {}))
    targets = sorted(overridden | stale | worded) if paths is None else paths
    unknown = [rel for rel in targets if rel not in overridden and rel not in stale and rel not in worded]
    if unknown:
        raise ValueError(f"överlagringen ersätter inte {', '.join(unknown)} och byter inga ord där")
    terms = dict(lock.get("terms", {}))
    for rel in targets:
        if rel in worded:
            if rel in occurrences:
                terms[rel] = _accepted(occurrences[rel])
            else:  # no word of the terms left in it: forget it
                terms.pop(rel, None)
        if rel not in overridden and rel not in stale:
            continue
        snapshot = overlay / SNAPSHOT_DIR / rel
        if rel in overridden:
            lock["files"][rel] = _sha(base_files[rel])
            snapshot.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(base_files[rel], snapshot)
        else:  # no longer overridden, or gone from the base: forget it
            lock["files"].pop(rel, None)
            snapshot.unlink(missing_ok=True)
    lock.pop("terms", None)
    if terms:  # kept out of a lock whose overlay has no terms, so that such a lock stays as it was
        lock["terms"] = dict(sorted(terms.items()))
    write_lock(overlay, lock)
    return targets
