"""Backups of the runtime's SQLite database, and their restore.

Input: the database URL and a backup path. Output: a backup file that is a complete,
consistent SQLite database, or the database restored from one.

How: SQLite's online backup API (`sqlite3.Connection.backup`) copies the database page by
page under a read transaction, so the copy is the database as it was at one instant, even
while the runtime keeps writing: every submission acknowledged before the backup began is
in it, and no half-written one. The copy is written beside the target and renamed into
place after `PRAGMA integrity_check` and `PRAGMA foreign_key_check` pass, so a failed
backup never leaves a partial file under the target's name. Restore copies a checked
backup into the database the same way, holding the runtime's write lock (the flock beside
the database) so no worker of a still-running runtime writes meanwhile; stop the runtime
first all the same, since its processes keep their own view of the old file.

PostgreSQL is backed up with its own tools (pg_dump, or base backups with WAL archiving for
point-in-time recovery); see the README. Must not: touch the access log's rows (a backup is
a copy, a restore replaces the whole file).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from runtime.db import LOCK_TIMEOUT, WriteLock, normalise_url


class BackupError(Exception):
    """A backup or restore that cannot be done; the message is Swedish, for the command line."""


def sqlite_path(url: str) -> Path:
    """The file of a SQLite URL (raises BackupError for another backend)."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite":
        raise BackupError("Säkerhetskopior med `stegvis runtime backup` görs av SQLite-databaser. "
                          "Säkerhetskopiera PostgreSQL med pg_dump eller basbackup med WAL-arkivering (se README).")
    if not parsed.database or parsed.database == ":memory:":
        raise BackupError("Databasen ligger bara i minnet och kan inte säkerhetskopieras.")
    return Path(parsed.database)


def check_database(path: Path) -> None:
    """Raise BackupError unless `path` is a SQLite database that passes its integrity and key checks."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            result = db.execute("PRAGMA integrity_check").fetchall()
            broken_keys = db.execute("PRAGMA foreign_key_check").fetchall()
            tables = db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'alembic_version'").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} är ingen läsbar SQLite-databas ({exc}).") from exc
    if result != [("ok",)]:
        raise BackupError(f"{path} är skadad: {result[0][0]}.")
    if broken_keys:
        raise BackupError(f"{path} har {len(broken_keys)} rader som pekar på rader som saknas.")
    if not tables:
        raise BackupError(f"{path} är ingen Stegvis-databas (tabellen alembic_version saknas).")


def _copy(source: Path, target: Path) -> None:
    """Copy a SQLite database with the online backup API into `target`, through a temporary file."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src, sqlite3.connect(tmp) as dst:
            src.backup(dst)  # all pages in one step: one consistent snapshot
            dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file, no -wal beside it
        check_database(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def backup(url: str, target: Path) -> Path:
    """Write a consistent copy of the runtime's SQLite database to `target`; returns it."""
    source = sqlite_path(url)
    if not source.is_file():
        raise BackupError(f"Databasen {source} finns inte.")
    target = Path(target)
    if target.is_dir():
        target = target / f"{source.stem}-backup.sqlite3"
    if target.resolve() == source.resolve():
        raise BackupError("Säkerhetskopian kan inte skrivas över själva databasen.")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        _copy(source, target)
    except sqlite3.Error as exc:
        raise BackupError(f"Säkerhetskopieringen misslyckades: {exc}.") from exc
    return target


def restore(url: str, source: Path) -> Path:
    """Replace the runtime's SQLite database with a checked backup; returns the database file."""
    target = sqlite_path(url)
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"Säkerhetskopian {source} finns inte.")
    check_database(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = WriteLock(target.with_name(target.name + ".lock"))
    if not lock.acquire(LOCK_TIMEOUT):
        raise BackupError("Databasen används: stoppa körmiljön och försök igen.")
    try:
        for suffix in ("-wal", "-shm"):  # the old file's log must not be replayed over the restored one
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        _copy(source, target)
        with sqlite3.connect(target) as db:
            db.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error as exc:
        raise BackupError(f"Återläsningen misslyckades: {exc}.") from exc
    finally:
        lock.release()
        lock.close()
    return target
