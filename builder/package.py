"""Stage 8, package: write `dist/<program-id>/<version>/` and its zip, atomically.

Input: rendered files (package path -> bytes), the program's `source/` files among
them (see `builder.base_package`). Output: the package folder with
`manifest.json`, and a deterministic `dist/<program-id>-<version>.zip`. The only
stage that writes to disk. Writes into a temporary folder and renames, so a failed
build leaves the previous package as it was. A `--release` build refuses to replace
a package of the same version whose files differ.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from builder import PACKAGE_FORMAT, __version__
from builder.config import BuildConfig
from builder.diagnostics import Diagnostics


def dumps(data: object) -> bytes:
    """Stable JSON bytes: UTF-8, indented, newline at the end."""
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def make_manifest(program_id: str, version: str, title: str, content_hash: str, files: dict[str, bytes],
                  extra: dict | None = None) -> dict:
    """The manifest: identity, source hash and sha256/size of every file."""
    return {
        "format": PACKAGE_FORMAT,
        "program": {"id": program_id, "version": version, "title": title},
        "builder": {"name": "stegvis", "version": __version__},
        "content_hash": content_hash,
        **(extra or {}),
        "files": {
            path: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            for path, data in sorted(files.items())
        },
    }


def zip_bytes(prefix: str, files: dict[str, bytes], epoch: int) -> bytes:
    """A deterministic zip: sorted entries, fixed times and permissions."""
    stamp = time.gmtime(epoch)[:6]
    path = tempfile.SpooledTemporaryFile()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(f"{prefix}/{name}", date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            zf.writestr(info, files[name])
    path.seek(0)
    return path.read()


def _files_match(folder: Path, files: dict[str, bytes]) -> bool:
    """Whether every file in the package folder still has the bytes it should (none edited by hand)."""
    try:
        return all((folder / name).read_bytes() == data for name, data in files.items())
    except OSError:
        return False


@dataclass
class PackageResult:
    folder: Path
    zip: Path
    unchanged: bool  # the same version with the same files was already there


def write_package(program_id: str, version: str, manifest: dict, files: dict[str, bytes],
                  config: BuildConfig, diags: Diagnostics, display: str) -> PackageResult | None:
    """Write the package and its zip; None (with a diagnostic) when a release is refused."""
    out = config.out
    folder = out / program_id / version
    zip_path = out / f"{program_id}-{version}.zip"
    all_files = dict(files) | {"manifest.json": dumps(manifest)}
    old_manifest = folder / "manifest.json"
    if old_manifest.is_file():
        try:
            previous = json.loads(old_manifest.read_text("utf-8"))
        except (OSError, ValueError):
            previous = None
        same = previous is not None and previous.get("files") == manifest["files"]
        # Skip only when the whole manifest is the same: a new base section (overlays) or
        # builder version must rewrite manifest.json and the zip even if no file changed.
        if previous == manifest and zip_path.is_file() and _files_match(folder, files):
            return PackageResult(folder, zip_path, unchanged=True)
        if config.release and not same:
            major, minor, patch = (version.split("-")[0].split("+")[0].split(".") + ["0", "0"])[:3]
            diags.add("PACKAGE-001", display, program=program_id, version=version,
                      next=f"{major}.{minor}.{int(patch) + 1}")
            return None

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=folder.parent))
    try:
        for name, data in sorted(all_files.items()):
            target = tmp / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        archive = zip_bytes(f"{program_id}/{version}", all_files, config.source_date_epoch)
        tmp_zip = zip_path.with_name(f".{zip_path.name}.tmp")
        tmp_zip.write_bytes(archive)
        old = None
        if folder.exists():
            old = folder.with_name(f".{version}.old")
            shutil.rmtree(old, ignore_errors=True)
            folder.rename(old)
        tmp.rename(folder)
        os.replace(tmp_zip, zip_path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return PackageResult(folder, zip_path, unchanged=False)
