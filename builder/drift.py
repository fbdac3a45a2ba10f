"""Drift: which base files an overlay overrides have changed since it last accepted them.

Input: an overlay folder. Output: a `DriftReport` (and, with --accept, an updated
lock). The lock (`overlay.lock`, JSON) records for every overridden file the sha256
of the base file the region last read; a copy of that base file is kept under
`.base/` so the base's change can be shown as a diff. A base package (zip) works the
same way: its base files are the package's `source/`, checked and extracted by
`builder.base_package`. Writes only the lock and the snapshot folder of the overlay,
and only when asked to accept (and the extracted sources into the cache).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from builder.base_package import BasePackageError, is_package, open_base_package
from builder.diagnostics import Diagnostics
from builder.yamlsrc import parse_yaml

LOCK_FILE = "overlay.lock"
SNAPSHOT_DIR = ".base"
SKIP = {"program.yaml", LOCK_FILE}


@dataclass
class FileDrift:
    path: str  # relative to the program root
    status: str  # "changed", "unaccepted", "removed"
    diff: str = ""


@dataclass
class DriftReport:
    overlay: Path
    base: Path  # what extends: names: a base program folder or a base package
    files: list[FileDrift] = field(default_factory=list)

    @property
    def drifted(self) -> bool:
        return bool(self.files)


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


def extends_target(overlay: Path) -> Path:
    """What an overlay's `extends:` names: a base program folder or a base package (ValueError when none)."""
    doc = parse_yaml((overlay / "program.yaml").read_text("utf-8"), "program.yaml", Diagnostics())
    extends = doc.data.get("extends") if doc and isinstance(doc.data, dict) else None
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
    return report


def accept(overlay: Path, paths: list[str] | None, cache: Path | None = None) -> list[str]:
    """Record the base's current version of `paths` (every overridden or stale entry when None).

    Raises ValueError for a path that the overlay does not override, or a base package that
    cannot be used (extracted into `cache`).
    """
    overlay = overlay.resolve()
    base_files = _sources(base_dir(overlay, cache))
    lock = read_lock(overlay)
    overridden = set(_sources(overlay)) & set(base_files)
    stale = set(lock["files"]) - overridden
    targets = sorted(overridden | stale) if paths is None else paths
    unknown = [rel for rel in targets if rel not in overridden and rel not in stale]
    if unknown:
        raise ValueError(f"överlagringen ersätter inte {', '.join(unknown)}")
    for rel in targets:
        snapshot = overlay / SNAPSHOT_DIR / rel
        if rel in overridden:
            lock["files"][rel] = _sha(base_files[rel])
            snapshot.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(base_files[rel], snapshot)
        else:  # no longer overridden, or gone from the base: forget it
            lock["files"].pop(rel, None)
            snapshot.unlink(missing_ok=True)
    write_lock(overlay, lock)
    return targets
