"""The SQLite store: reservations, replays, compare-and-set transitions, G1 in the schema."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from refundgate.domain import (
    AlreadyExists,
    MerchantNotFound,
    PayOrder,
    RefundAmountExceeded,
    RefundDraft,
    RefundNotFound,
    RefundNumberConflict,
    RefundRequest,
    RefundStatus,
)
from refundgate.domain.merchant import Merchant
from refundgate.domain.secret import Secret
from refundgate.ports import StoreError, Transition
from refundgate.store.sqlite import SqliteStore
from tests.conftest import MCH_ID, NOW_MS, db_snapshot, seed_merchants


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


async def test_a_reservation_holds_the_amount_and_records_the_request(
    seeded: SqliteStore, db_path: Path
) -> None:
    reservation = await seeded.reserve(draft())
    assert reservation.created
    assert reservation.refund.status is RefundStatus.PENDING
    assert reservation.order.reserved_amount == 1_000
    assert balances(db_path) == (0, 1_000, 1)
    with sqlite3.connect(db_path) as connection:
        events = connection.execute(
            "SELECT kind, to_status, login_name FROM refund_events"
        ).fetchall()
    assert events == [("requested", "PENDING", "vincent")]


async def test_the_same_number_again_replays_without_reserving(
    seeded: SqliteStore, db_path: Path
) -> None:
    first = await seeded.reserve(draft())
    again = await seeded.reserve(draft(rid="RID2"))
    assert not again.created
    assert again.refund.refund_order_id == first.refund.refund_order_id
    assert balances(db_path) == (0, 1_000, 1)


async def test_the_same_number_for_another_amount_conflicts_and_changes_nothing(
    seeded: SqliteStore, db_path: Path
) -> None:
    await seeded.reserve(draft())
    before = db_snapshot(db_path)
    with pytest.raises(RefundNumberConflict):
        await seeded.reserve(draft(amount=1_001, rid="RID2"))
    assert db_snapshot(db_path) == before


async def test_a_refused_reservation_changes_nothing(seeded: SqliteStore, db_path: Path) -> None:
    before = db_snapshot(db_path)
    with pytest.raises(RefundAmountExceeded):
        await seeded.reserve(draft(amount=10_001))
    assert db_snapshot(db_path) == before


async def test_concurrent_reservations_never_over_refund(
    seeded: SqliteStore, db_path: Path
) -> None:
    drafts = [draft(f"N{i}", 700, f"RID{i}") for i in range(30)]
    results = await asyncio.gather(*(seeded.reserve(d) for d in drafts), return_exceptions=True)
    accepted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, RefundAmountExceeded)]
    assert len(accepted) == 14  # 14 × 700 = 9,800 ≤ 10,000 < 15 × 700
    assert len(refused) == 16
    assert balances(db_path) == (0, 9_800, 14)


async def test_success_moves_the_reservation_to_refunded(
    seeded: SqliteStore, db_path: Path
) -> None:
    await seeded.reserve(draft())
    refund = await seeded.transition(
        "RID1", Transition(RefundStatus.SUCCEEDED, NOW_MS + 5, "ok", channel_refund_id="CH1")
    )
    assert refund.status is RefundStatus.SUCCEEDED
    assert refund.succeeded_at == NOW_MS + 5
    assert refund.channel_refund_id == "CH1"
    assert balances(db_path) == (1_000, 0, 1)


async def test_failure_releases_the_reservation(seeded: SqliteStore, db_path: Path) -> None:
    await seeded.reserve(draft())
    await seeded.transition("RID1", Transition(RefundStatus.FAILED, NOW_MS, "no", err_code="X"))
    assert balances(db_path) == (0, 0, 0)


async def test_applying_an_outcome_twice_changes_nothing_the_second_time(
    seeded: SqliteStore, db_path: Path
) -> None:
    await seeded.reserve(draft())
    done = Transition(RefundStatus.SUCCEEDED, NOW_MS, "ok")
    await seeded.transition("RID1", done)
    before = db_snapshot(db_path)
    again = await seeded.transition("RID1", done)
    late_failure = await seeded.transition("RID1", Transition(RefundStatus.FAILED, NOW_MS, "no"))
    assert again.status is late_failure.status is RefundStatus.SUCCEEDED
    assert db_snapshot(db_path) == before


async def test_concurrent_outcomes_apply_once(seeded: SqliteStore, db_path: Path) -> None:
    await seeded.reserve(draft())
    done = Transition(RefundStatus.SUCCEEDED, NOW_MS, "ok")
    await asyncio.gather(*(seeded.transition("RID1", done) for _ in range(10)))
    assert balances(db_path) == (1_000, 0, 1)


async def test_a_final_state_queues_a_notification_for_the_known_url(
    seeded: SqliteStore, db_path: Path
) -> None:
    await seeded.reserve(draft(notify_url="https://merchant.example/refunds"))
    await seeded.reserve(draft("N2", rid="RID2"))  # no URL: the merchant has none either
    for rid in ("RID1", "RID2"):
        await seeded.transition(rid, Transition(RefundStatus.SUCCEEDED, NOW_MS, "ok"))
    with sqlite3.connect(db_path) as connection:
        rows = connection.execute(
            "SELECT refund_order_id, notify_url, refund_status, state FROM notifications"
        ).fetchall()
    assert rows == [("RID1", "https://merchant.example/refunds", "SUCCEEDED", "PENDING")]


async def test_the_merchants_default_notify_url_is_used(store: SqliteStore, db_path: Path) -> None:
    await store.add_merchant(
        Merchant(MCH_ID, Secret("K"), notify_url="https://m.example/n"), now=NOW_MS
    )
    await store.add_order(PayOrder(MCH_ID, "P1", "ALIPAY_QR", "CAD", 10_000, NOW_MS))
    await store.reserve(draft())
    await store.transition("RID1", Transition(RefundStatus.FAILED, NOW_MS, "no"))
    with sqlite3.connect(db_path) as connection:
        urls = connection.execute("SELECT notify_url FROM notifications").fetchall()
    assert urls == [("https://m.example/n",)]


async def test_the_database_itself_refuses_an_over_refund(
    seeded: SqliteStore, db_path: Path
) -> None:
    with sqlite3.connect(db_path) as connection, pytest.raises(sqlite3.IntegrityError):
        connection.execute(
            "UPDATE pay_orders SET reserved_amount = 10001 WHERE pay_order_id = 'P1'"
        )


async def test_duplicates_and_unknown_merchants_are_refused(seeded: SqliteStore) -> None:
    with pytest.raises(AlreadyExists):
        await seeded.add_merchant(Merchant(MCH_ID, Secret("K")), now=NOW_MS)
    with pytest.raises(AlreadyExists):
        await seeded.add_order(PayOrder(MCH_ID, "P1", "ALIPAY_QR", "CAD", 1, NOW_MS))
    with pytest.raises(MerchantNotFound):
        await seeded.add_order(PayOrder("NOPE", "P9", "ALIPAY_QR", "CAD", 1, NOW_MS))


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


async def test_a_transition_of_an_unknown_refund_is_refused(seeded: SqliteStore) -> None:
    with pytest.raises(RefundNotFound):
        await seeded.transition("NOPE", Transition(RefundStatus.SUCCEEDED, NOW_MS, "ok"))


async def test_a_reservation_returns_exactly_what_it_stored(seeded: SqliteStore) -> None:
    reservation = await seeded.reserve(draft(device="WEB", notify_url="https://m.example/n"))
    stored_refund = await seeded.find_refund(MCH_ID, refund_order_id="RID1")
    stored_order = await seeded.get_order(MCH_ID, "P1")
    assert reservation.refund == stored_refund
    assert reservation.order == stored_order


async def test_only_outcome_commits_are_relaxed_and_reservations_stay_durable(
    seeded: SqliteStore,
) -> None:
    # PRAGMA synchronous: 2 = FULL (fsync at every commit), 1 = NORMAL.
    def synchronous() -> int:
        connection = seeded._connect()
        return int(connection.execute("PRAGMA synchronous").fetchone()[0])

    await seeded.reserve(draft())
    assert await seeded._run(synchronous) == 2
    await seeded.transition("RID1", Transition(RefundStatus.SUCCEEDED, NOW_MS, "ok"))
    assert await seeded._run(synchronous) == 2
