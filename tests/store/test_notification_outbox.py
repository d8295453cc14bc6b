"""The notification outbox and delivery log, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from refundgate.domain.model import PayOrder, RefundDraft, RefundRequest, RefundStatus
from refundgate.ports import AdminStore, DeliveryAttempt, NotificationState, Transition
from tests.backends import Backend
from tests.conftest import LOGIN, MCH_ID, NOW_MS, seed_merchants

URL = "https://merchant.example/notify"


async def final_refund(
    store: AdminStore, rid: str, status: RefundStatus = RefundStatus.SUCCEEDED
) -> None:
    request = RefundRequest(MCH_ID, f"N-{rid}", "P1", 100, LOGIN, "127.0.0.1", notify_url=URL)
    await store.reserve(RefundDraft(request, rid, NOW_MS))
    await store.transition(rid, Transition(RefundStatus.PROCESSING, NOW_MS, "sent"))
    await store.transition(rid, Transition(status, NOW_MS, "channel said so"))


@pytest.fixture
async def seeded(any_store: AdminStore) -> AdminStore:
    await seed_merchants(any_store)
    await any_store.add_order(PayOrder(MCH_ID, "P1", "ALIPAY_QR", "CAD", 10_000, NOW_MS))
    return any_store


def attempt_of(notification_id: int, number: int, outcome: NotificationState) -> DeliveryAttempt:
    return DeliveryAttempt(
        notification_id=notification_id,
        attempt=number,
        at=NOW_MS,
        url=URL,
        http_status=500,
        response_excerpt="x" * 1_000,
        error=None,
        outcome=outcome,
    )


async def test_a_lease_takes_due_rows_once_until_it_expires(seeded: AdminStore) -> None:
    await final_refund(seeded, "RID1")
    first = await seeded.lease_notifications(NOW_MS, limit=10, lease_ms=60_000)
    assert [(row.refund_order_id, row.refund_status, row.attempts) for row in first] == [
        ("RID1", "SUCCEEDED", 0)
    ]
    assert first[0].notify_url == URL
    assert await seeded.lease_notifications(NOW_MS + 59_999, limit=10, lease_ms=60_000) == []
    again = await seeded.lease_notifications(NOW_MS + 60_000, limit=10, lease_ms=60_000)
    assert [row.notification_id for row in again] == [first[0].notification_id]
    assert again[0].lease != first[0].lease


async def test_rows_not_yet_due_are_not_leased(seeded: AdminStore) -> None:
    await final_refund(seeded, "RID1")
    assert await seeded.lease_notifications(NOW_MS - 1, limit=10, lease_ms=60_000) == []


async def test_a_recorded_attempt_sets_the_state_and_bounds_the_excerpt(
    seeded: AdminStore, backend: Backend
) -> None:
    await final_refund(seeded, "RID1")
    [row] = await seeded.lease_notifications(NOW_MS, limit=10, lease_ms=60_000)
    held = await seeded.record_delivery(
        attempt_of(row.notification_id, 1, NotificationState.PENDING),
        lease=row.lease,
        next_attempt_at=NOW_MS + 15_000,
    )
    assert held
    assert await backend.fetch(
        "SELECT state, attempts, next_attempt_at, lease_token FROM notifications"
    ) == [("PENDING", 1, NOW_MS + 15_000, None)]
    [logged] = await seeded.notification_deliveries("RID1")
    assert logged.refund_order_id == "RID1"
    assert logged.mch_id == MCH_ID
    assert logged.attempt.http_status == 500
    assert logged.attempt.response_excerpt == "x" * 256


async def test_a_stale_lease_logs_the_attempt_but_leaves_the_row_to_its_new_holder(
    seeded: AdminStore, backend: Backend
) -> None:
    await final_refund(seeded, "RID1")
    [old] = await seeded.lease_notifications(NOW_MS, limit=10, lease_ms=1_000)
    [new] = await seeded.lease_notifications(NOW_MS + 1_000, limit=10, lease_ms=60_000)
    held = await seeded.record_delivery(
        attempt_of(old.notification_id, 1, NotificationState.DELIVERED),
        lease=old.lease,
        next_attempt_at=NOW_MS,
    )
    assert not held
    assert await backend.fetch("SELECT state, lease_token FROM notifications") == [
        ("PENDING", new.lease)
    ]
    assert len(await seeded.notification_deliveries()) == 1


async def test_reopening_gives_a_fresh_schedule_and_makes_it_due_now(
    seeded: AdminStore, backend: Backend
) -> None:
    await final_refund(seeded, "RID1")
    [row] = await seeded.lease_notifications(NOW_MS, limit=10, lease_ms=60_000)
    await seeded.record_delivery(
        attempt_of(row.notification_id, 16, NotificationState.GAVE_UP),
        lease=row.lease,
        next_attempt_at=NOW_MS,
    )
    assert await seeded.reopen_notifications("RID1", NOW_MS + 5) == 1
    assert await seeded.reopen_notifications("NOPE", NOW_MS + 5) == 0
    assert await backend.fetch("SELECT state, attempts, next_attempt_at FROM notifications") == [
        ("PENDING", 0, NOW_MS + 5)
    ]
    leased = await seeded.lease_notifications(
        NOW_MS + 5, limit=10, lease_ms=60_000, refund_order_id="RID1"
    )
    assert len(leased) == 1


async def test_a_lease_for_one_refund_takes_only_its_rows(seeded: AdminStore) -> None:
    await final_refund(seeded, "RID1")
    await final_refund(seeded, "RID2", RefundStatus.FAILED)
    leased = await seeded.lease_notifications(
        NOW_MS, limit=10, lease_ms=60_000, refund_order_id="RID2"
    )
    assert [(row.refund_order_id, row.refund_status) for row in leased] == [("RID2", "FAILED")]


async def test_the_delivery_log_lists_newest_first_and_filters_by_refund(
    seeded: AdminStore,
) -> None:
    await final_refund(seeded, "RID1")
    await final_refund(seeded, "RID2")
    rows = await seeded.lease_notifications(NOW_MS, limit=10, lease_ms=60_000)
    for row in rows:
        await seeded.record_delivery(
            attempt_of(row.notification_id, 1, NotificationState.PENDING),
            lease=row.lease,
            next_attempt_at=NOW_MS,
        )
    assert [r.refund_order_id for r in await seeded.notification_deliveries()] == ["RID2", "RID1"]
    assert [r.refund_order_id for r in await seeded.notification_deliveries("RID1")] == ["RID1"]
    assert len(await seeded.notification_deliveries(limit=1)) == 1


async def test_concurrent_leases_never_share_a_row(seeded: AdminStore, backend: Backend) -> None:
    for number in range(30):
        await final_refund(seeded, f"RID{number:02d}")
    others = [backend.open() for _ in range(3)]
    try:
        batches = await asyncio.gather(
            *(
                store.lease_notifications(NOW_MS, limit=7, lease_ms=60_000)
                for store in [seeded, *others]
                for _ in range(2)
            )
        )
    finally:
        for store in others:
            await store.close()
    taken = [row.notification_id for batch in batches for row in batch]
    assert len(taken) == len(set(taken)) == 30
