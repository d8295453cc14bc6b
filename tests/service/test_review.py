"""Manual resolution: an operator's decision is a checked transition, recorded, once."""

from __future__ import annotations

import asyncio

import pytest

from refundgate.domain import PayOrder, RefundDraft, RefundRequest, RefundStatus
from refundgate.domain.errors import InvalidTransition, RefundNotFound
from refundgate.ports import AdminStore, Transition
from refundgate.service import Deps
from refundgate.service.review import resolve_refund
from tests.backends import Backend
from tests.conftest import LOGIN, MCH_ID, NOW_MS, CountingIds, FakeClock, seed_merchants


@pytest.fixture
async def store(any_store: AdminStore) -> AdminStore:
    await seed_merchants(any_store)
    await any_store.add_order(PayOrder(MCH_ID, "P1", "ALIPAY_QR", "CAD", 10_000, NOW_MS))
    return any_store


async def reserve(store: AdminStore, rid: str, status: RefundStatus | None = None) -> None:
    request = RefundRequest(MCH_ID, "N" + rid, "P1", 1_000, LOGIN, "127.0.0.1")
    await store.reserve(RefundDraft(request, rid, NOW_MS))
    if status is not None:
        await store.transition(rid, Transition(status, NOW_MS, "test"))


def deps(store: AdminStore) -> Deps:
    return Deps(store, {}, FakeClock(), CountingIds())


@pytest.mark.parametrize(
    "start",
    [RefundStatus.REVIEW, RefundStatus.PROCESSING, None],
    ids=["review", "processing", "pending"],
)
@pytest.mark.parametrize("succeeded", [True, False])
async def test_an_unsettled_refund_is_resolved_and_balances_follow(
    store: AdminStore, backend: Backend, start: RefundStatus | None, succeeded: bool
) -> None:
    await reserve(store, "R1", start)
    resolved = await resolve_refund(
        deps(store), "R1", succeeded=succeeded, reason="bank says so", login_name="auditor"
    )
    assert resolved.status is (RefundStatus.SUCCEEDED if succeeded else RefundStatus.FAILED)
    assert await backend.balances("P1") == ((1_000, 0, 1) if succeeded else (0, 0, 0))
    last = (await store.refund_events("R1"))[-1]
    assert (last.login_name, last.reason) == ("auditor", "resolved by an operator: bank says so")
    assert last.detail is not None
    assert "manual" in last.detail
    outbox = await backend.fetch("SELECT refund_status FROM notifications")
    assert len(outbox) <= 1  # a notification row when the merchant has a notify URL


@pytest.mark.parametrize("final", [RefundStatus.SUCCEEDED, RefundStatus.FAILED])
async def test_a_final_refund_cannot_be_resolved_again(
    store: AdminStore, backend: Backend, final: RefundStatus
) -> None:
    await reserve(store, "R1", final)
    before = await backend.snapshot()
    with pytest.raises(InvalidTransition, match=f"already {final.name}"):
        await resolve_refund(deps(store), "R1", succeeded=True, reason="x", login_name="ops")
    with pytest.raises(RefundNotFound):
        await resolve_refund(deps(store), "NOPE", succeeded=True, reason="x", login_name="ops")
    assert await backend.snapshot() == before


async def test_two_operators_at_once_one_decision_wins(store: AdminStore, backend: Backend) -> None:
    await reserve(store, "R1", RefundStatus.REVIEW)
    other = backend.open()
    try:
        results = await asyncio.gather(
            resolve_refund(deps(store), "R1", succeeded=True, reason="a", login_name="ann"),
            resolve_refund(deps(other), "R1", succeeded=False, reason="b", login_name="bob"),
            return_exceptions=True,
        )
    finally:
        await other.close()
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1
    assert isinstance(errors[0], InvalidTransition)
    final = await store.get_refund("R1")
    assert final is not None
    refunded = 1_000 if final.status is RefundStatus.SUCCEEDED else 0
    assert await backend.balances("P1") == (refunded, 0, 1 if refunded else 0)
    decisions = [e for e in await store.refund_events("R1") if e.from_status == "REVIEW"]
    assert len(decisions) == 1
