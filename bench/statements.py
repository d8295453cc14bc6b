"""What a refund's SQL costs on SQLite, the product's against the ceiling's, in-process.

    .venv/bin/python -m bench.statements [--refunds 5000] [--rounds 3]

Seeds a database like bench/run.py, copies it for each side, and runs
``--refunds`` reservations and successful outcomes in one transaction: the
product's own store functions (``SqliteStore._reserve`` and ``_transition``,
with the domain objects the service hands them) and the ceiling's
(``reserve`` and ``succeed`` of bench/ceiling/sqlite_group.py, each in a
SAVEPOINT as its group commit runs them). A connection that times every
statement, with its fetches, splits each side's time into its statements
and the Python around them. No HTTP, no event loop, no COMMIT's flush: only what a batch
runs on the loop, per refund.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.ceiling import sqlite_group as ceiling
from bench.common import CURRENCY, LOGIN_NAME, MCH_ID, REFUND_AMOUNT, order_id
from bench.seed import NOW_MS, seed_sqlite
from refundgate.domain.model import RefundDraft, RefundRequest, RefundStatus
from refundgate.ports import Transition
from refundgate.store import sqlite as product_sql
from refundgate.store.sqlite import SqliteStore

ORDERS = 20_000

#: A side's timed connection, and what runs one refund's statements on it.
Side = tuple["_TimedConnection", Callable[[int], None]]


class _TimedCursor(sqlite3.Cursor):
    """A cursor whose fetches count towards its statement (``RETURNING`` rows)."""

    spent: defaultdict[str, float]
    label = ""

    def fetchone(self) -> Any:
        started = time.perf_counter()
        try:
            return super().fetchone()
        finally:
            self.spent[self.label] += time.perf_counter() - started

    def fetchall(self) -> list[Any]:
        started = time.perf_counter()
        try:
            return super().fetchall()
        finally:
            self.spent[self.label] += time.perf_counter() - started


class _TimedConnection(sqlite3.Connection):
    """A connection that adds each statement's time, and its fetches', to ``spent``."""

    spent: defaultdict[str, float]

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        started = time.perf_counter()
        label = _label(sql)
        try:
            cursor = self.cursor(_TimedCursor)
            cursor.spent, cursor.label = self.spent, label
            return cursor.execute(sql, parameters)
        finally:
            self.spent[label] += time.perf_counter() - started


#: Short names for the statements both sides run; any other is named by its first words.
NAMES = {
    product_sql._INSERT_REFUND_IF_ALLOWED: "product: insert the refund if the rules allow",
    product_sql._RESERVE: "product: reserve on the order, RETURNING it",
    product_sql._INSERT_EVENT: "product: insert an event",
    product_sql._SET_STATUS: "product: set the refund's status",
    product_sql._MOVE_BALANCES: "product: move the order's balances",
    product_sql._ENQUEUE_NOTIFICATION: "product: queue the notification",
    ceiling._RESERVE: "ceiling: reserve on the order, RETURNING 2 columns",
    ceiling._INSERT_REFUND: "ceiling: insert the refund",
    ceiling._INSERT_EVENT: "ceiling: insert an event",
    ceiling._SUCCEED: "ceiling: set the refund's status",
    ceiling._SETTLE_ORDER: "ceiling: move the order's balances",
}


def _label(sql: str) -> str:
    return NAMES.get(sql) or " ".join(sql.split()[:2])


def _connect(path: Path) -> _TimedConnection:
    connection = sqlite3.connect(path, isolation_level=None, factory=_TimedConnection)
    connection.spent = defaultdict(float)
    return connection


def product_side(path: Path) -> Side:
    store = SqliteStore(f"sqlite:///{path}")
    connection = _connect(path)

    def one(index: int) -> None:
        now = NOW_MS + 1_000 + index
        request = RefundRequest(
            MCH_ID, f"S{index}", order_id(index % ORDERS + 1), REFUND_AMOUNT, LOGIN_NAME,
            "127.0.0.1", currency=CURRENCY,
        )  # fmt: skip
        draft = RefundDraft(request, f"S{index:026d}", now)
        reservation = store._reserve(connection, draft)
        outcome = Transition(
            RefundStatus.SUCCEEDED, now, "channel answered SUCCESS",
            channel_refund_id=f"AP{draft.refund_order_id}",
            detail={"result": "SUCCESS", "channel_refund_id": f"AP{draft.refund_order_id}"},
        )  # fmt: skip
        store._transition(connection, draft.refund_order_id, outcome, reservation.refund)

    return connection, one


def ceiling_side(path: Path) -> Side:
    connection = _connect(path)

    def one(index: int) -> None:
        now = NOW_MS + 1_000 + index
        refund = {
            "mch_id": MCH_ID, "refund_no": f"S{index}", "order": order_id(index % ORDERS + 1),
            "amount": REFUND_AMOUNT, "now": now, "id": f"S{index:026d}", "login": LOGIN_NAME,
            "ip": "127.0.0.1",
        }  # fmt: skip
        for work in (ceiling.reserve, ceiling.succeed):
            connection.execute("SAVEPOINT job")
            work(connection, refund)
            connection.execute("RELEASE job")

    return connection, one


def measure(make: Callable[[Path], Side], seeded: Path, refunds: int) -> dict[str, float]:
    """Microseconds per refund: ``total``, and each statement's share of it."""
    with tempfile.TemporaryDirectory(prefix="rg-statements-") as folder:
        path = Path(folder) / "side.db"
        shutil.copy(seeded, path)
        connection, one = make(path)
        connection.execute("BEGIN IMMEDIATE")
        connection.spent.clear()
        started = time.perf_counter()
        for index in range(refunds):
            one(index)
        total = time.perf_counter() - started
        per_refund = {label: spent / refunds * 1e6 for label, spent in connection.spent.items()}
        connection.execute("ROLLBACK")
        connection.close()
    per_refund["total"] = total / refunds * 1e6
    return per_refund


def _report(name: str, rounds: list[dict[str, float]]) -> None:
    best = min(rounds, key=lambda r: r["total"])
    statements = sum(value for label, value in best.items() if label != "total")
    print(f"{name}: {best['total']:.1f} µs a refund (best of {len(rounds)} rounds)")
    for label, value in sorted(best.items(), key=lambda item: -item[1]):
        if label != "total":
            print(f"  {value:6.1f} µs  {label}")
    print(f"  {statements:6.1f} µs  in statements")
    print(f"  {best['total'] - statements:6.1f} µs  Python around them")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--refunds", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rg-statements-seed-") as folder:
        seeded = Path(folder) / "seeded.db"
        seed_sqlite(str(seeded), orders=ORDERS, refunds=1_000)
        results: dict[str, list[dict[str, float]]] = {"product": [], "ceiling": []}
        for _ in range(args.rounds):  # alternating, so both sides share the VM's moods
            results["product"].append(measure(product_side, seeded, args.refunds))
            results["ceiling"].append(measure(ceiling_side, seeded, args.refunds))
    for name, rounds in results.items():
        _report(name, rounds)


if __name__ == "__main__":
    main()
