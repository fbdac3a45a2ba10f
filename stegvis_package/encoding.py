"""How the package's JSON files are written: the same bytes for the same data."""

from __future__ import annotations

import json


def dumps(data: object) -> bytes:
    """Stable JSON bytes: UTF-8, indented, newline at the end."""
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
