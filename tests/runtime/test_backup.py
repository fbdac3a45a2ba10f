"""Issue 14: backups of the SQLite database while the runtime works, and a tested restore.

A backup taken while submissions keep coming holds every submission acknowledged before it
began, is a consistent database (integrity and foreign keys checked), and restores into a
runtime that shows those answers. Bad input (another backend, a damaged or foreign file)
is refused with a Swedish message and exit code 2, never a traceback.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from builder.cli import main
from runtime.app import create_app
from runtime.backup import BackupError, backup, restore
from runtime.models import FormSubmission
from tests.runtime.conftest import Browser, make_settings, seed

FORM = "/moment/{e}/steg/start/mitt-mal/formular/mal"


def submission_ids(path: Path) -> set[int]:
    with sqlite3.connect(path) as db:
        return {row[0] for row in db.execute("SELECT id FROM form_submissions")}


def test_backup_under_load__holds_every_acknowledged_submission_and_restores(packages, sqlite_url, clock, tmp_path):
    app = create_app(make_settings(packages, sqlite_url), clock=clock, migrate=False)
    people = seed(app)
    anna = Browser(app)
    assert anna.login("anna").status_code == 303
    acknowledged: list[float] = []  # when each submission was answered with 303
    stop = threading.Event()

    def submit() -> None:
        n = 0
        while not stop.is_set() and n < 200:
            n += 1
            response = anna.post(FORM.format(e=people.enrolment_a), {"_action": "submit", "mal": f"Mål {n}"})
            assert response.status_code == 303
            acknowledged.append(time.monotonic())

    writer = threading.Thread(target=submit)
    writer.start()
    try:
        while len(acknowledged) < 10:
            time.sleep(0.01)
        started = time.monotonic()
        before = sum(1 for t in acknowledged if t < started)
        (tmp_path / "kopior").mkdir()
        target = backup(sqlite_url, tmp_path / "kopior")  # a folder: the file is named after the database
        after = len(acknowledged)
        while len(acknowledged) < after + 3 and writer.is_alive():
            time.sleep(0.01)  # the runtime keeps answering after the backup
    finally:
        stop.set()
        writer.join()
        anna.close()
        app.state.stegvis.db.dispose()
    assert target == tmp_path / "kopior" / "runtime-backup.sqlite3"
    in_backup = submission_ids(target)
    assert before <= len(in_backup) < len(acknowledged) and before >= 10
    assert in_backup == set(range(1, len(in_backup) + 1))  # a prefix of the acknowledged ones, none half-written

    restored_url = f"sqlite:///{tmp_path / 'aterlast.sqlite3'}"
    restore(restored_url, target)
    again = create_app(make_settings(packages, restored_url), clock=clock, migrate=False)
    try:
        with again.state.stegvis.db.session() as db:
            assert len(db.scalars(select(FormSubmission)).all()) == len(in_backup)
        anna = Browser(again)
        assert anna.login("anna").status_code == 303
        page = anna.get(f"/moment/{people.enrolment_a}/steg/start/mitt-mal").text
        assert f"Mål {len(in_backup)}" in page and f"Mål {len(in_backup) + 1}<" not in page
        anna.close()
    finally:
        again.state.stegvis.db.dispose()


def test_backup_cli__writes_a_checked_copy__ok(sqlite_url, tmp_path, capsys):
    assert main(["runtime", "backup", str(tmp_path / "kopia.sqlite3"), "--database", sqlite_url]) == 0
    assert "kontrollerad" in capsys.readouterr().err
    with sqlite3.connect(tmp_path / "kopia.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT count(*) FROM alembic_version").fetchone()[0] == 1


@pytest.mark.parametrize(("content", "words"), [
    (b"inte en databas" * 100, "ingen läsbar SQLite-databas"),
    (None, "ingen Stegvis-databas"),
])
def test_restore__refuses_a_damaged_or_foreign_file__error(sqlite_url, tmp_path, capsys, content, words):
    bad = tmp_path / "fel.sqlite3"
    if content is None:
        with sqlite3.connect(bad) as db:
            db.execute("CREATE TABLE t (x)")
    else:
        bad.write_bytes(content)
    before = Path(sqlite_url.removeprefix("sqlite:///")).read_bytes()
    assert main(["runtime", "restore", str(bad), "--database", sqlite_url]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert Path(sqlite_url.removeprefix("sqlite:///")).read_bytes() == before  # nothing replaced


def test_backup__postgresql_and_missing_database__refused_with_advice__error(tmp_path):
    with pytest.raises(BackupError, match="pg_dump"):
        backup("postgresql://u:p@127.0.0.1/db", tmp_path / "x")
    with pytest.raises(BackupError, match="finns inte"):
        backup(f"sqlite:///{tmp_path / 'saknas.sqlite3'}", tmp_path / "x")
    with pytest.raises(BackupError, match="skrivas över"):
        path = tmp_path / "db.sqlite3"
        sqlite3.connect(path).close()
        backup(f"sqlite:///{path}", path)
