"""The lifecycle store methods, on SQLite and PostgreSQL: leases, schedule, review reads."""

from __future__ import annotations

import asyncio

import pytest

from refundgate.domain import PayOrder, RefundDraft, RefundRequest, RefundStatus
from refundgate.ports import AdminStore, Transition
from tests.backends import Backend
from tests.conftest import LOGIN, MCH_ID, NOW_MS, OTHER_MCH_ID, seed_merchants

GRACE, FIRST, LEASE = 30_000, 10_000, 60_000


@pytest.fixture
async def seeded(any_store: AdminStore) -> AdminStore:
    await seed_merchants(any_store)
    await any_store.add_order(PayOrder(MCH_ID, "P1", "ALIPAY_QR", "CAD", 100_000, NOW_MS))
    await any_store.add_order(PayOrder(OTHER_MCH_ID, "Q1", "ALIPAY_QR", "CAD", 100_000, NOW_MS))
    return any_store


async def reserve(store: AdminStore, rid: str, *, mch_id: str = MCH_ID, at: int = NOW_MS) -> None:
    order = "P1" if mch_id == MCH_ID else "Q1"
    request = RefundRequest(mch_id, "N" + rid, order, 100, LOGIN, "127.0.0.1")
    await store.reserve(RefundDraft(request, rid, at))


async def lease(store: AdminStore, now: int, limit: int = 100) -> list[str]:
    leased = await store.lease_due(
        now, limit=limit, lease_ms=LEASE, pending_grace_ms=GRACE, first_check_ms=FIRST
    )
    return sorted(refund.refund_order_id for refund in leased)


async def test_a_pending_refund_is_due_after_the_grace(seeded: AdminStore) -> None:
    await reserve(seeded, "R1")
    assert await lease(seeded, NOW_MS + GRACE - 1) == []
    assert await lease(seeded, NOW_MS + GRACE) == ["R1"]


async def test_a_processing_refund_is_due_a_first_interval_after_its_change(
    seeded: AdminStore,
) -> None:
    await reserve(seeded, "R1")
    await seeded.transition("R1", Transition(RefundStatus.PROCESSING, NOW_MS + 5, "unknown"))
    assert await lease(seeded, NOW_MS + 5 + FIRST - 1) == []
    assert await lease(seeded, NOW_MS + 5 + FIRST) == ["R1"]


async def test_a_leased_refund_is_not_leased_again_until_the_lease_ends(
    seeded: AdminStore,
) -> None:
    await reserve(seeded, "R1")
    now = NOW_MS + GRACE
    assert await lease(seeded, now) == ["R1"]
    assert await lease(seeded, now + LEASE - 1) == []
    assert await lease(seeded, now + LEASE) == ["R1"]  # a crashed worker's lease runs out


async def test_final_and_review_refunds_are_never_due(seeded: AdminStore) -> None:
    for rid, target in (
        ("R1", RefundStatus.SUCCEEDED),
        ("R2", RefundStatus.FAILED),
        ("R3", RefundStatus.REVIEW),
    ):
        await reserve(seeded, rid)
        await seeded.transition(rid, Transition(target, NOW_MS, "test"))
    assert await lease(seeded, NOW_MS + 100 * 86_400_000) == []


async def test_the_limit_bounds_one_lease(seeded: AdminStore) -> None:
    for number in range(5):
        await reserve(seeded, f"R{number}")
    first = await lease(seeded, NOW_MS + GRACE, limit=3)
    second = await lease(seeded, NOW_MS + GRACE, limit=3)
    assert len(first) == 3
    assert len(second) == 2
    assert not set(first) & set(second)


async def test_a_backlog_larger_than_a_lease_is_leased_in_due_order(seeded: AdminStore) -> None:
    # Neither insertion nor id order is due order; R4's check was scheduled.
    for rid, at in (("R1", NOW_MS + 30), ("R2", NOW_MS + 10), ("R3", NOW_MS + 20)):
        await reserve(seeded, rid, at=at)
    await reserve(seeded, "R4", at=NOW_MS + 40)
    await seeded.schedule_check("R4", RefundStatus.PENDING, NOW_MS + GRACE + 15)
    now = NOW_MS + GRACE + 1_000
    leased = [await lease(seeded, now, limit=1) for _ in range(4)]
    assert leased == [["R2"], ["R4"], ["R3"], ["R1"]]


async def test_schedule_check_sets_the_next_check_only_in_the_expected_status(
    seeded: AdminStore,
) -> None:
    await reserve(seeded, "R1")
    assert await seeded.schedule_check("R1", RefundStatus.PENDING, NOW_MS + 500_000)
    assert await lease(seeded, NOW_MS + 499_999) == []
    assert await lease(seeded, NOW_MS + 500_000) == ["R1"]
    assert not await seeded.schedule_check("R1", RefundStatus.PROCESSING, NOW_MS)
    assert not await seeded.schedule_check("nope", RefundStatus.PENDING, NOW_MS)


async def test_concurrent_leases_never_share_a_refund(seeded: AdminStore, backend: Backend) -> None:
    for number in range(30):
        await reserve(seeded, f"R{number:02d}")
    stores = [backend.open() for _ in range(4)]
    try:
        batches = await asyncio.gather(
            *(lease(store, NOW_MS + GRACE, limit=10) for store in stores for _ in range(2))
        )
    finally:
        for store in stores:
            await store.close()
    taken = [rid for batch in batches for rid in batch]
    assert len(taken) == len(set(taken)) == 30


async def test_get_refund_list_and_events(seeded: AdminStore) -> None:
    await reserve(seeded, "R1", at=NOW_MS)
    await reserve(seeded, "R2", at=NOW_MS + 1)
    await reserve(seeded, "R3", mch_id=OTHER_MCH_ID, at=NOW_MS + 2)
    await seeded.transition(
        "R1", Transition(RefundStatus.REVIEW, NOW_MS + 9, "stuck", login_name="ops")
    )
    refund = await seeded.get_refund("R1")
    assert refund is not None
    assert refund.status is RefundStatus.REVIEW
    assert await seeded.get_refund("nope") is None
    listed = await seeded.list_refunds()
    assert [r.refund_order_id for r in listed] == ["R3", "R2", "R1"]
    review = await seeded.list_refunds(status=RefundStatus.REVIEW)
    assert [r.refund_order_id for r in review] == ["R1"]
    mine = await seeded.list_refunds(mch_id=OTHER_MCH_ID)
    assert [r.refund_order_id for r in mine] == ["R3"]
    assert [r.refund_order_id for r in await seeded.list_refunds(limit=1)] == ["R3"]
    events = await seeded.refund_events("R1")
    assert [(e.kind, e.from_status, e.to_status, e.login_name) for e in events] == [
        ("requested", None, "PENDING", LOGIN),
        ("status", "PENDING", "REVIEW", "ops"),
    ]
    assert events[1].reason == "stuck"
    assert events[1].at == NOW_MS + 9
    assert await seeded.refund_events("nope") == []
