"""What only the SQLite store has: one file, a write lock, per-commit durability switches."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from refundgate.domain import (
    PayOrder,
    RefundDraft,
    RefundRequest,
    RefundStatus,
)
from refundgate.ports import StoreError, Transition
from refundgate.store import group_commit
from refundgate.store import sqlite as sqlite_module
from refundgate.store.refund_rules import reservation_arguments
from refundgate.store.rows import ORDER_COLUMNS
from refundgate.store.sqlite import (
    _INSERT_REFUND_IF_ALLOWED,
    SqliteStore,
    sqlite_path,
)
from tests.conftest import MCH_ID, NOW_MS, seed_merchants
from tests.store.rule_cases import domain_allows, orders_and_drafts


@pytest.fixture
async def seeded(store: SqliteStore) -> SqliteStore:
    await seed_merchants(store)
    await store.add_order(PayOrder(MCH_ID, "P1", "ALIPAY_QR", "CAD", 10_000, NOW_MS))
    return store


def draft(number: str = "N1", amount: int = 1_000, rid: str = "RID1", **kw: object) -> RefundDraft:
    request = RefundRequest(MCH_ID, number, "P1", amount, "vincent", "127.0.0.1", **kw)  # type: ignore[arg-type]
    return RefundDraft(request, rid, NOW_MS)


def balances(db: Path) -> tuple[int, int, int]:
    with sqlite3.connect(db) as connection:
        row = connection.execute(
            "SELECT refunded_amount, reserved_amount, refund_count FROM pay_orders"
            " WHERE pay_order_id = 'P1'"
        ).fetchone()
    return row[0], row[1], row[2]


async def test_a_locked_database_gives_a_store_error_and_changes_nothing(
    seeded: SqliteStore, db_path: Path
) -> None:
    impatient = SqliteStore(f"sqlite:///{db_path}", busy_timeout_ms=50)
    blocker = sqlite3.connect(db_path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreError):
            await impatient.reserve(draft())
        blocker.execute("ROLLBACK")
    finally:
        blocker.close()
        await impatient.close()
    assert balances(db_path) == (0, 0, 0)


async def test_a_file_in_a_missing_folder_is_a_store_error(tmp_path: Path) -> None:
    missing = SqliteStore(f"sqlite:///{tmp_path / 'no' / 'such' / 'x.db'}")
    try:
        with pytest.raises(StoreError):
            await missing.migrate()
        with pytest.raises(StoreError):
            await missing.ping()
    finally:
        await missing.close()


async def test_only_outcome_commits_are_relaxed_and_reservations_stay_durable(
    seeded: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What each batch commits under. PRAGMA synchronous: 2 = FULL (fsync at
    # every commit), 1 = NORMAL. The setting is only changed when a batch needs
    # another one, so a durable batch after a relaxed one must set it back.
    batches: list[tuple[int, list[bool]]] = []
    commit = seeded._batches._commit

    def recording(connection: sqlite3.Connection, batch: list[Any]) -> None:
        level = int(connection.execute("PRAGMA synchronous").fetchone()[0])
        batches.append((level, [write.durable for write in batch]))
        commit(connection, batch)

    monkeypatch.setattr(seeded._batches, "_commit", recording)
    await seeded.reserve(draft())
    await seeded.transition("RID1", Transition(RefundStatus.SUCCEEDED, NOW_MS, "ok"))
    await seeded.reserve(draft("N2", rid="RID2"))
    await seeded.transition("RID2", Transition(RefundStatus.SUCCEEDED, NOW_MS, "ok"))
    assert batches == [(2, [True]), (1, [False]), (2, [True]), (1, [False])]


async def test_commits_on_the_loop_never_checkpoint_and_every_nth_in_a_row_goes_to_the_thread(
    seeded: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A checkpoint syncs the WAL and the database file: it must not stop the
    # event loop. Commits on the loop run with wal_autocheckpoint = 0 (off);
    # durable ones, on the flusher thread, with SQLite's default of 1000 pages.
    # After CHECKPOINT_EVERY batches in a row on the loop, one goes to the thread.
    monkeypatch.setattr(group_commit, "CHECKPOINT_EVERY", 3)
    commits: list[tuple[int, int, str]] = []
    commit = seeded._batches._commit

    def recording(connection: sqlite3.Connection, batch: list[Any]) -> None:
        synchronous = int(connection.execute("PRAGMA synchronous").fetchone()[0])
        pages = int(connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
        on_loop = threading.current_thread() is threading.main_thread()
        commits.append((synchronous, pages, "loop" if on_loop else "thread"))
        commit(connection, batch)

    monkeypatch.setattr(seeded._batches, "_commit", recording)
    for number in range(1, 5):
        await seeded.reserve(draft(f"N{number}", amount=100, rid=f"RID{number}"))
    for number in range(1, 5):
        await seeded.transition(f"RID{number}", Transition(RefundStatus.SUCCEEDED, NOW_MS, "ok"))
    await seeded.reserve(draft("N5", amount=100, rid="RID5"))
    durable = (2, 1000, "thread")
    assert commits == [durable] * 4 + [(1, 0, "loop")] * 3 + [durable, durable]


async def test_a_write_waits_for_another_process_lock_off_the_loop(
    seeded: SqliteStore, db_path: Path
) -> None:
    # Batches commit on the event loop, but never wait there for a lock that
    # another process holds: that wait happens on the store's thread.
    other = sqlite3.connect(db_path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        reserving = asyncio.create_task(seeded.reserve(draft()))
        started = time.monotonic()
        for _ in range(10):
            await asyncio.sleep(0.01)
        assert time.monotonic() - started < 2  # the loop was not held (busy_timeout is 10 s)
        assert not reserving.done()  # the write waits for the lock
        assert await seeded.access(MCH_ID, None) is not None  # and reads are answered
        assert balances(db_path) == (0, 0, 0)
        other.execute("COMMIT")
        reservation = await asyncio.wait_for(reserving, 5)
    finally:
        other.close()
    assert reservation.created
    assert balances(db_path) == (0, 1_000, 1)
    # The writes after it commit on the loop again.
    await seeded.transition("RID1", Transition(RefundStatus.SUCCEEDED, NOW_MS, "ok"))
    assert balances(db_path) == (1_000, 0, 1)


async def test_a_lock_held_past_the_busy_timeout_fails_the_write_and_changes_nothing(
    db_path: Path, migrated_template: Path
) -> None:
    shutil.copyfile(migrated_template, db_path)
    store = SqliteStore(f"sqlite:///{db_path}", busy_timeout_ms=200)
    other = sqlite3.connect(db_path, isolation_level=None)
    try:
        await seed_merchants(store)
        await store.add_order(PayOrder(MCH_ID, "P1", "ALIPAY_QR", "CAD", 10_000, NOW_MS))
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreError, match="locked"):
            await store.reserve(draft())
        other.execute("ROLLBACK")
        assert balances(db_path) == (0, 0, 0)
        assert (await store.reserve(draft())).created  # the next one goes through
    finally:
        other.close()
        await store.close()


class _FailingFlush:
    """The writer connection, except that its COMMIT fails as a full disk would."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql == "COMMIT":
            raise sqlite3.OperationalError("database or disk is full")
        return self._connection.execute(sql, *args)

    @property
    def in_transaction(self) -> bool:
        return self._connection.in_transaction

    @property
    def total_changes(self) -> int:
        return self._connection.total_changes


