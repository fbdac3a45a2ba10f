"""Issue #8: the schema is the Alembic migrations' and matches the models, on both backends.

A migration that forgets a model change (or a model change without a migration)
fails here, as does a database left without the append-only access log.
"""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from runtime.db import Database
from runtime.models import Base


def test_migrated_schema__matches_the_models(database_url):
    db = Database(database_url)
    db.migrate()  # a second time: nothing to do
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
        tables = set(inspect(connection).get_table_names())
    db.dispose()
    assert differences == []
    assert {"access_log", "enrolments", "form_submissions", "registrations", "messages", "flags"} <= tables
    assert "alembic_version" in tables


def test_sqlite__wal_synchronous_full_and_foreign_keys(sqlite_url):
    db = Database(sqlite_url)
    with db.engine.connect() as connection:
        pragmas = [connection.exec_driver_sql(f"PRAGMA {p}").scalar() for p in
                   ("journal_mode", "synchronous", "foreign_keys")]
    db.dispose()
    assert pragmas == ["wal", 2, 1]  # 2 = FULL


def _upgrade(database_url: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    from runtime.db import MIGRATIONS

    db = Database(database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    db.dispose()


def test_migration_0007__existing_enrolments_read_in_swedish(tmp_path):
    """Issue 18: an enrolment from before 0007 gets language "sv" and the column refuses NULL."""
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    _upgrade(url, "0006")
    db = Database(url)
    with db.engine.begin() as c:
        c.exec_driver_sql("INSERT INTO users (id, kind, display_name, created_at) "
                          "VALUES (1, 'citizen', 'Anna', '2026-03-02 09:00:00')")
        c.exec_driver_sql("INSERT INTO units (id, name, created_at) VALUES (1, 'Enheten', '2026-03-02 09:00:00')")
        c.exec_driver_sql("INSERT INTO enrolments (id, patient_id, unit_id, program_id, program_version, status, "
                          "welcome_text, started_at) VALUES (1, 1, 1, 'testprogram', '0.1.0', 'active', '', "
                          "'2026-03-02 09:00:00')")
    db.dispose()
    _upgrade(url, "head")
    db = Database(url)
    with db.engine.connect() as c:
        assert c.exec_driver_sql("SELECT language FROM enrolments WHERE id = 1").scalar() == "sv"
        column = next(col for col in inspect(c).get_columns("enrolments") if col["name"] == "language")
    db.dispose()
    assert column["nullable"] is False
