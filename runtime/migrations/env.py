"""Alembic environment: migrations run on the connection that `Database.migrate()` passes in.

Started only by the runtime at start (there is no alembic.ini); offline SQL
generation is not supported.
"""

from __future__ import annotations

from alembic import context

from runtime.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations through runtime.db.Database.migrate(), which passes a connection.")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
