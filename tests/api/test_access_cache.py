"""Refunds authorize against the process's copy of their merchant and operator
(service/access.py). A change made in the database after the copy was taken
counts at once: nothing is reserved, answered or sent under what no longer holds."""

from __future__ import annotations

import pytest

from refundgate.domain.merchant import Merchant
from refundgate.domain.secret import Secret
from refundgate.ports import Access
from refundgate.service import AccessCache
from tests.api.support import (
    assert_accepted,
    assert_protocol_failure,
    assert_refused,
    nothing_changes,
)
from tests.conftest import KEY, LOGIN, MCH_ID, Gateway

NEW_KEY = "ROTATED2027"


async def cached(gateway: Gateway) -> None:
    """One refund, so that the merchant and operator are in the cache."""
    assert_accepted(await gateway.refund(mchRefundNo="R-0"), status=2)
    assert gateway.deps.access_cache is not None
    assert gateway.deps.access_cache.get(MCH_ID, LOGIN) is not None


async def test_a_rotated_key_signs_at_once_and_the_replaced_one_no_longer(
    gateway: Gateway,
) -> None:
    await cached(gateway)
    await gateway.backend.execute(
        "UPDATE merchants SET sign_key = ? WHERE mch_id = ?", NEW_KEY, MCH_ID
    )

    with nothing_changes(gateway):
        assert_protocol_failure(await gateway.refund(key=KEY, mchRefundNo="R-1"), "SIGN_ERROR")
    assert_accepted(await gateway.refund(key=NEW_KEY, mchRefundNo="R-2"), status=2, key=NEW_KEY)


async def test_a_merchant_disabled_after_its_copy_was_taken_is_refused_at_once(
    gateway: Gateway,
) -> None:
    await cached(gateway)
    await gateway.backend.execute(
        "UPDATE merchants SET status = 'DISABLED' WHERE mch_id = ?", MCH_ID
    )

    with nothing_changes(gateway):
        assert_protocol_failure(await gateway.refund(mchRefundNo="R-1"), "MCH_DISABLED")
        # a retry of a refund already made is not replayed to it either
        assert_protocol_failure(await gateway.refund(mchRefundNo="R-0"), "MCH_DISABLED")


async def test_an_operator_stripped_of_the_right_is_refused_at_once(gateway: Gateway) -> None:
    await cached(gateway)
    await gateway.backend.execute(
        "UPDATE operators SET may_refund = ? WHERE mch_id = ? AND login_name = ?",
        False, MCH_ID, LOGIN,
    )  # fmt: skip

    with nothing_changes(gateway):
        assert_protocol_failure(await gateway.refund(mchRefundNo="R-1"), "LOGIN_NAME_INVALID")


async def test_a_refusal_is_told_only_under_a_copy_that_still_holds(gateway: Gateway) -> None:
    await cached(gateway)
    await gateway.backend.execute(
        "UPDATE merchants SET status = 'DISABLED' WHERE mch_id = ?", MCH_ID
    )
    with nothing_changes(gateway):
        answer = await gateway.refund(mchRefundNo="R-1", refundAmount="99999")
    assert_protocol_failure(answer, "MCH_DISABLED")  # not the amount refusal

    await gateway.backend.execute("UPDATE merchants SET status = 'ACTIVE' WHERE mch_id = ?", MCH_ID)
    assert_refused(
        await gateway.refund(mchRefundNo="R-1", refundAmount="99999"), "REFUND_AMOUNT_EXCEEDED"
    )


def test_the_cache_holds_at_most_its_size_and_drops_the_oldest() -> None:
    cache = AccessCache(size=2)
    entries = [Access(Merchant(f"M{n}", Secret("K")), None) for n in range(3)]
    for n, access in enumerate(entries):
        cache.put(f"M{n}", None, access)
    assert len(cache) == 2
    assert cache.get("M0", None) is None
    assert cache.get("M2", None) is entries[2]
    cache.forget("M2", None)
    assert cache.get("M2", None) is None


async def test_a_change_between_the_read_and_the_reservation_reserves_nothing(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The merchant's key changes after the gateway read it, before it reserves:
    # the request verified under a key no longer current must reserve nothing.
    read = gateway.store.access

    async def read_then_rotate(mch_id: str, login_name: str | None) -> Access | None:
        access = await read(mch_id, login_name)
        await gateway.backend.execute(
            "UPDATE merchants SET sign_key = ? WHERE mch_id = ?", NEW_KEY, MCH_ID
        )
        return access

    monkeypatch.setattr(gateway.store, "access", read_then_rotate)
    before, calls = gateway.snapshot(), gateway.ledger.calls
    answer = await gateway.refund(mchRefundNo="R-1")
    after = gateway.snapshot()
    assert_protocol_failure(answer, "SYSTEMERROR")
    for table in ("pay_orders", "refunds", "refund_events", "notifications"):
        assert after[table] == before[table]
    assert gateway.ledger.calls == calls
    assert "send the request again" in answer["retMsg"]
