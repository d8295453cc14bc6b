"""Fill a benchmark database fast: schema by refundgate's own migrations, rows in bulk.

Rows go in with ``executemany`` (SQLite, one transaction, no fsync until the
end) or ``COPY`` (PostgreSQL), so 10^6 refunds take seconds, not an hour of
signed requests. Pre-filled refunds are succeeded 1-cent refunds spread over
the orders, with the balances and an event each, as real history would leave.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator

import asyncpg

from bench.common import CHANNEL_ID, CURRENCY, KEY, LOGIN_NAME, MCH_ID, ORDER_AMOUNT, order_id
from refundgate.bootstrap import open_store

NOW_MS = 1_780_000_000_000  # a fixed "paid at": within every window for a year or so

_ORDER_COLUMNS = (
    "mch_id", "pay_order_id", "channel_id", "currency", "amount", "paid_at", "status",
    "refunded_amount", "reserved_amount", "refund_count", "sandbox_outcome",
)  # fmt: skip
_REFUND_COLUMNS = (
    "refund_order_id", "mch_id", "mch_refund_no", "pay_order_id", "channel_id", "amount",
    "currency", "status", "login_name", "client_ip", "attempts", "created_at", "updated_at",
    "succeeded_at",
)  # fmt: skip
_EVENT_COLUMNS = ("refund_order_id", "mch_id", "at", "kind", "from_status", "to_status", "reason")


def _order_rows(orders: int, refunds: int) -> Iterator[tuple[object, ...]]:
    for index in range(1, orders + 1):
        # refunds are spread round-robin: order i holds these many of them
        held = refunds // orders + (1 if index <= refunds % orders else 0)
        yield (
            MCH_ID, order_id(index), CHANNEL_ID, CURRENCY, ORDER_AMOUNT, NOW_MS, "PAID",
            held, 0, held, "succeed",
        )  # fmt: skip


def _refund_rows(orders: int, refunds: int) -> Iterator[tuple[object, ...]]:
    for index in range(refunds):
        yield (
            f"P{index:026d}", MCH_ID, f"PRE{index:012d}", order_id(index % orders + 1),
            CHANNEL_ID, 1, CURRENCY, "SUCCEEDED", LOGIN_NAME, "127.0.0.1", 1, NOW_MS,
            NOW_MS, NOW_MS,
        )  # fmt: skip


def _event_rows(refunds: int) -> Iterator[tuple[object, ...]]:
    for index in range(refunds):
        yield (f"P{index:026d}", MCH_ID, NOW_MS, "status", "PENDING", "SUCCEEDED", "seeded")


def _insert(table: str, columns: tuple[str, ...]) -> str:
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608 - our own names


async def _migrate(database_url: str) -> None:
    store = open_store(database_url)
    try:
        await store.migrate()
    finally:
        await store.close()


def seed_sqlite(path: str, *, orders: int, refunds: int) -> None:
    asyncio.run(_migrate(f"sqlite:///{path}"))
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA synchronous = OFF")  # durability comes from the checkpoint
        connection.execute("BEGIN")
        connection.execute(
            "INSERT INTO merchants (mch_id, name, status, sign_key, created_at)"
            " VALUES (?, 'bench', 'ACTIVE', ?, ?)",
            (MCH_ID, KEY, NOW_MS),
        )
        connection.execute(
            "INSERT INTO operators (mch_id, login_name, may_refund, active, created_at)"
            " VALUES (?, ?, 1, 1, ?)",
            (MCH_ID, LOGIN_NAME, NOW_MS),
        )
        connection.executemany(_insert("pay_orders", _ORDER_COLUMNS), _order_rows(orders, refunds))
        connection.executemany(_insert("refunds", _REFUND_COLUMNS), _refund_rows(orders, refunds))
        connection.executemany(_insert("refund_events", _EVENT_COLUMNS), _event_rows(refunds))
        connection.execute("COMMIT")
        connection.execute("ANALYZE")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


async def _seed_postgres(dsn: str, orders: int, refunds: int) -> None:
    await _migrate(dsn)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            "INSERT INTO merchants (mch_id, name, status, sign_key, created_at)"
            " VALUES ($1, 'bench', 'ACTIVE', $2, $3)",
            MCH_ID, KEY, NOW_MS,
        )  # fmt: skip
        await connection.execute(
            "INSERT INTO operators (mch_id, login_name, may_refund, active, created_at)"
            " VALUES ($1, $2, true, true, $3)",
            MCH_ID, LOGIN_NAME, NOW_MS,
        )  # fmt: skip
        await connection.copy_records_to_table(
            "pay_orders", records=_order_rows(orders, refunds), columns=_ORDER_COLUMNS
        )
        await connection.copy_records_to_table(
            "refunds", records=_refund_rows(orders, refunds), columns=_REFUND_COLUMNS
        )
        await connection.copy_records_to_table(
            "refund_events", records=_event_rows(refunds), columns=_EVENT_COLUMNS
        )
        await connection.execute("VACUUM ANALYZE")
        await connection.execute("CHECKPOINT")
    finally:
        await connection.close()


def seed_postgres(dsn: str, *, orders: int, refunds: int) -> None:
    asyncio.run(_seed_postgres(dsn, orders, refunds))
