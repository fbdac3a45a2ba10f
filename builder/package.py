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
import io
import os
import posixpath
import shutil
import struct
import tempfile
import time
import zipfile
import zlib
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


def zip_bytes(prefix: str, files: dict[str, bytes], epoch: int, reuse: Path | None = None,
              same: frozenset[str] = frozenset()) -> bytes:
    """A deterministic zip: sorted entries, fixed times and permissions.

    `reuse`: a previous zip of the same prefix. A member whose bytes are unchanged takes its
    compressed data from it instead of being compressed again (issue 16); zlib gives the same
    compressed bytes for the same input, so the zip is byte for byte what compressing gives.
    `same`: names known to have the same bytes in `reuse` (its manifest's hashes, the zip
    intact as written), whose old members are taken on their CRC and size without inflating them.
    """
    stamp = time.gmtime(epoch)[:6]
    old = _old_members(reuse, prefix) if reuse is not None else {}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(f"{prefix}/{name}", date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            data = files[name]
            raw = _same_member(old.get(info.filename), data, name in same)
            if raw is None:
                zf.writestr(info, data)
            else:
                _write_raw(zf, info, data, raw)
    return buffer.getvalue()


def _old_members(path: Path, prefix: str) -> dict[str, tuple[int, int, bytes]]:
    """name -> (CRC, size, compressed bytes) of every deflated member of a previous zip (none when unreadable)."""
    try:
        archive = path.read_bytes()
        with zipfile.ZipFile(io.BytesIO(archive)) as zf:
            infos = zf.infolist()
    except (OSError, zipfile.BadZipFile, ValueError):
        return {}
    out = {}
    for info in infos:
        if info.compress_type != zipfile.ZIP_DEFLATED or not info.filename.startswith(f"{prefix}/"):
            continue
        start = info.header_offset
        header = archive[start:start + 30]
        if len(header) < 30 or header[:4] != b"PK\x03\x04":
            continue
        name_length, extra_length = struct.unpack("<HH", header[26:30])
        begin = start + 30 + name_length + extra_length
        out[info.filename] = (info.CRC, info.file_size, archive[begin:begin + info.compress_size])
    return out


def _same_member(old: tuple[int, int, bytes] | None, data: bytes, known: bool = False) -> bytes | None:
    """The old compressed bytes when they inflate to exactly `data`, else None.

    `known`: the old member's bytes are known to be `data` (by sha256), so it is not inflated."""
    if old is None or old[1] != len(data) or old[0] != zlib.crc32(data):
        return None
    if known:
        return old[2]
    try:
        return old[2] if zlib.decompress(old[2], -15) == data else None
    except zlib.error:
        return None


def _write_raw(zf: zipfile.ZipFile, info: zipfile.ZipInfo, data: bytes, raw: bytes) -> None:
    """Append a member whose deflated bytes are known, as `ZipFile.writestr` would have written it."""
    info.file_size, info.compress_size, info.CRC, info.flag_bits = len(data), len(raw), zlib.crc32(data), 0
    zf.fp.seek(zf.start_dir)
    info.header_offset = zf.fp.tell()
    zf.fp.write(info.FileHeader(False))
    zf.fp.write(raw)
    zf.start_dir = zf.fp.tell()
    zf.filelist.append(info)
    zf.NameToInfo[info.filename] = info
    zf._didModify = True


#: With more files than this to create, two processes create them (creating a file is the dear part).
PARALLEL_FILES = 256


def _write_files(root: Path, files: dict[str, bytes], names: list[str], jobs: int) -> None:
    """Create `names` under `root`; a forked child creates every other one when there are many."""
    def write(part: list[str]) -> None:
        for name in part:
            with open(root / name, "wb") as f:
                f.write(files[name])

    if jobs < 2 or len(names) < PARALLEL_FILES or not hasattr(os, "fork"):
        write(names)
        return
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child's coverage is not collected)
        code = 1
        try:
            write(names[1::2])
            code = 0
        finally:
            os._exit(code)
    write(names[0::2])
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise OSError(f"the package writer could not write every file under {root}")


def _link_unchanged(old: Path, new: Path, files: dict[str, bytes], names: list[str],
                    known: frozenset[str] = frozenset()) -> list[str]:
    """Hard-link every file whose bytes the previous package folder already has; return the others.

    A link costs a fraction of creating and writing a file; the old folder is removed after
    the rename, so each file keeps one name. Where links are not possible, everything is written.
    `known`: names whose old bytes are known to be the new ones (by sha256), linked without reading.
    """
    rest = []
    for name in names:
        source = old / name
        try:
            if name in known:
                same = True
            else:
                with open(source, "rb") as f:
                    same = f.read() == files[name]
            if same:
                os.link(source, new / name)
                continue
        except OSError:
            pass
        rest.append(name)
    return rest


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
                  config: BuildConfig, diags: Diagnostics, display: str,
                  previous_intact: bool = False) -> PackageResult | None:
    """Write the package and its zip; None (with a diagnostic) when a release is refused.

    `previous_intact`: the package folder and zip there now are as the last build wrote them
    (`builder.state.package_intact`: every file's size and modification time as recorded), so
    its manifest's hashes say which files are unchanged without reading them (issue 16).
    """
    out = config.out
    folder = out / program_id / version
    zip_path = out / f"{program_id}-{version}.zip"
    all_files = dict(files) | {MANIFEST: dumps(manifest)}
    known: frozenset[str] = frozenset()
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
        if previous_intact and previous is not None:
            old_files, new_files = previous["files"], manifest["files"]
            known = frozenset(name for name, entry in new_files.items()
                              if name in old_files and old_files[name]["sha256"] == entry["sha256"])

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=folder.parent))
    try:
        names = sorted(all_files)
        for sub in sorted({posixpath.dirname(n) for n in names}):
            (tmp / sub).mkdir(parents=True, exist_ok=True)
        if (folder / MANIFEST).is_file():  # an incremental build: link what did not change
            names = _link_unchanged(folder, tmp, all_files, names, known)
        _write_files(tmp, all_files, names, config.jobs)
        archive = zip_bytes(f"{program_id}/{version}", all_files, config.source_date_epoch,
                            reuse=zip_path if zip_path.is_file() else None, same=known)
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
