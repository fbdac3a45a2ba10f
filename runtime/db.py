"""The database: engine set-up per backend, migrations at start, one unit of work per request.

SQLite (the default) runs in WAL mode with synchronous=FULL (a committed answer
survives a power cut) and foreign keys on. Every transaction is BEGIN IMMEDIATE,
because nearly every request writes (the access log), and a read transaction that
later wants to write fails at once in WAL mode when another writer got in between.
Writers queue on a lock instead of on SQLite's busy handler, whose sleeps (up to
100 ms each) would dominate the latency: a thread lock inside the process, and an
flock on `<database>.lock` between the processes of `--workers`. The busy timeout
stays as the last line of defence (another program writing the file). PostgreSQL
needs none of this.

Must not: keep sessions or engines in module globals (the app owns its Database).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: How long a request waits for the SQLite write lock before giving up (seconds).
LOCK_TIMEOUT = 30.0
#: Arbitrary constant: the advisory lock that makes concurrent starts migrate one at a time.
_PG_MIGRATION_LOCK = 0x5747_5649


class WriteLock:
    """One writer at a time: a thread lock, then an flock on a file beside the database.

    The kernel drops an flock when its process dies, so a crashed worker never blocks the others.
    """

    def __init__(self, path: Path | None) -> None:
        self._thread_lock = threading.Lock()
        self._path = path
        self._fd: int | None = None

    def acquire(self, timeout: float) -> bool:
        """Take the lock (False when the thread lock was not had in time)."""
        if not self._thread_lock.acquire(timeout=timeout):
            return False
        if self._path is not None:
            import fcntl
            import os

            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        return True

    def release(self) -> None:
        """Give the lock back."""
        if self._fd is not None:
            import fcntl

            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread_lock.release()

    def close(self) -> None:
        """Close the lock file (it is opened again when needed)."""
        if self._fd is not None:
            import os

            os.close(self._fd)
            self._fd = None


class DatabaseBusy(RuntimeError):
    """The write lock could not be had in time (overload); the request fails, nothing is half-written."""


def normalise_url(url: str) -> str:
    """Use psycopg 3 for a plain postgresql:// URL (psycopg2 is not a dependency)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


class Database:
    """One engine and its session factory; `unit_of_work()` gives a request its session."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        parsed = make_url(self.url)
        self.backend = parsed.get_backend_name()
        self.write_lock: WriteLock | None = None
        if self.backend == "sqlite":
            lock_file = None
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
                lock_file = Path(parsed.database + ".lock")
            args = {"check_same_thread": False, "timeout": LOCK_TIMEOUT}
            # Pools as large as the server's worker threads, so a request never waits for a connection.
            self.engine = create_engine(self.url, connect_args=args, pool_size=16, max_overflow=48)
            self.write_lock = WriteLock(lock_file)
            _configure_sqlite(self.engine, self.write_lock)
            self.read_engine = create_engine(self.url, connect_args=args, pool_size=16, max_overflow=48)
            _configure_sqlite(self.read_engine, None)
        else:
            self.engine = create_engine(self.url, pool_pre_ping=True, pool_size=10, max_overflow=40)
            self.read_engine = self.engine
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        #: Read-only lookups that must not take the write lock (the session cookie, before the route runs).
        self.reads = sessionmaker(self.read_engine, expire_on_commit=False)

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (run at every start)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            if self.backend == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session outside a request (seeding, scripts): commits on success, rolls back on error."""
        with self.sessions() as s:
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise

    def dispose(self) -> None:
        """Close every pooled connection (at shutdown, or to simulate a restart in tests)."""
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()
        if self.write_lock is not None:
            self.write_lock.close()


def _configure_sqlite(engine: Engine, lock: WriteLock | None) -> None:
    """Pragmas on every connection; with a lock, every transaction is a locked BEGIN IMMEDIATE.

    Without a lock (the read engine) connections stay in autocommit: each SELECT sees
    the last committed state, and nothing is ever written through them.
    """
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(LOCK_TIMEOUT * 1000)}")
        cursor.close()

    if lock is None:
        return

    @event.listens_for(engine, "begin")
    def on_begin(connection) -> None:
        record = connection.connection._connection_record
        if not record.info.get("locked"):
            if not lock.acquire(timeout=LOCK_TIMEOUT):
                raise DatabaseBusy("SQLite write lock not acquired in time")
            record.info["locked"] = True
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    def release(_dbapi_connection, record, *_args) -> None:
        # The connection went back to the pool: its transaction is over.
        if record is not None and record.info.pop("locked", False):
            lock.release()

    event.listen(engine.pool, "checkin", release)
    event.listen(engine.pool, "invalidate", release)
    event.listen(engine.pool, "soft_invalidate", release)