async def test_a_failed_flush_fails_its_whole_batch_and_the_next_one_commits(
    seeded: SqliteStore, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = _FailingFlush(seeded._batches.writer())
    monkeypatch.setattr(seeded._batches, "writer", lambda: failing)
    results = await asyncio.gather(
        seeded.reserve(draft()), seeded.reserve(draft("N2", rid="RID2")), return_exceptions=True
    )
    assert [type(result) for result in results] == [StoreError, StoreError]  # one batch, both
    assert "disk is full" in str(results[0])
    assert balances(db_path) == (0, 0, 0)  # nothing of the batch was kept

    monkeypatch.undo()
    assert (await seeded.reserve(draft())).created
    assert balances(db_path) == (0, 1_000, 1)


async def test_a_reservation_is_answered_only_after_its_flush_has_returned(
    seeded: SqliteStore, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # G3: the caller (who then calls the channel) must not hear of a reservation
    # before its durable COMMIT is done. Hold the COMMIT on the flusher thread.
    release = threading.Event()
    commit = seeded._batches._commit

    def held(connection: sqlite3.Connection, batch: list[Any]) -> None:
        release.wait(5)
        commit(connection, batch)

    monkeypatch.setattr(seeded._batches, "_commit", held)
    reserving = asyncio.create_task(seeded.reserve(draft()))
    await asyncio.sleep(0.1)
    assert not reserving.done()  # the loop ran on, the caller still waits
    assert balances(db_path) == (0, 0, 0)  # and nothing is committed yet
    release.set()
    assert (await asyncio.wait_for(reserving, 5)).created
    assert balances(db_path) == (0, 1_000, 1)


def _batch_sizes(store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sizes: list[int] = []
    commit = store._batches._commit

    def recording(connection: sqlite3.Connection, batch: list[Any]) -> None:
        sizes.append(len(batch))
        commit(connection, batch)

    monkeypatch.setattr(store._batches, "_commit", recording)
    return sizes


async def test_refusals_and_conflicts_in_a_batch_leave_its_other_writes_to_commit(
    seeded: SqliteStore, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes = _batch_sizes(seeded, monkeypatch)
    results = await asyncio.gather(
        seeded.reserve(draft("N1", 1_000, "RID1")),
        seeded.reserve(draft("N2", 20_000, "RID2")),  # more than the order holds
        seeded.reserve(draft("N1", 500, "RID3")),  # N1 again, for another amount
        seeded.reserve(draft("N3", 2_000, "RID4")),
        return_exceptions=True,
    )
    assert sizes == [4]  # one transaction
    names = [type(result).__name__ for result in results]
    assert names == ["Reservation", "RefundAmountExceeded", "RefundNumberConflict", "Reservation"]
    assert balances(db_path) == (0, 3_000, 2)


async def test_a_write_that_fails_half_done_fails_its_whole_batch(
    seeded: SqliteStore, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A write cannot be undone alone once it changed rows: nothing of its batch
    # may stay, or the order would keep half of a refund.
    def half_done(connection: sqlite3.Connection) -> None:
        connection.execute("UPDATE pay_orders SET reserved_amount = 7 WHERE pay_order_id = 'P1'")
        raise ValueError("a bug after the first statement")

    sizes = _batch_sizes(seeded, monkeypatch)
    results = await asyncio.gather(
        seeded.reserve(draft()),
        seeded._batches.write(half_done, durable=True),
        seeded.reserve(draft("N2", rid="RID2")),
        return_exceptions=True,
    )
    assert sizes == []  # never committed
    assert [type(result) for result in results] == [StoreError, ValueError, StoreError]
    assert "half done" in str(results[0])
    assert balances(db_path) == (0, 0, 0)

    assert (await seeded.reserve(draft())).created  # the next batch commits
    assert balances(db_path) == (0, 1_000, 1)


async def test_sql_rules_that_refuse_what_the_domain_allows_are_a_store_error(
    seeded: SqliteStore, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Were the SQL and the domain's rules ever to disagree, the refund is not
    reserved, and the disagreement is an error, not a refusal told to the merchant."""
    never = sqlite_module._INSERT_REFUND_IF_ALLOWED + " AND 0"
    monkeypatch.setattr(sqlite_module, "_INSERT_REFUND_IF_ALLOWED", never)
    with pytest.raises(StoreError, match="SQL refused what the domain allows"):
        await seeded.reserve(draft())
    assert balances(db_path) == (0, 0, 0)
    assert await seeded.find_refund(MCH_ID, mch_refund_no="N1") is None


@pytest.fixture(scope="module")
def rules_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    """A migrated file with both merchants, for many examples on one connection."""
    url = f"sqlite:///{tmp_path_factory.mktemp('rules') / 'rules.db'}"

    async def prepare() -> None:
        store = SqliteStore(url)
        await store.migrate()
        await seed_merchants(store)
        await store.close()

    asyncio.run(prepare())
    connection = sqlite3.connect(sqlite_path(url), isolation_level=None)
    yield connection
    connection.close()


@settings(max_examples=400)
@given(case=orders_and_drafts())
def test_the_sql_rules_are_the_domain_rules(
    rules_db: sqlite3.Connection, case: tuple[PayOrder, RefundDraft]
) -> None:
    """The reservation takes a refund exactly when the domain's rules allow it."""
    order, draft = case
    allowed = domain_allows(order, draft)
    rules_db.execute("BEGIN")
    try:
        rules_db.execute(
            f"INSERT INTO pay_orders ({ORDER_COLUMNS})"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL)",
            (
                order.mch_id, order.pay_order_id, order.channel_id, order.currency, order.amount,
                order.paid_at, order.status.value, order.refunded_amount, order.reserved_amount,
                order.refund_count, order.last_refund_at,
            ),
        )  # fmt: skip
        taken = rules_db.execute(_INSERT_REFUND_IF_ALLOWED, reservation_arguments(draft)).rowcount
    finally:
        rules_db.execute("ROLLBACK")
    assert taken == int(allowed)


def test_none_and_bool_bind_as_null_and_integers() -> None:
    # Importing the store registers adapters for None and bool (they spare sqlite3
    # two failed lookups per value); what reaches the database must be as without.
    for kind in (type(None), bool):
        assert (kind, sqlite3.PrepareProtocol) in sqlite3.adapters, sqlite_module.__name__
    connection = sqlite3.connect(":memory:")
    try:
        row = connection.execute(
            "SELECT typeof(?), typeof(?), typeof(?), ?, ?, ? IS NULL",
            (None, True, False, True, False, None),
        ).fetchone()
    finally:
        connection.close()
    assert row == ("null", "integer", "integer", 1, 0, 1)
