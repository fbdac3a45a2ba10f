"""Semantic versions of programs and packages, through the `semver` library.

One place for parsing, ordering and bumping, used by the builder (release checks,
version diffs) and the runtime (newest version, version moves).
"""

from __future__ import annotations

from functools import lru_cache

import semver


@lru_cache(maxsize=1024)
def parse(text: str) -> semver.Version | None:
    """A version, or None when `text` is not MAJOR.MINOR.PATCH[-pre][+build]."""
    try:
        return semver.Version.parse(text.strip())
    except (ValueError, TypeError, AttributeError):
        return None


def is_version(text: str) -> bool:
    """True when `text` is a semantic version."""
    return parse(text) is not None


def version_key(text: str) -> semver.Version:
    """A sort key with semver precedence: 1.0.0-rc.1 < 1.0.0 < 1.0.1; build metadata is ignored.

    Raises ValueError for a text that is not a version.
    """
    version = parse(text)
    if version is None:
        raise ValueError(f"not a semantic version: {text!r}")
    return version.replace(build=None)


def core(text: str) -> tuple[int, int, int]:
    """(major, minor, patch) of a version."""
    version = version_key(text)
    return version.major, version.minor, version.patch


def is_prerelease(text: str) -> bool:
    """Whether a version carries a pre-release part (1.0.0-rc.1)."""
    return version_key(text).prerelease is not None


def next_patch(text: str) -> str:
    """The next patch version of a release (1.2.3 -> 1.2.4; 1.2.3-rc.1 -> 1.2.3)."""
    return str(version_key(text).next_version("patch"))
