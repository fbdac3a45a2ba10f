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
import os
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from builder import __version__
from builder.config import BuildConfig
from builder.diagnostics import Diagnostics
from stegvis_package import PACKAGE_FORMAT
from stegvis_package.encoding import dumps
from stegvis_package.model import Audience, Fragment, Manifest, ProgramData
from stegvis_package.paths import MANIFEST, PROGRAM, SOURCE_DIR
from stegvis_package.reader import FolderReader
from stegvis_package.verify import PackageInvalid, read_manifest
from stegvis_package.versions import next_patch

__all__ = ["dumps", "file_audiences", "make_manifest", "write_package", "zip_bytes"]

#: Program-wide files a patient may have besides those of steps and modules.
PATIENT_ASSETS = ("assets/",)


def file_audiences(files: dict[str, bytes]) -> dict[str, dict]:
    """Whom each file is for, and the step or module a patient file belongs to.

    Read from program.json (each step's fragment, readout and PDF; each module's PDF; the
    patient brochure) and the fragments (the media each step shows). Every other file is
    staff-only (program.json, the therapist guide, the program PDF with every step, the
    reviewers' pages, FHIR), and `source/` is source: what is not named as the patient's
    never reaches one.
    """
    out: dict[str, dict] = {}
    data = ProgramData.model_validate_json(files[PROGRAM]) if PROGRAM in files else None
    used_by: dict[str, list[str]] = {}
    if data is not None:
        for module in data.modules:
            if module.pdf:
                out[module.pdf] = {"audience": Audience.PATIENT, "module": module.id}
            for step in module.steps:
                key = f"{module.id}/{step.id}"
                own = [step.fragment, step.pdf] + ([step.readout.mp3, step.readout.cues] if step.readout else [])
                out |= {rel: {"audience": Audience.PATIENT, "step": key} for rel in own if rel}
                if step.fragment in files:
                    for media in Fragment.model_validate_json(files[step.fragment]).media:
                        used_by.setdefault(media, []).append(key)
        if data.pdf is not None:
            out[data.pdf.brochure] = {"audience": Audience.PATIENT}
    for rel in files:
        if rel in out:
            continue
        if rel.startswith(f"{SOURCE_DIR}/"):
            out[rel] = {"audience": Audience.SOURCE}
        elif rel in used_by:
            out[rel] = {"audience": Audience.PATIENT, "used_by": sorted(set(used_by[rel]))}
        elif rel.startswith("media/") or rel.startswith(PATIENT_ASSETS):
            out[rel] = {"audience": Audience.PATIENT}  # stylesheet, player, media of forms
        else:
            out[rel] = {"audience": Audience.STAFF}
    return out


def make_manifest(program_id: str, version: str, title: str, content_hash: str, files: dict[str, bytes],
                  extra: dict | None = None) -> dict:
    """The manifest: identity, source hash, and sha256, size and audience of every file.

    Built through the package model, so a manifest the readers would refuse is never written.
    """
    audiences = file_audiences(files)
    manifest = Manifest.model_validate({
        "format": PACKAGE_FORMAT,
        "program": {"id": program_id, "version": version, "title": title},
        "builder": {"name": "stegvis", "version": __version__},
        "content_hash": content_hash,
        **(extra or {}),
        "files": {
            path: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)} | audiences[path]
            for path, data in sorted(files.items())
        },
    })
    return manifest.model_dump(mode="json", exclude_none=True)


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
    all_files = dict(files) | {MANIFEST: dumps(manifest)}
    if (folder / MANIFEST).is_file():
        try:
            previous = read_manifest(FolderReader(folder))[0].model_dump(mode="json", exclude_none=True)
        except PackageInvalid:  # unreadable, or another package format: not the same package
            previous = None
        same = previous is not None and previous["files"] == manifest["files"]
        # Skip only when the whole manifest is the same: a new base section (overlays) or
        # builder version must rewrite manifest.json and the zip even if no file changed.
        if previous == manifest and zip_path.is_file() and _files_match(folder, files):
            return PackageResult(folder, zip_path, unchanged=True)
        if config.release and not same:
            diags.add("PACKAGE-001", display, program=program_id, version=version, next=next_patch(version))
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
