"""Hashing for incremental builds: sha256 of bytes, of values, of files and folders.

Layer: the bottom, beside diagnostics and the readers (see DESIGN.md, "Layers"). Input:
bytes, values, paths. Output: hex digests. Imports only the standard library, so that
the command line can tell that nothing changed without importing the compiler (issue #7).
Must not import anything from the compiler.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

#: Stegvis' own code: a change to the compiler invalidates every recorded output.
CODE_ROOT = Path(__file__).resolve().parent
#: The package contract writes what the builder emits too (installed beside builder/).
CONTRACT_ROOT = CODE_ROOT.parent / "stegvis_package"
#: Folders never hashed as sources (version control, editor and tool folders).
SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"})


def sha256(data: bytes) -> str:
    """Hex sha256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def digest(*parts: object) -> str:
    """sha256 over parts (str, bytes or JSON-able values), each length-prefixed so no two lists collide."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, bytes):
            data = part
        elif isinstance(part, str):
            data = part.encode("utf-8")
        else:
            data = json.dumps(part, ensure_ascii=False, sort_keys=True, default=str).encode("utf-8")
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


def hash_tree(roots: Iterable[Path], skip: Iterable[Path] = ()) -> dict[str, str]:
    """sha256 of every file under the roots, by absolute path (tool folders and `skip` left out).

    A root that is a file (a base package zip) is hashed itself."""
    skipped = {str(p.resolve()) for p in skip}
    out: dict[str, str] = {}
    for root in roots:
        if os.path.isfile(root):  # a base package zip that an overlay extends
            with open(root, "rb") as f:
                out[str(root)] = hashlib.file_digest(f, "sha256").hexdigest()
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames
                           if d not in SKIPPED_DIRS and os.path.join(dirpath, d) not in skipped]
            for name in filenames:
                path = os.path.join(dirpath, name)
                try:
                    with open(path, "rb") as f:
                        out[path] = hashlib.sha256(f.read()).hexdigest()
                except OSError:
                    out[path] = "unreadable"
    return dict(sorted(out.items()))


def hash_folder(folder: Path, suffixes: tuple[str, ...] = (), skip: tuple[str, ...] = ()) -> str:
    """One hash over every file of a folder (relative path and bytes), e.g. the templates.

    `skip` names top-level subfolders to leave out.
    """
    parts = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if rel.parts[0] in skip:
            continue
        if path.is_file() and "__pycache__" not in path.parts and (not suffixes or path.suffix in suffixes):
            parts += [path.relative_to(folder).as_posix(), path.read_bytes()]
    return digest(*parts)


@functools.cache
def code_hash() -> str:
    """Hash of Stegvis' own Python code (the builder and the package contract), so a changed
    compiler never reuses old outputs.

    Taken once per process: the code that runs is the code imported when it started,
    whatever happens to the files later (cached as a fact of the process, not state).
    """
    return digest(hash_folder(CODE_ROOT, (".py",)), hash_folder(CONTRACT_ROOT, (".py",)))
