"""Both stores behind one fixture, so that one contract suite runs on each.

PostgreSQL: ``REFUNDGATE_TEST_DATABASE_URL`` names a database to use (``.ci/run``
creates a fresh one and drops it afterwards). Without it, the suite creates
``refundgate_test_<pid>`` on ``REFUNDGATE_TEST_PG_SERVER`` (default the local
server, ``postgresql://postgres@127.0.0.1:5432/postgres``) and drops it at the
end. Where no PostgreSQL answers, the PostgreSQL tests skip with the reason,
except under ``CI=true``, where they fail: CI must run them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest

from refundgate.ports import AdminStore
from refundgate.store.migrate import upgrade
from refundgate.store.postgres import PostgresStore
from refundgate.store.schema import metadata
from refundgate.store.sqlite import SqliteStore

T = TypeVar("T")

DEFAULT_PG_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
TABLES = [table.name for table in metadata.sorted_tables]


def _with_database(server_url: str, database: str) -> str:
    return server_url.rsplit("/", 1)[0] + "/" + database


async def _admin(server_url: str, statement: str) -> None:
    connection = await asyncpg.connect(server_url, timeout=3)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def _in_thread(work: Callable[..., T], *args: Any) -> T:
    """Run ``work`` off the event loop's thread (it may call asyncio.run itself)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(work, *args).result()


def _admin_sync(server_url: str, statement: str) -> None:
    asyncio.run(_admin(server_url, statement))


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is required under CI=true: {reason}")
    pytest.skip(f"no PostgreSQL reachable ({reason}); set REFUNDGATE_TEST_DATABASE_URL")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A migrated PostgreSQL database for this run, or a skip (a failure under CI)."""
    given = os.environ.get("REFUNDGATE_TEST_DATABASE_URL")
    server = os.environ.get("REFUNDGATE_TEST_PG_SERVER", DEFAULT_PG_SERVER)
    url = given or _with_database(server, f"refundgate_test_{os.getpid()}")
    try:
        if not given:
            name = url.rsplit("/", 1)[1]
            _in_thread(_admin_sync, server, f'DROP DATABASE IF EXISTS "{name}"')
            _in_thread(_admin_sync, server, f'CREATE DATABASE "{name}"')
        _in_thread(upgrade, url)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        _unavailable(f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # SQLAlchemy wraps the driver's error
        _unavailable(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
    yield url
    if not given:
        name = url.rsplit("/", 1)[1]
        _in_thread(_admin_sync, server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def truncate(url: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        # DELETE, not TRUNCATE: on tables this small it is several times faster.
        await connection.execute(";".join(f"DELETE FROM {table}" for table in TABLES))
    finally:
        await connection.close()


@dataclass
class Backend:
    """One store's database, seen from outside the store (raw SQL, snapshots)."""

    name: str
    url: str

    def open(self, **options: Any) -> AdminStore:
        if self.name == "sqlite":
            return SqliteStore(self.url, **options)
        return PostgresStore(self.url, **options)

    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """Rows of a query with ``?`` placeholders, as tuples."""
        if self.name == "sqlite":
            with sqlite3.connect(self.url.removeprefix("sqlite:///")) as connection:
                return [tuple(row) for row in connection.execute(sql, args).fetchall()]
        connection = await asyncpg.connect(self.url)
        try:
            rows = await connection.fetch(_numbered(sql), *args)
        finally:
            await connection.close()
        return [tuple(row) for row in rows]

    async def execute(self, sql: str, *args: Any) -> None:
        """Run one statement outside the store; the driver's own errors propagate."""
        if self.name == "sqlite":
            connection = sqlite3.connect(self.url.removeprefix("sqlite:///"))
            try:
                with connection:
                    connection.execute(sql, args)
            finally:
                connection.close()
            return
        pg = await asyncpg.connect(self.url)
        try:
            await pg.execute(_numbered(sql), *args)
        finally:
            await pg.close()

    async def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, in a stable order: to prove nothing changed."""
        return {
            table: sorted(await self.fetch(f"SELECT * FROM {table}"), key=repr) for table in TABLES
        }

    def rows_sync(self, sql: str, *args: Any) -> list[Any]:
        """Rows by column name (``row["status"]``), for synchronous test helpers."""
        if self.name == "sqlite":
            connection = sqlite3.connect(self.url.removeprefix("sqlite:///"))
            connection.row_factory = sqlite3.Row
            try:
                return connection.execute(sql, args).fetchall()
            finally:
                connection.close()
        return _in_thread(asyncio.run, self._records(sql, *args))

    async def _records(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        connection = await asyncpg.connect(self.url)
        try:
            return list(await connection.fetch(_numbered(sql), *args))
        finally:
            await connection.close()

    def snapshot_sync(self) -> dict[str, list[tuple[Any, ...]]]:
        return _in_thread(asyncio.run, self.snapshot())

    async def balances(self, pay_order_id: str) -> tuple[int, int, int]:
        rows = await self.fetch(
            "SELECT refunded_amount, reserved_amount, refund_count FROM pay_orders"
            " WHERE pay_order_id = ?",
            pay_order_id,
        )
        refunded, reserved, count = rows[0]
        return int(refunded), int(reserved), int(count)


def _numbered(sql: str) -> str:
    """``?`` placeholders as PostgreSQL's ``$1, $2, …``."""
    parts = sql.split("?")
    return "".join(part + (f"${i}" if i < len(parts) else "") for i, part in enumerate(parts, 1))


@pytest.fixture(params=["sqlite", "postgresql"])
async def backend(
    request: pytest.FixtureRequest, tmp_path: Path, migrated_template: Path
) -> AsyncIterator[Backend]:
    """Each store in turn, on an empty migrated database."""
    if request.param == "sqlite":
        path = tmp_path / "refundgate.db"
        shutil.copyfile(migrated_template, path)
        yield Backend("sqlite", f"sqlite:///{path}")
        return
    url = request.getfixturevalue("pg_url")
    await truncate(url)
    yield Backend("postgresql", url)


@pytest.fixture
async def any_store(backend: Backend) -> AsyncIterator[AdminStore]:
    store = backend.open()
    yield store
    await store.close()
