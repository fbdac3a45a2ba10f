"""One reader for a package folder or zip.

A folder is `<program-id>/<version>/` as the builder writes it; a zip holds the same files
under `<program-id>/<version>/`. The reader only lists and reads: whether the files are
what the manifest says is `stegvis_package.verify`'s business.
"""

from __future__ import annotations

import hashlib
import os
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from stegvis_package.paths import MANIFEST


class NotAPackage(Exception):
    """A path that is no package folder or zip (Swedish reason)."""


@dataclass(frozen=True)
class FileFacts:
    """What a file was when it was hashed: size, sha256, and (folders) its modification time."""

    size: int
    sha256: str
    mtime_ns: int = 0


class PackageReader:
    """Lists and reads the files of one package, by path relative to the package root."""

    #: How the package is named in messages.
    name: str

    def names(self) -> list[str]:
        """Every file (not folder) in the package, sorted."""
        raise NotImplementedError

    def read(self, rel: str) -> bytes | None:
        """A file's bytes; None when it is missing, not a regular file, or unreadable."""
        raise NotImplementedError

    def facts(self, rel: str) -> FileFacts | None:
        """Size and sha256 of a file, read in chunks; None as for `read`."""
        data = self.read(rel)
        return None if data is None else FileFacts(len(data), hashlib.sha256(data).hexdigest())

    def close(self) -> None:
        """Release the open zip, if any."""

    def __enter__(self) -> PackageReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class FolderReader(PackageReader):
    """A package folder. Symbolic links and special files are listed but never read."""

    def __init__(self, root: Path, name: str | None = None) -> None:
        self.root = Path(root)
        self.name = name or f"{self.root.parent.name}/{self.root.name}"

    def names(self) -> list[str]:
        out = []
        for folder, dirs, files in os.walk(self.root):
            base = Path(folder)
            # A symlinked folder is listed as a file, so that verification refuses it.
            out += [(base / d).relative_to(self.root).as_posix() for d in dirs if (base / d).is_symlink()]
            out += [(base / f).relative_to(self.root).as_posix() for f in files]
            dirs[:] = [d for d in dirs if not (base / d).is_symlink()]
        return sorted(out)

    def _regular(self, rel: str) -> Path | None:
        path = self.root / rel
        try:
            info = path.lstat()
        except OSError:
            return None
        return path if stat.S_ISREG(info.st_mode) else None

    def read(self, rel: str) -> bytes | None:
        path = self._regular(rel)
        try:
            return path.read_bytes() if path is not None else None
        except OSError:
            return None

    def facts(self, rel: str) -> FileFacts | None:
        path = self._regular(rel)
        if path is None:
            return None
        digest = hashlib.sha256()
        try:
            with path.open("rb") as fh:
                before = os.fstat(fh.fileno())
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
        except OSError:
            return None
        return FileFacts(before.st_size, digest.hexdigest(), before.st_mtime_ns)


class ZipReader(PackageReader):
    """A package zip; entries are read relative to the folder that holds manifest.json."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.name = self.path.name
        try:
            self._zip = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise NotAPackage(f"zip-filen går inte att läsa ({exc})") from exc
        entries = [n for n in self._zip.namelist() if not n.endswith("/")]
        manifests = sorted((n for n in entries if PurePosixPath(n).name == MANIFEST), key=lambda n: (n.count("/"), n))
        self.prefix = manifests[0][: -len(MANIFEST)] if manifests else ""
        # Entries outside the package folder keep a ../ so that verification refuses them.
        self._names = sorted(n[len(self.prefix):] if n.startswith(self.prefix) else f"../{n}" for n in entries)

    def names(self) -> list[str]:
        return list(self._names)

    def read(self, rel: str) -> bytes | None:
        try:
            return self._zip.read(self.prefix + rel)
        except (KeyError, zipfile.BadZipFile, zlib.error, OSError):  # missing, or a changed byte in the entry
            return None

    def close(self) -> None:
        self._zip.close()


def open_package(path: Path) -> PackageReader:
    """A reader for a package folder or zip. Raises NotAPackage (Swedish reason) for anything else."""
    path = Path(path)
    if path.is_dir():
        if not (path / MANIFEST).is_file():
            raise NotAPackage(f"{MANIFEST} saknas")
        return FolderReader(path)
    if not path.exists():
        raise NotAPackage("finns inte")
    if not zipfile.is_zipfile(path):
        raise NotAPackage("är varken en paketmapp eller en zip-fil")
    reader = ZipReader(path)
    if MANIFEST not in reader.names():
        reader.close()
        raise NotAPackage(f"{MANIFEST} saknas")
    return reader


class MemoryReader(PackageReader):
    """A package that is not written yet: path -> bytes (a build's rendered files)."""

    def __init__(self, name: str, files: dict[str, bytes]) -> None:
        self.name = name
        self._files = files

    def names(self) -> list[str]:
        return sorted(self._files)

    def read(self, rel: str) -> bytes | None:
        return self._files.get(rel)
