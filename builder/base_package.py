"""Packages carry their sources, so that an overlay can extend a built package (issue #6).

Two sides of one format, both used around the resolve stage:

- **Writing** (called by the pipeline before the package stage): `package_sources()`
  gives the `source/` files of a package and the manifest's `source` section. A plain
  program packs its source files byte for byte. An overlay packs its *resolved* tree: the
  base with the overlay applied, as a plain program (a generated program.yaml without
  `extends:`, removed modules, steps, forms and plans left out, every other file byte for
  byte); the steps it hides are listed in the manifest, so no step file is rewritten.
  A media file whose bytes the package already holds (under its content-hashed name) is
  not stored twice: the manifest maps its source path to that package file.
- **Reading** (resolve and drift): `open_base_package()` takes a package zip
  (`dist/<id>-<version>.zip`) or folder (`dist/<id>/<version>/`), checks every file
  against the manifest's sha256 and size (no file missing, none unlisted), and extracts
  `source/` into `<cache>/bases/<sha256>/source/`, a plain program folder that resolve
  loads like any base. A zip is keyed by the sha256 of its bytes, so a zip checked once
  is not checked again; a folder is checked on every use.

Input: a resolved `SourceTree` and the rendered files (writing), or a package path
(reading). Output: bytes and a dict (writing), a `BasePackage` or a `BasePackageError`
whose code and parameters are a catalogue diagnostic (reading). Writes only into the
cache folder; must not validate content (validate does, on the extracted folder).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from builder.diagnostics import CATALOGUE
from builder.yamlsrc import dump_yaml
from stegvis_package.model import Manifest
from stegvis_package.paths import MANIFEST, SOURCE_DIR, is_safe_path
from stegvis_package.reader import FolderReader, NotAPackage, PackageReader, open_package
from stegvis_package.verify import PackageInvalid, Refusal, read_manifest, verify

if TYPE_CHECKING:  # pragma: no cover
    from builder.model import SourceTree

#: Version of the manifest's `source` section; bump when a reader would need to read it differently.
SOURCE_FORMAT = 1
#: Where base packages are extracted, inside the build cache.
BASES_DIR = "bases"
#: The build cache when no other is given (`BuildConfig.cache`'s default).
DEFAULT_CACHE = Path(".cache")


# --- writing: what a package carries ------------------------------------------------------


def package_sources(tree: SourceTree, rendered: dict[str, bytes]) -> tuple[dict[str, bytes], dict]:
    """The `source/` files of a package (package path -> bytes) and the manifest's `source` section."""
    resolved = tree.base is not None
    sources = resolved_sources(tree) if resolved else dict(tree.files)
    in_package: dict[str, str] = {}
    for name, data in sorted(rendered.items()):
        if name.startswith("media/"):
            in_package.setdefault(hashlib.sha256(data).hexdigest(), name)
    files: dict[str, bytes] = {}
    media: dict[str, str] = {}
    for rel, data in sorted(sources.items()):
        same = in_package.get(hashlib.sha256(data).hexdigest()) if rel.startswith("media/") else None
        if same is not None and rendered[same] == data:
            media[rel] = same
        else:
            files[f"{SOURCE_DIR}/{rel}"] = data
    note: dict = {"format": SOURCE_FORMAT, "folder": SOURCE_DIR, "resolved": resolved}
    if resolved:
        note["note"] = ("The overlay resolved: its base with the overlay applied, as a program without extends:. "
                        "Steps hidden from start are listed under hidden.")
        note["hidden"] = sorted(tree.hidden)
    note["media"] = media
    return files, note


def resolved_sources(tree: SourceTree) -> dict[str, bytes]:
    """An overlay's resolved tree as the files of a plain program (relative path -> bytes).

    Every file is the overlay's or the base's byte for byte, except program.yaml (the merged
    keys, without `extends`, `remove`, `hide` and `terms`), lexicon.yaml when both had one
    (merged), and inherited files whose words the overlay's `terms:` replaced (issue 17).
    """
    files = tree.files
    out = {"program.yaml": _program_yaml(tree)}
    for srcs in tree.modules.values():
        for src in srcs:
            meta = f"modules/{src.folder}/module.yaml"
            if src.meta is not None and meta in files:
                out[meta] = files[meta]
            for step in src.steps:
                out[step.rel] = files[step.rel]
    for folder, docs in (("forms", tree.forms), ("activity-plans", tree.plans)):
        for doc in docs.values():
            rel = f"{folder}/{doc.file.name}"
            out[rel] = files[rel]
    for key in tree.media:
        out[f"media/{key}"] = files[f"media/{key}"]
    if len(tree.lexicons) == 1:
        out["lexicon.yaml"] = files["lexicon.yaml"]
    elif tree.lexicons:
        merged: dict = {}
        for doc in tree.lexicons:
            merged |= doc.data if isinstance(doc.data, dict) else {}
        out["lexicon.yaml"] = _dump("# Basens och överlagringens lexicon.yaml, sammanslagna av stegvis.\n", merged)
    return out


def _program_yaml(tree: SourceTree) -> bytes:
    data = dict(tree.program.data)
    base = tree.base or {}
    header = (f"# Skrivet av stegvis: överlagringen {data.get('id')} upplöst mot basen "
              f"{base.get('id')} {base.get('version')}, som ett program utan extends:.\n")
    return _dump(header, data)


