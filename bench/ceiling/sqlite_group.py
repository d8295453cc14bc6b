"""SQLite ceiling: one writer thread, group commit.

Requests queue their statements; the writer takes every job waiting and runs
them as ONE ``BEGIN IMMEDIATE … COMMIT`` with a SAVEPOINT each (a refused job
rolls back only itself), then settles each job's future after that COMMIT. A
batch holding a reservation commits with ``synchronous = FULL``; a batch of
outcomes only may use NORMAL (a lost outcome is asked of the channel again).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

Work = Callable[[sqlite3.Connection], Any]

_RESERVE = (
    "UPDATE pay_orders SET reserved_amount = reserved_amount + ?,"
    " refund_count = refund_count + 1, last_refund_at = ?"
    " WHERE mch_id = ? AND pay_order_id = ? AND status = 'PAID'"
    " AND refunded_amount + reserved_amount + ? <= amount RETURNING channel_id, currency"
)
_INSERT_REFUND = (
    "INSERT INTO refunds (refund_order_id, mch_id, mch_refund_no, pay_order_id, channel_id,"
    " amount, currency, status, login_name, client_ip, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, 'PENDING', ?, ?, ?, ?)"
)
_INSERT_EVENT = (
    "INSERT INTO refund_events (refund_order_id, mch_id, at, kind, from_status, to_status,"
    " login_name, client_ip, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SUCCEED = (
    "UPDATE refunds SET status = 'SUCCEEDED', updated_at = ?, channel_refund_id = ?,"
    " succeeded_at = ?, attempts = attempts + 1 WHERE refund_order_id = ? AND status = 'PENDING'"
)
_SETTLE_ORDER = (
    "UPDATE pay_orders SET reserved_amount = reserved_amount - ?,"
    " refunded_amount = refunded_amount + ? WHERE mch_id = ? AND pay_order_id = ?"
)


class Refused(Exception):
    """The order is missing or cannot take this refund."""


def reserve(c: sqlite3.Connection, r: dict[str, Any]) -> tuple[str, str]:
    row = c.execute(
        _RESERVE, (r["amount"], r["now"], r["mch_id"], r["order"], r["amount"])
    ).fetchone()
    if row is None:
        raise Refused(r["order"])
    c.execute(
        _INSERT_REFUND,
        (
            r["id"], r["mch_id"], r["refund_no"], r["order"], row[0], r["amount"], row[1],
            r["login"], r["ip"], r["now"], r["now"],
        ),
    )  # fmt: skip
    c.execute(
        _INSERT_EVENT,
        (
            r["id"], r["mch_id"], r["now"], "requested", None, "PENDING", r["login"], r["ip"],
            "reserved",
        ),
    )  # fmt: skip
    return row[0], row[1]


def succeed(c: sqlite3.Connection, r: dict[str, Any]) -> None:
    c.execute(_SUCCEED, (r["now"], "AP" + r["id"], r["now"], r["id"]))
    c.execute(_SETTLE_ORDER, (r["amount"], r["amount"], r["mch_id"], r["order"]))
    c.execute(
        _INSERT_EVENT,
        (r["id"], r["mch_id"], r["now"], "status", "PENDING", "SUCCEEDED", None, None, "ok"),
    )


class GroupWriter:
    def __init__(self, path: str) -> None:
        self._path = path
        self._cv = threading.Condition()
        self._pending: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[Any], Work, bool]] = []
        threading.Thread(target=self._loop, daemon=True, name="ceiling-writer").start()

    def submit(self, work: Work, *, durable: bool) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        with self._cv:
            self._pending.append((loop, future, work, durable))
            self._cv.notify()
        return future

    def _loop(self) -> None:
        c = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        c.execute("PRAGMA journal_mode = WAL")
        c.execute("PRAGMA busy_timeout = 10000")
        synchronous = ""
        while True:
            with self._cv:
                while not self._pending:
                    self._cv.wait()
                batch, self._pending = self._pending, []
            wanted = "FULL" if any(job[3] for job in batch) else "NORMAL"
            if wanted != synchronous:
                c.execute(f"PRAGMA synchronous = {wanted}")
                synchronous = wanted
            for loop, future, ok, value in self._run(c, batch):
                loop.call_soon_threadsafe(_settle, future, ok, value)

    @staticmethod
    def _run(c: sqlite3.Connection, batch: list[Any]) -> list[tuple[Any, Any, bool, Any]]:
        results = []
        c.execute("BEGIN IMMEDIATE")
        for loop, future, work, _ in batch:
            c.execute("SAVEPOINT job")
            try:
                results.append((loop, future, True, work(c)))
                c.execute("RELEASE job")
            except Exception as exc:
                c.execute("ROLLBACK TO job")
                c.execute("RELEASE job")
                results.append((loop, future, False, exc))
        try:
            c.execute("COMMIT")
        except sqlite3.Error as exc:
            if c.in_transaction:
                c.execute("ROLLBACK")
            return [(loop, future, False, exc) for loop, future, _, _ in results]
        return results


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if not future.done():
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


class SqliteCeiling:
    def __init__(self, path: str) -> None:
        self._writer = GroupWriter(path)

    async def refund(self, r: dict[str, Any]) -> tuple[str, str]:
        channel = await self._writer.submit(lambda c: reserve(c, r), durable=True)
        await self._writer.submit(lambda c: succeed(c, r), durable=False)
        return channel  # type: ignore[no-any-return]
