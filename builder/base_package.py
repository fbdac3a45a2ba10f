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
import json
import os
import shutil
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from builder.diagnostics import CATALOGUE
from builder.yamlsrc import dump_yaml

if TYPE_CHECKING:  # pragma: no cover
    from builder.model import SourceTree

#: The package folder holding the sources.
SOURCE_DIR = "source"
#: Version of the manifest's `source` section; bump when a reader would need to read it differently.
SOURCE_FORMAT = 1
#: Where base packages are extracted, inside the build cache.
BASES_DIR = "bases"
#: The build cache when no other is given (`BuildConfig.cache`'s default).
DEFAULT_CACHE = Path(".cache")
#: Files a package folder or zip may hold besides those its manifest lists.
UNLISTED = frozenset({"manifest.json", "manifest.json.sig"})


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
    keys, without `extends`, `remove` and `hide`) and lexicon.yaml when both had one (merged).
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
    return path.is_dir() and (path / "manifest.json").is_file() and not (path / "program.yaml").is_file()


def open_base_package(path: Path, cache: Path | None = None) -> BasePackage:
    """Verify a package zip or folder and extract its sources (reused when already extracted).

    Raises `BasePackageError` (OVERLAY-007 unreadable, OVERLAY-008 not as its manifest
    says, OVERLAY-009 without sources).
    """
    bases = (cache if cache is not None else DEFAULT_CACHE) / BASES_DIR
    if path.is_dir():
        return _open(path, _folder_reader(path), bases, key=None)
    with open(path, "rb") as f:
        key = hashlib.file_digest(f, "sha256").hexdigest()
    done = bases / key
    if (done / "manifest.json").is_file():  # these exact bytes were checked when extracted
        manifest_bytes = (done / "manifest.json").read_bytes()
        return _package(path, done, json.loads(manifest_bytes), manifest_bytes)
    try:
        with zipfile.ZipFile(path) as zf:
            return _open(path, _zip_reader(path, zf), bases, key=key)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BasePackageError("OVERLAY-007", target=path.name, problem=f"zip-filen går inte att läsa ({exc})") from exc


@dataclass
class _Reader:
    names: list[str]  # every file, relative to the package root
    read: Callable[[str], bytes | None]  # None: the bytes cannot be read back (a zip entry's CRC fails)


def _folder_reader(folder: Path) -> _Reader:
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() or p.is_symlink())
    return _Reader(names, lambda rel: (folder / rel).read_bytes())


def _zip_reader(path: Path, zf: zipfile.ZipFile) -> _Reader:
    entries = [n for n in zf.namelist() if not n.endswith("/")]
    manifests = sorted((n for n in entries if PurePosixPath(n).name == "manifest.json"),
                       key=lambda n: (n.count("/"), n))
    if not manifests:
        raise BasePackageError("OVERLAY-007", target=path.name, problem="manifest.json saknas")
    prefix = manifests[0][: -len("manifest.json")]
    names = sorted(n[len(prefix):] if n.startswith(prefix) else f"../{n}" for n in entries)

    def read(rel: str) -> bytes | None:
        try:
            return zf.read(prefix + rel)
        except (zipfile.BadZipFile, zlib.error):  # a changed byte in the entry's stored data
            return None

    return _Reader(names, read)


def _safe(rel: str) -> bool:
    p = PurePosixPath(rel)
    return bool(rel) and not p.is_absolute() and ".." not in p.parts and "\\" not in rel


def _open(path: Path, reader: _Reader, bases: Path, key: str | None) -> BasePackage:
    name = path.name if path.suffix.lower() == ".zip" else f"{path.parent.name}/{path.name}"
    if "manifest.json" not in reader.names:
        raise BasePackageError("OVERLAY-007", target=name, problem="manifest.json saknas")
    manifest_bytes = reader.read("manifest.json") or b""
    try:
        manifest = json.loads(manifest_bytes)
        listed = manifest["files"]
    except (ValueError, KeyError, TypeError):
        listed = None
    if not isinstance(listed, dict) or not all(isinstance(v, dict) for v in listed.values()):
        raise BasePackageError("OVERLAY-007", target=name, problem="manifest.json går inte att läsa")
    source = manifest.get("source")
    prefix = f"{SOURCE_DIR}/"
    if not isinstance(source, dict) or not any(rel.startswith(prefix) for rel in listed):
        raise BasePackageError("OVERLAY-009", target=name)

    problems = [f"{rel} finns i paketet men inte i manifestet" for rel in reader.names
                if rel not in listed and rel not in UNLISTED]
    problems += [f"otillåten sökväg {rel}" for rel in listed if not _safe(rel)]
    present = set(reader.names)
    media = source.get("media") if isinstance(source.get("media"), dict) else {}
    wanted = {rel for rel in listed if rel.startswith(prefix)} | {v for v in media.values() if isinstance(v, str)}
    kept: dict[str, bytes] = {}
    for rel, info in sorted(listed.items()):
        if not _safe(rel):
            continue
        if rel not in present:
            problems.append(f"{rel} saknas")
            continue
        data = reader.read(rel)
        if data is None or len(data) != info.get("size") or hashlib.sha256(data).hexdigest() != info.get("sha256"):
            problems.append(f"{rel} är ändrad")
        elif rel in wanted:
            kept[rel] = data
    for src_rel, pkg_rel in sorted(media.items()):
        if not isinstance(pkg_rel, str) or not _safe(str(src_rel)) or pkg_rel not in listed:
            problems.append(f"källfilen {src_rel} pekar på {pkg_rel}, som inte finns i manifestet")
    if problems:
        shown = "; ".join(problems[:3]) + (f" och {len(problems) - 3} till" if len(problems) > 3 else "")
        raise BasePackageError("OVERLAY-008", target=name, problem=shown)

    sources = {rel[len(prefix):]: data for rel, data in kept.items() if rel.startswith(prefix)}
    sources |= {src_rel: kept[pkg_rel] for src_rel, pkg_rel in media.items()}
    key = key or hashlib.sha256(manifest_bytes).hexdigest()
    done = bases / key
    if not (done / "manifest.json").is_file():
        _extract(done, sources, manifest_bytes)
    return _package(path, done, manifest, manifest_bytes)


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
        (tmp / "manifest.json").write_bytes(manifest_bytes)  # written last: it marks the folder complete
        try:
            tmp.rename(done)
        except OSError:  # another build extracted the same package meanwhile
            if not (done / "manifest.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _package(path: Path, done: Path, manifest: dict, manifest_bytes: bytes) -> BasePackage:
    source = manifest.get("source") or {}
    hidden = frozenset(h for h in source.get("hidden", []) if isinstance(h, str))
    return BasePackage(path, done / SOURCE_DIR, manifest, hashlib.sha256(manifest_bytes).hexdigest(), hidden)
