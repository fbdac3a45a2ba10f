"""Default build settings that need no imports beyond the standard library.

Kept apart from `builder.config` (a pydantic model) so that the command line can tell
that nothing changed since the last build without importing pydantic (issue #7).
Must not import anything from the compiler.
"""

from __future__ import annotations

import os
from pathlib import Path


def _templates() -> Path:
    """The repository's templates/ when Stegvis runs from a checkout (editable install, build.py,
    a worktree), else the copy an installed wheel holds as the package stegvis_templates."""
    root = Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file() and (root / "templates").is_dir():
        return root / "templates"
    from importlib.resources import files

    return Path(str(files("stegvis_templates")))


#: Where the templates and stylesheets live (the runtime's are in its runtime/ folder).
TEMPLATES = _templates()

#: Frame height of films made from storyboards (16:9: 540 gives 960x540; issue 17).
FILM_HEIGHT = 540

#: 1980-01-01, the earliest time a zip entry can carry; used when SOURCE_DATE_EPOCH is unset.
ZIP_EPOCH = 315532800


def source_date_epoch() -> int:
    """SOURCE_DATE_EPOCH from the environment (reproducible builds), else 1980-01-01."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    return max(int(value), ZIP_EPOCH) if value.isdigit() else ZIP_EPOCH
