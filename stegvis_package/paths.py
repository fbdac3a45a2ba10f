"""Where things live in a package, and which paths a package may hold.

Every reader asks `is_safe_path` before it touches a path named by a manifest, so a
package can never make a reader leave its folder or zip.
"""

from __future__ import annotations

import re

MANIFEST = "manifest.json"
SIGNATURE = "manifest.json.sig"
PROGRAM = "program.json"
#: Files a package may hold besides those its manifest lists.
UNLISTED = frozenset({MANIFEST, SIGNATURE})
#: The folder holding the program's sources (an overlay's: resolved).
SOURCE_DIR = "source"
#: The folder of step fragments: the body of each step as HTML parts and form slots.
FRAGMENTS_DIR = "fragments"

_SEGMENT = re.compile(r"^[A-Za-z0-9._-]+$")


def is_safe_path(rel: str) -> bool:
    """A relative POSIX path of plain segments (letters, digits, . _ -), never . or .., never absolute."""
    if not isinstance(rel, str) or not rel or rel.startswith("/") or "\\" in rel:
        return False
    # Split by hand: PurePosixPath would quietly drop "." and empty segments.
    return all(_SEGMENT.match(p) and p not in (".", "..") for p in rel.split("/"))


def fragment_path(module_id: str, step_id: str) -> str:
    """The package path of a step's fragment."""
    return f"{FRAGMENTS_DIR}/{module_id}/{step_id}.json"