def _dump(header: str, data: object) -> bytes:
    return (header + dump_yaml(data)).encode("utf-8")


# --- reading: a base package -------------------------------------------------------------


class BasePackageError(Exception):
    """A base package that cannot be used; `code` and `params` make its catalogue diagnostic."""

    def __init__(self, code: str, **params: str) -> None:
        self.code, self.params = code, params
        entry = CATALOGUE[code]
        super().__init__(f"{entry.message.format(**params)} Tips: {entry.hint.format(**params)}")


@dataclass(frozen=True)
class BasePackage:
    """A verified base package and its sources, extracted."""

    path: Path  # the zip or package folder
    source: Path  # the extracted source/: a plain program folder
    manifest: dict
    manifest_sha256: str
    hidden: frozenset[str] = frozenset()  # "module/step" the package hides

    def record(self) -> dict:
        """What an overlay's manifest records of the package it extends (no absolute paths)."""
        return {"file": self.path.name, "manifest_sha256": self.manifest_sha256}


def is_package(path: Path) -> bool:
    """Whether `extends:` names a built package: a .zip file, or a folder with manifest.json."""
    if path.suffix.lower() == ".zip":
        return path.is_file()
    return path.is_dir() and (path / MANIFEST).is_file() and not (path / "program.yaml").is_file()


def open_base_package(path: Path, cache: Path | None = None) -> BasePackage:
    """Verify a package zip or folder and extract its sources (reused when already extracted).

    Verification is `stegvis_package.verify`, the one the runtime uses. Raises
    `BasePackageError` (OVERLAY-007 unreadable, OVERLAY-008 not as its manifest says,
    OVERLAY-009 without sources).
    """
    bases = (cache if cache is not None else DEFAULT_CACHE) / BASES_DIR
    name = path.name if path.suffix.lower() == ".zip" else f"{path.parent.name}/{path.name}"
    key = None
    if not path.is_dir() and path.is_file():
        with open(path, "rb") as f:
            key = hashlib.file_digest(f, "sha256").hexdigest()
        done = bases / key
        if (done / MANIFEST).is_file():  # these exact bytes were checked when extracted
            return _package(path, done, *read_manifest(FolderReader(done)))
    try:
        with open_package(path) as reader:
            return _open(name, path, reader, bases, key)
    except NotAPackage as exc:
        raise BasePackageError("OVERLAY-007", target=name, problem=str(exc)) from exc


def _open(name: str, path: Path, reader: PackageReader, bases: Path, key: str | None) -> BasePackage:
    try:
        manifest, _ = read_manifest(reader)
    except PackageInvalid as exc:
        raise BasePackageError("OVERLAY-007", target=name, problem=exc.reason) from exc
    prefix = f"{SOURCE_DIR}/"
    source = manifest.source
    if not isinstance(source, dict) or not any(rel.startswith(prefix) for rel in manifest.files):
        raise BasePackageError("OVERLAY-009", target=name)
    media = source.get("media") if isinstance(source.get("media"), dict) else {}
    problems = [f"källfilen {src_rel} pekar på {pkg_rel}, som inte finns i manifestet"
                for src_rel, pkg_rel in sorted(media.items())
                if not isinstance(pkg_rel, str) or not is_safe_path(str(src_rel)) or pkg_rel not in manifest.files]
    if problems:
        raise BasePackageError("OVERLAY-008", target=name, problem="; ".join(problems[:3]))
    wanted = {rel for rel in manifest.files if rel.startswith(prefix)} | set(media.values())
    try:
        verified = verify(reader, program=False, keep=wanted.__contains__)
    except PackageInvalid as exc:
        code = "OVERLAY-008" if exc.kind in (Refusal.CHANGED, Refusal.SIGNATURE) else "OVERLAY-007"
        raise BasePackageError(code, target=name, problem=exc.reason) from exc
    kept = verified.kept
    sources = {rel[len(prefix):]: data for rel, data in kept.items() if rel.startswith(prefix)}
    sources |= {src_rel: kept[pkg_rel] for src_rel, pkg_rel in media.items()}
    key = key or verified.manifest_sha256
    done = bases / key
    if not (done / MANIFEST).is_file():
        _extract(done, sources, verified.manifest_bytes)
    return _package(path, done, verified.manifest, verified.manifest_bytes)


def _extract(done: Path, sources: dict[str, bytes], manifest_bytes: bytes) -> None:
    """Write the sources into a temporary folder and rename it, so a folder that exists is complete."""
    done.parent.mkdir(parents=True, exist_ok=True)
    tmp = done.with_name(f".{done.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        for rel, data in sorted(sources.items()):
            target = tmp / SOURCE_DIR / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        (tmp / MANIFEST).write_bytes(manifest_bytes)  # written last: it marks the folder complete
        try:
            tmp.rename(done)
        except OSError:  # another build extracted the same package meanwhile
            if not (done / MANIFEST).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _package(path: Path, done: Path, manifest: Manifest, manifest_bytes: bytes) -> BasePackage:
    source = manifest.source or {}
    hidden = frozenset(h for h in source.get("hidden", []) if isinstance(h, str))
    return BasePackage(path, done / SOURCE_DIR, manifest.model_dump(mode="json", exclude_none=True),
                       hashlib.sha256(manifest_bytes).hexdigest(), hidden)
