"""Shared set-up of the fuzz suites (issue 14): one app per test module, seeded once.

The fuzzers send hundreds of requests; a fresh database per example would cost more than
the requests themselves, so each fuzz module gets one SQLite database (a copy of the
migrated template), one app with the pinned clock and the seeded people, and logged-in
sessions. What one example writes (drafts, messages, enrolments) stays for the next: the
fuzzers must cope with any state the API can reach, which is the point.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from conftest import NOW, Browser, People, make_settings, seed

from runtime.app import create_app
from runtime.clock import FixedClock

#: The fuzzers' fixed seed: every run sends the same requests (deterministic, reproducible).
SEED = 20260302


@dataclass
class FuzzWorld:
    """An app with its seeded people and one logged-in Browser per name."""

    app: object
    people: People
    browsers: dict[str, Browser]

    def close(self) -> None:
        """Close the browsers and the database."""
        for b in self.browsers.values():
            b.close()
        self.app.state.stegvis.db.dispose()


def make_world(built_packages: Path, sqlite_template: Path, folder: Path, names: tuple[str, ...]) -> FuzzWorld:
    """An app on a fresh SQLite copy, seeded, with `names` logged in (conftest's accounts)."""
    packages = folder / "packages"
    shutil.copytree(built_packages, packages)
    database = folder / "runtime.sqlite3"
    shutil.copyfile(sqlite_template, database)
    app = create_app(make_settings(packages, f"sqlite:///{database}"), clock=FixedClock(NOW), migrate=False)
    people = seed(app)
    browsers = {}
    for name in names:
        b = Browser(app)
        assert b.login(name).status_code == 303, name
        browsers[name] = b
    return FuzzWorld(app, people, browsers)
