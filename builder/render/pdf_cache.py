"""The content-addressed PDF cache of the pdf stage.

Stage 7, pdf. Input: keys, the sha256 of everything a PDF is made from (print
HTML with content-hashed media names, stylesheet, page number it starts on, builder and
WeasyPrint versions). Output: PDF bytes stored under those keys, and layout records
(which key each PDF of a laid-out program book has), so that an unchanged program is
not laid out at all.

Lives in `config.cache / "pdf"`, which CI may keep between runs. A cache that cannot be
read or written (missing, read-only, full disk) never fails a build; it only makes the
next one slower. Writes are atomic (temporary file, then rename), so a cache shared by
parallel builds never serves half a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path


def content_key(*parts: str | bytes) -> str:
    """sha256 over the parts, each length-prefixed so that no two part lists collide."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


class PdfCache:
    """PDFs by content key (`ab/abcdef….pdf`) and layout records (`records/<key>.json`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _pdf(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.pdf"

    def _record(self, key: str) -> Path:
        return self.folder / "records" / f"{key}.json"

    def get(self, key: str) -> bytes | None:
        """The PDF stored under `key`, or None."""
        try:
            return self._pdf(key).read_bytes()
        except OSError:
            return None

    def put(self, key: str, data: bytes) -> None:
        """Store a PDF under `key` (silently skipped when the cache is not writable)."""
        self._write(self._pdf(key), data)

    def get_record(self, key: str) -> dict[str, str] | None:
        """A layout record: package path -> PDF key, or None when missing or unreadable."""
        try:
            record = json.loads(self._record(key).read_text("utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or not all(isinstance(v, str) for v in record.values()):
            return None
        return record

    def put_record(self, key: str, record: dict[str, str]) -> None:
        """Store a layout record (silently skipped when the cache is not writable)."""
        self._write(self._record(key), json.dumps(record, sort_keys=True, indent=1).encode("utf-8"))

    @staticmethod
    def _write(target: Path, data: bytes) -> None:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(tmp, target)
            except OSError:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError:
            return  # a cache is an optimisation; see the module docstring
