"""Fixtures of the runtime suite (issue #8).

Layers: a package built from tests/fixtures/minimal (audio and PDFs off) -> a
database per backend (SQLite always; PostgreSQL when STEGVIS_TEST_POSTGRES_URL
names a server, as .ci/run does) -> an app with a pinned clock -> seeded people
(a unit, a therapist, patients A and B enrolled in the test program) -> clients
logged in as each of them.

The time is pinned to Monday 2 March 2026, 09:00 UTC (10:00 in Stockholm); the
test program's "steg" plan (Monday and Wednesday 19:00, window 2 days) starts on
the Monday before, 23 February.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from builder.config import BuildConfig
from builder.diagnostics import Diagnostics
from builder.pipeline import build_dir
from runtime.app import create_app
from runtime.clock import FixedClock
from runtime.db import Database, normalise_url
from runtime.enrolments import create_enrolment
from runtime.models import Base, Role, Unit, UnitRole, User, UserKind
from runtime.settings import Argon2Params, RuntimeSettings

ROOT = Path(__file__).resolve().parents[2]
PG_ENV = "STEGVIS_TEST_POSTGRES_URL"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PLAN_START = date(2026, 2, 23)
FAST_HASH = Argon2Params(time_cost=1, memory_cost=8, parallelism=1)
PASSWORD = "losen-ord-123"


def build_package(source: Path, out: Path) -> Path:
    """Build a program folder into `out` without audio or PDFs; returns the package folder."""
    diags = Diagnostics()
    outcome = build_dir(source, BuildConfig(out=out, audio=False, pdf=False, source_date_epoch=1700000000), diags)
    assert outcome.package is not None, [str(d) for d in diags.items]
    return outcome.package.folder


def build_fixture_packages(out: Path, *fixtures: str) -> Path:
    """Build tests/fixtures/<name> for each name into `out` as package folders (no zips)."""
    for name in fixtures:
        build_package(ROOT / "tests" / "fixtures" / name, out)
    for zip_file in out.glob("*.zip"):
        zip_file.unlink()
    return out


@pytest.fixture(scope="session")
def built_packages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A package folder holding the minimal test program, built once per run (read-only for tests)."""
    return build_fixture_packages(tmp_path_factory.mktemp("packages"), "minimal")


@pytest.fixture
def packages(built_packages: Path, tmp_path: Path) -> Path:
    """A private copy of the built packages, which a test may tamper with."""
    target = tmp_path / "packages"
    shutil.copytree(built_packages, target)
    return target


@pytest.fixture(scope="session")
def framat_packages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """FRAMÅT itself (content/), built once per run without audio or PDFs."""
    out = tmp_path_factory.mktemp("framat")
    build_package(ROOT / "content", out)
    return out


# --- databases -----------------------------------------------------------------------------------


class PostgresServer:
    """One scratch database on the configured server for the whole run, emptied between tests."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = normalise_url(admin_url)
        self.name = f"stegvis_test_{uuid.uuid4().hex[:10]}"
        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{self.name}"'))
        admin.dispose()
        self.url = self.admin_url.rsplit("/", 1)[0] + f"/{self.name}"
        db = Database(self.url)
        db.migrate()
        db.dispose()

    def reset(self) -> None:
        """Empty every table (the access log's truncate guard is lifted for the moment)."""
        engine = create_engine(self.url)
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with engine.begin() as c:
            c.execute(text("ALTER TABLE access_log DISABLE TRIGGER access_log_no_truncate"))
            c.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            c.execute(text("ALTER TABLE access_log ENABLE TRIGGER access_log_no_truncate"))
        engine.dispose()

    def drop(self) -> None:
        """Drop the scratch database."""
        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer | None]:
    """The PostgreSQL scratch database, or None when no server is configured."""
    url = os.environ.get(PG_ENV, "").strip()
    if not url:
        yield None
        return
    server = PostgresServer(url)
    yield server
    server.drop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("sqlite") / "template.sqlite3"
    db = Database(f"sqlite:///{path}")
    db.migrate()
    db.dispose()  # the last connection to close checkpoints the WAL into the file
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A fresh, migrated database of each backend (PostgreSQL skipped when not configured)."""
    if request.param == "sqlite":
        target = tmp_path / "runtime.sqlite3"
        shutil.copyfile(sqlite_template, target)
        return f"sqlite:///{target}"
    server: PostgresServer | None = request.getfixturevalue("postgres")
    if server is None:
        pytest.skip(f"no PostgreSQL server configured: set {PG_ENV} (.ci/run does)")
    server.reset()
    return server.url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A fresh SQLite database, for tests that are about one backend only."""
    target = tmp_path / "runtime.sqlite3"
    shutil.copyfile(sqlite_template, target)
    return f"sqlite:///{target}"


