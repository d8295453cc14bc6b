"""Alembic environment: run by ``refundgate init`` and on the first ``serve``.

PostgreSQL is reached through asyncpg (the driver the store itself uses), so
its migrations run on SQLAlchemy's async engine; SQLite's on the stdlib driver.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection, create_engine, pool
from sqlalchemy.ext.asyncio import create_async_engine

from refundgate.store.schema import metadata

url = context.config.get_main_option("sqlalchemy.url")
if url is None:  # pragma: no cover - migrate() always sets it
    raise RuntimeError("sqlalchemy.url is not set")


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_async(async_url: str) -> None:
    engine = create_async_engine(async_url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_migrations)
            await connection.commit()
    finally:
        await engine.dispose()


if "+asyncpg" in url:
    asyncio.run(run_migrations_async(url))
else:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as sync_connection:
        run_migrations(sync_connection)
    engine.dispose()
