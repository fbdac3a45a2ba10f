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