# --- the app and its people ----------------------------------------------------------------------


@pytest.fixture
def clock() -> FixedClock:
    """The app's clock, pinned to NOW; tests move it."""
    return FixedClock(NOW)


def make_settings(packages: Path, database_url: str, **extra) -> RuntimeSettings:
    """Test settings: local accounts on, cheap password hashes, and the runtime's secret under the temp folder."""
    extra.setdefault("secret_key_file", Path(tempfile.gettempdir()) / f"stegvis-test-{os.getpid()}" / "secret.key")
    extra.setdefault("local_accounts", True)
    extra.setdefault("argon2", FAST_HASH)
    return RuntimeSettings(packages=packages, database_url=database_url, **extra)


@dataclass
class People:
    """Ids of what `seed` made."""

    unit: int
    other_unit: int
    therapist: int
    other_therapist: int
    patient_a: int
    patient_b: int
    enrolment_a: int
    enrolment_b: int
    plans_a: dict[str, int]
    plans_b: dict[str, int]
    #: Staff of the unit by role (issue #9): a second therapist with no enrolments, a citizen
    #: administrator, an access administrator and a data administrator (each with that role only).
    colleague: int = 0
    citizen_admin: int = 0
    access_admin: int = 0
    data_admin: int = 0


def seed(app) -> People:
    """A unit with a therapist, two patients each enrolled in the test program, plans activated."""
    state = app.state.stegvis
    package = state.store.get("testprogram", "0.1.0")
    now = state.clock.now()
    with state.db.session() as db:
        unit, other = Unit(name="Hälsocentralen Test", created_at=now), Unit(name="Annan enhet", created_at=now)
        therapist = User(kind=UserKind.staff, display_name="Tove Test", created_at=now)
        other_therapist = User(kind=UserKind.staff, display_name="Olle Annan", created_at=now)
        a = User(kind=UserKind.citizen, display_name="Anna Test", personal_number="191212121212", created_at=now)
        b = User(kind=UserKind.citizen, display_name="Bertil Test", personal_number="197010632391", created_at=now)
        db.add_all([unit, other, therapist, other_therapist, a, b])
        db.flush()
        db.add(UnitRole(user_id=therapist.id, unit_id=unit.id, role=Role.therapist, granted_at=now))
        db.add(UnitRole(user_id=therapist.id, unit_id=unit.id, role=Role.access_admin, granted_at=now))
        db.add(UnitRole(user_id=other_therapist.id, unit_id=other.id, role=Role.therapist, granted_at=now))
        staff = {name: User(kind=UserKind.staff, display_name=display, created_at=now)
                 for name, display in (("tim", "Tim Kollega"), ("cissi", "Cissi Invånaradmin"),
                                       ("agnes", "Agnes Behörighet"), ("dan", "Dan Data"))}
        db.add_all(staff.values())
        db.flush()
        for name, role in (("tim", Role.therapist), ("cissi", Role.citizen_admin), ("agnes", Role.access_admin),
                           ("dan", Role.data_admin)):
            db.add(UnitRole(user_id=staff[name].id, unit_id=unit.id, role=role, granted_at=now))
        for user, name in ((therapist, "tove"), (other_therapist, "olle"), (a, "anna"), (b, "bertil"),
                           *((u, n) for n, u in staff.items())):
            state.local_accounts.set_password(db, user, name, PASSWORD, now)
        enrolments = []
        for patient in (a, b):
            e = create_enrolment(db, patient, unit, package, now, therapist=therapist, started_by=therapist)
            for plan in e.plans:
                plan.start_date, plan.activated = PLAN_START, True
            enrolments.append(e)
        db.flush()
        people = People(unit.id, other.id, therapist.id, other_therapist.id, a.id, b.id, enrolments[0].id,
                        enrolments[1].id, {p.plan_id: p.id for p in enrolments[0].plans},
                        {p.plan_id: p.id for p in enrolments[1].plans}, staff["tim"].id, staff["cissi"].id,
                        staff["agnes"].id, staff["dan"].id)
    return people


