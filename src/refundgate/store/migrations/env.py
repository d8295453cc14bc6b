"""Alembic environment: run by ``refundgate init`` and on the first ``serve``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from refundgate.store.schema import metadata

url = context.config.get_main_option("sqlalchemy.url")
if url is None:  # pragma: no cover - migrate() always sets it
    raise RuntimeError("sqlalchemy.url is not set")

engine = create_engine(url, poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