def app_routes() -> list:
    """Every route of the runtime's pages and API (FastAPI includes routers lazily, so ask them)."""
    from runtime import api, pages, staff

    def flat(routes) -> list:
        out = []
        for r in routes:
            inner = getattr(r, "original_router", None)
            out.extend(flat(inner.routes) if inner is not None else [r])
        return out

    return flat(pages.router.routes) + flat(api.router.routes) + flat(staff.router.routes)


CSRF_FIELD = re.compile(r'name="_csrf" value="([^"]+)"')


class Browser:
    """A TestClient with the steps a person takes: log in, read the CSRF token off a page, post."""

    def __init__(self, app) -> None:
        from fastapi.testclient import TestClient

        # Entered once: one event loop for all requests, instead of one per request.
        self.client = TestClient(app, base_url="https://testserver", follow_redirects=False).__enter__()
        self.csrf = ""

    def close(self) -> None:
        """Stop the client's event loop."""
        self.client.__exit__(None, None, None)

    def login(self, username: str, password: str = PASSWORD):
        """Log in through the login page; returns the login POST's response."""
        page = self.client.get("/logga-in")
        token = CSRF_FIELD.search(page.text).group(1)
        response = self.client.post("/logga-in", data={"_csrf": token, "username": username, "password": password})
        if response.status_code == 303:
            self.csrf = self.client.get("/api/v1/session").json()["csrf_token"]
        return response

    def get(self, url: str, **kw):
        """GET."""
        return self.client.get(url, **kw)

    def post(self, url: str, data: dict | None = None, **kw):
        """A page form POST with the CSRF token."""
        return self.client.post(url, data={"_csrf": self.csrf, **(data or {})}, **kw)

    def api(self, method: str, url: str, json=None, **kw):
        """A JSON API call with the CSRF header."""
        headers = {"X-CSRF-Token": self.csrf, **kw.pop("headers", {})}
        return self.client.request(method, url, json=json, headers=headers, **kw)


@pytest.fixture
def app(packages: Path, database_url: str, clock: FixedClock):
    """An app on a fresh database of each backend, with the test package.

    The database comes migrated (the template, the scratch database), so the app skips
    migrating; starting with migrations is tested in test_migrations and test_restart.
    """
    application = create_app(make_settings(packages, database_url), clock=clock, migrate=False)
    yield application
    application.state.stegvis.db.dispose()


@pytest.fixture
def people(app) -> People:
    """The seeded unit, therapist and patients."""
    return seed(app)


@pytest.fixture
def anna(app, people) -> Iterator[Browser]:
    """Patient A, logged in."""
    b = Browser(app)
    assert b.login("anna").status_code == 303
    yield b
    b.close()


@pytest.fixture
def bertil(app, people) -> Iterator[Browser]:
    """Patient B, logged in."""
    b = Browser(app)
    assert b.login("bertil").status_code == 303
    yield b
    b.close()


@pytest.fixture
def login_as(app, people) -> Iterator:
    """A factory: `login_as("cissi")` gives a logged-in Browser (closed after the test).

    Accounts: tove (therapist + access admin, therapist of A and B), tim (therapist, no
    enrolments), cissi (citizen admin), agnes (access admin), dan (data admin), olle
    (therapist in the other unit), anna and bertil (patients).
    """
    opened: list[Browser] = []

    def login(name: str) -> Browser:
        b = Browser(app)
        assert b.login(name).status_code == 303, name
        opened.append(b)
        return b

    yield login
    for b in opened:
        b.close()


@pytest.fixture
def tove(app, people) -> Iterator[Browser]:
    """The therapist, logged in."""
    b = Browser(app)
    assert b.login("tove").status_code == 303
    yield b
    b.close()
