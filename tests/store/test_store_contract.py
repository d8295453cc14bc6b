"""The store contract, run on SQLite and on PostgreSQL alike.

Reservations, replays, conflicts, refusals that change nothing, compare-and-set
transitions, the outbox, and G1 held by the database itself.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from alembic.script import ScriptDirectory

from refundgate.domain import (
    AccessChanged,
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
from refundgate.domain.errors import (
    ChannelMismatch,
    ChannelNotSupported,
    CurrencyMismatch,
    OrderNotFound,
    OrderNotRefundable,
    RefundLimitExceeded,
)
from refundgate.domain.merchant import Access, Merchant, Operator
from refundgate.domain.model import OrderStatus
from refundgate.domain.secret import Secret
from refundgate.ports import (
    EXCHANGE_TEXT_LIMIT,
    AdminStore,
    ChannelExchange,
    StoreError,
    Transition,
)
from refundgate.store.migrate import alembic_config
from tests.backends import Backend
from tests.conftest import DAY_MS, KEY, LOGIN, MCH_ID, NOW_MS, OTHER_MCH_ID, seed_merchants


@pytest.fixture
async def seeded(any_store: AdminStore) -> AdminStore:
    await seed_merchants(any_store)
    await any_store.add_order(PayOrder(MCH_ID, "P1", "ALIPAY_QR", "CAD", 10_000, NOW_MS))
    return any_store


def draft(
    number: str = "N1",
    amount: int = 1_000,
    rid: str = "RID1",
    *,
    order: str = "P1",
    mch_id: str = MCH_ID,
    at: int = NOW_MS,
    **kw: object,
) -> RefundDraft:
    request = RefundRequest(mch_id, number, order, amount, LOGIN, "127.0.0.1", **kw)  # type: ignore[arg-type]
    return RefundDraft(request, rid, at)


async def test_a_reservation_holds_the_amount_and_records_the_request(
    seeded: AdminStore, backend: Backend
) -> None:
    reservation = await seeded.reserve(draft())
    assert reservation.created
    assert reservation.refund.status is RefundStatus.PENDING
    assert reservation.order.reserved_amount == 1_000
    assert await backend.balances("P1") == (0, 1_000, 1)
    events = await backend.fetch("SELECT kind, to_status, login_name, reason FROM refund_events")
    assert events == [("requested", "PENDING", LOGIN, "refund of 1000 CAD reserved")]


async def test_the_same_number_again_replays_without_reserving(
    seeded: AdminStore, backend: Backend
) -> None:
    first = await seeded.reserve(draft())
    again = await seeded.reserve(draft(rid="RID2"))
    assert not again.created
    assert again.refund == first.refund
    assert again.order == await seeded.get_order(MCH_ID, "P1")
    assert await backend.balances("P1") == (0, 1_000, 1)


async def test_a_retry_replays_even_when_the_order_could_take_no_new_refund(
    seeded: AdminStore, backend: Backend
) -> None:
    # The whole order is held by the first request: a new refund would be refused
    # (amount exceeded), but the retry of that same request is answered with it.
    first = await seeded.reserve(draft(amount=10_000))
    before = await backend.snapshot()
    again = await seeded.reserve(draft(amount=10_000, rid="RID2"))
    assert not again.created
    assert again.refund == first.refund
    assert await backend.snapshot() == before


async def test_a_number_reused_on_a_missing_order_conflicts_and_changes_nothing(
    seeded: AdminStore, backend: Backend
) -> None:
    await seeded.reserve(draft())
    before = await backend.snapshot()
    with pytest.raises(RefundNumberConflict):
        await seeded.reserve(draft(rid="RID2", order="NO-SUCH-ORDER"))
    assert await backend.snapshot() == before


async def test_the_same_number_for_another_amount_conflicts_and_changes_nothing(
    seeded: AdminStore, backend: Backend
) -> None:
    await seeded.reserve(draft())
    before = await backend.snapshot()
    with pytest.raises(RefundNumberConflict):
        await seeded.reserve(draft(amount=1_001, rid="RID2"))
    assert await backend.snapshot() == before


async def test_the_same_number_for_another_order_conflicts(
    seeded: AdminStore, backend: Backend
) -> None:
    await seeded.add_order(PayOrder(MCH_ID, "P2", "ALIPAY_QR", "CAD", 10_000, NOW_MS))
    await seeded.reserve(draft())
    before = await backend.snapshot()
    with pytest.raises(RefundNumberConflict):
        await seeded.reserve(draft(rid="RID2", order="P2"))
    assert await backend.snapshot() == before


async def test_another_merchant_may_use_the_same_number(seeded: AdminStore) -> None:
    await seeded.add_order(PayOrder(OTHER_MCH_ID, "Q1", "ALIPAY_QR", "CAD", 5_000, NOW_MS))
    await seeded.reserve(draft())
    other = await seeded.reserve(draft(rid="RID2", order="Q1", mch_id=OTHER_MCH_ID))
    assert other.created
    assert other.refund.mch_id == OTHER_MCH_ID


def p9(channel_id: str, days_ago: int = 0, **kw: int) -> PayOrder:
    """A 100-cent order ``P9`` of the default merchant."""
    return PayOrder(MCH_ID, "P9", channel_id, "CAD", 100, NOW_MS - days_ago * DAY_MS, **kw)


SPACED = {"refund_count": 1, "last_refund_at": NOW_MS - 59_999}


@pytest.mark.parametrize(
    ("order", "request_fields", "error"),
    [
        (p9("ALIPAY_QR"), {"amount": 101}, RefundAmountExceeded),
        (p9("CC_PAX"), {}, ChannelNotSupported),
        (p9("UPI_EX"), {}, ChannelNotSupported),
        (p9("WX_"), {}, ChannelNotSupported),
        (p9("ALIPAY_QR"), {"currency": "USD"}, CurrencyMismatch),
        (p9("ALIPAY_QR"), {"channel_id": "ALIPAY_WAP"}, ChannelMismatch),
        (p9("ALIPAY_QR", days_ago=366), {}, RefundLimitExceeded),
        (p9("UPI_QR", days_ago=31), {}, RefundLimitExceeded),
        (p9("UPI_SEQ", days_ago=331), {}, RefundLimitExceeded),
        (p9("WX_NATIVE", refund_count=50), {}, RefundLimitExceeded),
        (p9("WX_NATIVE", **SPACED), {}, RefundLimitExceeded),
        (replace(p9("ALIPAY_QR"), mch_id=OTHER_MCH_ID), {}, OrderNotFound),
        (replace(p9("ALIPAY_QR"), status=OrderStatus.CLOSED), {}, OrderNotRefundable),
    ],
)
async def test_a_refused_reservation_says_why_and_changes_nothing(
    seeded: AdminStore,
    backend: Backend,
    order: PayOrder,
    request_fields: dict[str, object],
    error: type[Exception],
) -> None:
    await seeded.add_order(order)
    before = await backend.snapshot()
    fields = {"amount": 100, **request_fields}
    with pytest.raises(error):
        await seeded.reserve(draft(order="P9", **fields))  # type: ignore[arg-type]
    assert await backend.snapshot() == before


async def test_an_unknown_order_is_refused(seeded: AdminStore, backend: Backend) -> None:
    before = await backend.snapshot()
    with pytest.raises(OrderNotFound):
        await seeded.reserve(draft(order="NOPE"))
    assert await backend.snapshot() == before


async def test_the_limits_at_their_edges_still_allow_a_refund(seeded: AdminStore) -> None:
    edges = [
        p9("ALIPAY_QR", days_ago=365),
        p9("UPI_QR", days_ago=30),
        p9("UPI_SEQ", days_ago=330),
        p9("WX_NATIVE", refund_count=49),
        p9("WX_NATIVE", refund_count=1, last_refund_at=NOW_MS - 60_000),
        p9("ALIPAY_QR", refunded_amount=60, reserved_amount=30),
    ]
    for i, edge in enumerate(edges):
        order = replace(edge, pay_order_id=f"E{i}")
        await seeded.add_order(order)
        amount = order.amount - order.refunded_amount - order.reserved_amount
        reservation = await seeded.reserve(
            draft(f"E{i}", amount, f"RIDE{i}", order=order.pay_order_id)
        )
        assert reservation.created


async def test_concurrent_reservations_never_over_refund(
    seeded: AdminStore, backend: Backend
) -> None:
    drafts = [draft(f"N{i}", 700, f"RID{i}") for i in range(30)]
    results = await asyncio.gather(*(seeded.reserve(d) for d in drafts), return_exceptions=True)
    accepted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, RefundAmountExceeded)]
    assert len(accepted) == 14  # 14 × 700 = 9,800 ≤ 10,000 < 15 × 700
    assert len(refused) == 16
    assert await backend.balances("P1") == (0, 9_800, 14)


async def test_concurrent_twins_of_one_number_get_one_refund(
    seeded: AdminStore, backend: Backend
) -> None:
    twins = [draft("TWIN", 300, f"RID{i}") for i in range(20)]
    results = await asyncio.gather(*(seeded.reserve(d) for d in twins))
    assert sum(r.created for r in results) == 1
    assert len({r.refund.refund_order_id for r in results}) == 1
    assert await backend.balances("P1") == (0, 300, 1)


async def test_success_moves_the_reservation_to_refunded(
    seeded: AdminStore, backend: Backend
) -> None:
    await seeded.reserve(draft())
    refund = await seeded.transition(
        "RID1", Transition(RefundStatus.SUCCEEDED, NOW_MS + 5, "ok", channel_refund_id="CH1")
    )
    assert refund.status is RefundStatus.SUCCEEDED
    assert refund.succeeded_at == NOW_MS + 5
    assert refund.channel_refund_id == "CH1"
    assert await backend.balances("P1") == (1_000, 0, 1)
    assert refund == await seeded.find_refund(MCH_ID, refund_order_id="RID1")


async def test_failure_releases_the_reservation(seeded: AdminStore, backend: Backend) -> None:
    await seeded.reserve(draft())
    failed = await seeded.transition(
        "RID1", Transition(RefundStatus.FAILED, NOW_MS, "no", err_code="X", err_msg="refused")
    )
    assert (failed.err_code, failed.err_msg) == ("X", "refused")
    assert await backend.balances("P1") == (0, 0, 0)


async def test_processing_then_success_records_each_step(
    seeded: AdminStore, backend: Backend
) -> None:
    await seeded.reserve(draft())
    await seeded.transition("RID1", Transition(RefundStatus.PROCESSING, NOW_MS, "accepted"))
    assert await backend.balances("P1") == (0, 1_000, 1)
    await seeded.transition(
        "RID1",
        Transition(RefundStatus.SUCCEEDED, NOW_MS + 1, "settled", detail={"answer": "SUCCESS"}),
    )
    events = await backend.fetch(
        "SELECT kind, from_status, to_status, reason, detail FROM refund_events ORDER BY event_id"
    )
    assert events == [
        ("requested", None, "PENDING", "refund of 1000 CAD reserved", None),
        ("status", "PENDING", "PROCESSING", "accepted", None),
        ("status", "PROCESSING", "SUCCEEDED", "settled", '{"answer":"SUCCESS"}'),
    ]
    attempts = await backend.fetch("SELECT attempts FROM refunds WHERE refund_order_id = 'RID1'")
    assert attempts == [(1,)]


async def test_applying_an_outcome_twice_changes_nothing_the_second_time(
    seeded: AdminStore, backend: Backend
) -> None:
    await seeded.reserve(draft())
    done = Transition(RefundStatus.SUCCEEDED, NOW_MS, "ok")
    await seeded.transition("RID1", done)
    before = await backend.snapshot()
    again = await seeded.transition("RID1", done)
    late_failure = await seeded.transition("RID1", Transition(RefundStatus.FAILED, NOW_MS, "no"))
    assert again.status is late_failure.status is RefundStatus.SUCCEEDED
    assert await backend.snapshot() == before


@pytest.mark.parametrize("knowing", ["none", "half", "all"])
async def test_concurrent_outcomes_apply_once(
    seeded: AdminStore, backend: Backend, knowing: str
) -> None:
    # Callers that hold the reserved refund take the compare-and-set path; the
    # others read the stored one. Mixed or not, one outcome is applied.
    reserved = (await seeded.reserve(draft())).refund
    outcomes = [
        Transition(RefundStatus.SUCCEEDED if i % 2 else RefundStatus.FAILED, NOW_MS, "race")
        for i in range(10)
    ]
    known = {"none": [], "half": range(0, 10, 2), "all": range(10)}[knowing]
    results = await asyncio.gather(
        *(
            seeded.transition("RID1", t, known=reserved if i in known else None)
            for i, t in enumerate(outcomes)
        )
    )
    # Whichever outcome came first is the one every caller sees, and the only one applied.
    assert len({r.status for r in results}) == 1
    final = results[0].status
    assert final.is_final
    expected = (1_000, 0, 1) if final is RefundStatus.SUCCEEDED else (0, 0, 0)
    assert await backend.balances("P1") == expected
    events = await backend.fetch("SELECT count(*) FROM refund_events WHERE kind = 'status'")
    assert events == [(1,)]


async def test_a_final_state_queues_a_notification_for_the_known_url(
    seeded: AdminStore, backend: Backend
) -> None:
    await seeded.reserve(draft(notify_url="https://merchant.example/refunds"))
    await seeded.reserve(draft("N2", rid="RID2"))  # no URL: the merchant has none either
    for rid in ("RID1", "RID2"):
        await seeded.transition(rid, Transition(RefundStatus.SUCCEEDED, NOW_MS, "ok"))
    rows = await backend.fetch(
        "SELECT refund_order_id, notify_url, refund_status, state FROM notifications"
    )
    assert rows == [("RID1", "https://merchant.example/refunds", "SUCCEEDED", "PENDING")]


async def test_the_merchants_default_notify_url_is_used(
    any_store: AdminStore, backend: Backend
) -> None:
    await any_store.add_merchant(
        Merchant(MCH_ID, Secret("K"), notify_url="https://m.example/n"), now=NOW_MS
    )
    await any_store.add_order(PayOrder(MCH_ID, "P1", "ALIPAY_QR", "CAD", 10_000, NOW_MS))
    await any_store.reserve(draft())
    await any_store.transition("RID1", Transition(RefundStatus.FAILED, NOW_MS, "no"))
    assert await backend.fetch("SELECT notify_url FROM notifications") == [("https://m.example/n",)]


async def test_the_database_itself_refuses_an_over_refund(
    seeded: AdminStore, backend: Backend
) -> None:
    with pytest.raises(Exception, match=r"(?i)check|constraint") as caught:
        await backend.execute(
            "UPDATE pay_orders SET reserved_amount = 10001 WHERE pay_order_id = 'P1'"
        )
    assert "never_over_refunded" in str(caught.value) or backend.name == "sqlite"
    assert await backend.balances("P1") == (0, 0, 0)


async def test_duplicates_and_unknown_merchants_are_refused(
    seeded: AdminStore, backend: Backend
) -> None:
    before = await backend.snapshot()
    with pytest.raises(AlreadyExists):
        await seeded.add_merchant(Merchant(MCH_ID, Secret("KEY12345")), now=NOW_MS)
    with pytest.raises(AlreadyExists):
        await seeded.add_order(PayOrder(MCH_ID, "P1", "ALIPAY_QR", "CAD", 1, NOW_MS))
    with pytest.raises(AlreadyExists):
        await seeded.add_operator(Operator(MCH_ID, LOGIN), now=NOW_MS)
    with pytest.raises(MerchantNotFound):
        await seeded.add_order(PayOrder("NOPE", "P9", "ALIPAY_QR", "CAD", 1, NOW_MS))
    with pytest.raises(MerchantNotFound):
        await seeded.add_operator(Operator("NOPE", LOGIN), now=NOW_MS)
    assert await backend.snapshot() == before


async def test_access_finds_merchants_and_operators(seeded: AdminStore) -> None:
    found = await seeded.access(MCH_ID, LOGIN)
    assert found is not None
    assert found.operator is not None
    assert found.merchant.key.reveal() == "TESTKEY123"
    assert found.operator.may_refund
    viewer = await seeded.access(MCH_ID, "viewer")
    assert viewer is not None
    assert viewer.operator is not None
    assert not viewer.operator.may_refund
    stranger = await seeded.access(MCH_ID, "nobody")
    assert stranger is not None
    assert stranger.operator is None
    assert await seeded.access("NOPE", LOGIN) is None
    assert await seeded.merchant_count() == 2


async def test_a_transition_of_an_unknown_refund_is_refused(seeded: AdminStore) -> None:
    with pytest.raises(RefundNotFound):
        await seeded.transition("NOPE", Transition(RefundStatus.SUCCEEDED, NOW_MS, "ok"))


async def test_a_reservation_returns_exactly_what_it_stored(seeded: AdminStore) -> None:
    reservation = await seeded.reserve(
        draft(device="WEB", notify_url="https://m.example/n", extra={"param1": "x"})
    )
    stored_refund = await seeded.find_refund(MCH_ID, refund_order_id="RID1")
    by_number = await seeded.find_refund(MCH_ID, mch_refund_no="N1")
    stored_order = await seeded.get_order(MCH_ID, "P1")
    assert reservation.refund == stored_refund == by_number
    assert reservation.order == stored_order
    assert await seeded.find_refund(OTHER_MCH_ID, refund_order_id="RID1") is None
    assert await seeded.get_order(OTHER_MCH_ID, "P1") is None


async def test_a_second_migration_changes_nothing(seeded: AdminStore, backend: Backend) -> None:
    before = await backend.snapshot()
    await seeded.migrate()
    assert await backend.snapshot() == before
    head = ScriptDirectory.from_config(alembic_config(backend.url)).get_current_head()
    assert await backend.fetch("SELECT version_num FROM alembic_version") == [(head,)]


# The authority a reservation is made under (a merchant and operator read earlier,
# perhaps from a cache): it must still hold when the reservation is made.

AUTHORITY = Access(Merchant(MCH_ID, Secret(KEY), name="Test"), Operator(MCH_ID, LOGIN))

CHANGES: dict[str, tuple[str, tuple[object, ...]]] = {
    "key rotated": ("UPDATE merchants SET sign_key = 'NEWKEY' WHERE mch_id = ?", (MCH_ID,)),
    "merchant disabled": ("UPDATE merchants SET status = 'DISABLED' WHERE mch_id = ?", (MCH_ID,)),
    "previous key added": ("UPDATE merchants SET previous_key = 'OLD' WHERE mch_id = ?", (MCH_ID,)),
    "operator may not refund": (
        "UPDATE operators SET may_refund = ? WHERE login_name = ?", (False, LOGIN),
    ),
    "operator inactive": ("UPDATE operators SET active = ? WHERE login_name = ?", (False, LOGIN)),
    "operator removed": ("DELETE FROM operators WHERE login_name = ?", (LOGIN,)),
}  # fmt: skip


def authorized(number: str = "N1", amount: int = 1_000, rid: str = "RID1") -> RefundDraft:
    return replace(draft(number, amount, rid), authority=AUTHORITY)


async def test_a_reservation_under_an_authority_that_still_holds_goes_ahead(
    seeded: AdminStore, backend: Backend
) -> None:
    # What grants nothing may change: the name, the notification address.
    await backend.execute(
        "UPDATE merchants SET name = 'Renamed', notify_url = 'https://m.example/n'"
        " WHERE mch_id = ?",
        MCH_ID,
    )
    assert (await seeded.reserve(authorized())).created
    assert not (await seeded.reserve(authorized(rid="RID2"))).created  # a replay
    with pytest.raises(RefundAmountExceeded):
        await seeded.reserve(authorized("N2", 99_999, "RID3"))
    assert await backend.balances("P1") == (0, 1_000, 1)


@pytest.mark.parametrize("what", CHANGES)
async def test_a_changed_merchant_or_operator_stops_the_reservation_and_changes_nothing(
    seeded: AdminStore, backend: Backend, what: str
) -> None:
    assert (await seeded.reserve(authorized())).created
    statement, arguments = CHANGES[what]
    await backend.execute(statement, *arguments)
    before = await backend.snapshot()
    for stopped in (
        authorized("N2", 1_000, "RID2"),  # a new refund
        authorized("N1", 1_000, "RID3"),  # a retry, which would replay
        authorized("N3", 99_999, "RID4"),  # one that would be refused
    ):
        with pytest.raises(AccessChanged):
            await seeded.reserve(stopped)
    assert await backend.snapshot() == before
    assert (await seeded.reserve(draft("N2", rid="RID5"))).created  # no authority: no check


async def test_an_empty_previous_key_reads_as_none_and_does_not_stop_reservations(
    seeded: AdminStore, backend: Backend
) -> None:
    # Written by hand in the database, '' is no key: the store reads it as None.
    await backend.execute("UPDATE merchants SET previous_key = '' WHERE mch_id = ?", MCH_ID)
    assert (await seeded.reserve(authorized())).created


_ACCEPTED = Transition(RefundStatus.PROCESSING, NOW_MS, "accepted", channel_refund_id="CH-FIRST")
_HELD = Transition(RefundStatus.REVIEW, NOW_MS, "held", err_code="E0", err_msg="held for review")


_RESERVED = Transition(RefundStatus.PENDING, NOW_MS, "reserved")
_OUTCOMES = [
    (None, Transition(RefundStatus.SUCCEEDED, NOW_MS + 1, "ok", channel_refund_id="CH-NEW")),
    (None, Transition(RefundStatus.SUCCEEDED, NOW_MS + 1, "ok")),
    (None, Transition(RefundStatus.FAILED, NOW_MS + 1, "no", err_code="E1", err_msg="m")),
    (None, Transition(RefundStatus.PROCESSING, NOW_MS + 1, "accepted")),
    (None, Transition(RefundStatus.REVIEW, NOW_MS + 1, "odd answer", err_code="E2")),
    (_ACCEPTED, Transition(RefundStatus.SUCCEEDED, NOW_MS + 1, "settled")),
    (_ACCEPTED, Transition(RefundStatus.SUCCEEDED, NOW_MS + 1, "ok", channel_refund_id="CH2")),
    (_ACCEPTED, Transition(RefundStatus.FAILED, NOW_MS + 1, "no", err_msg="only a message")),
    (_HELD, Transition(RefundStatus.SUCCEEDED, NOW_MS + 1, "resolved")),
    (_HELD, Transition(RefundStatus.FAILED, NOW_MS + 1, "resolved", err_code="E9")),
]


@pytest.mark.parametrize(("first", "change"), _OUTCOMES)
async def test_an_outcome_given_the_known_refund_returns_what_is_stored(
    seeded: AdminStore, first: Transition | None, change: Transition
) -> None:
    known = (await seeded.reserve(draft())).refund
    if first is not None:
        known = await seeded.transition("RID1", first)
    moved = await seeded.transition("RID1", change, known=known)
    assert moved.status is change.target
    assert moved == await seeded.find_refund(MCH_ID, refund_order_id="RID1")
    without_known = await seeded.transition("RID1", change)  # the same change, again
    assert without_known == moved


async def _written_for(backend: Backend, rid: str, order: str) -> dict[str, object]:
    """What an outcome wrote for refund ``rid`` of ``order``, without their ids."""
    refund = await backend.fetch(
        "SELECT status, channel_refund_id, err_code, err_msg, succeeded_at, attempts,"
        " updated_at FROM refunds WHERE refund_order_id = ?",
        rid,
    )
    events = await backend.fetch(
        "SELECT kind, from_status, to_status, login_name, client_ip, reason, detail, at"
        " FROM refund_events WHERE refund_order_id = ? ORDER BY event_id",
        rid,
    )
    notifications = await backend.fetch(
        "SELECT mch_id, notify_url, refund_status, state, attempts, next_attempt_at"
        " FROM notifications WHERE refund_order_id = ? ORDER BY notification_id",
        rid,
    )
    return {
        "refund": refund,
        "events": events,
        "notifications": notifications,
        "balances": await backend.balances(order),
    }


@pytest.mark.parametrize(("first", "change"), _OUTCOMES)
async def test_an_outcome_given_the_known_refund_writes_what_one_without_it_writes(
    seeded: AdminStore, backend: Backend, first: Transition | None, change: Transition
) -> None:
    # Two twin refunds on twin orders: one moved knowing the refund (the hot path's
    # compare-and-set), the other with only its id (the store reads it first).
    await seeded.add_order(PayOrder(MCH_ID, "P2", "ALIPAY_QR", "CAD", 10_000, NOW_MS))
    url = "https://shop.example/refunds"  # so that a final status queues a notification
    known = (await seeded.reserve(draft(notify_url=url))).refund
    await seeded.reserve(draft("N2", rid="RID2", order="P2", notify_url=url))
    if first is not None:
        known = await seeded.transition("RID1", first)
        await seeded.transition("RID2", first)
    await seeded.transition("RID1", change, known=known)
    await seeded.transition("RID2", change)
    written = await _written_for(backend, "RID1", "P1")
    assert written == await _written_for(backend, "RID2", "P2")
    assert len(written["notifications"]) == int(change.target.is_final)  # type: ignore[arg-type]
    assert written["events"][-1][1:3] == (  # type: ignore[index]
        (first or _RESERVED).target.name,
        change.target.name,
    )


async def test_an_outcome_given_a_refund_that_moved_on_reads_the_stored_one(
    seeded: AdminStore, backend: Backend
) -> None:
    reserved = (await seeded.reserve(draft())).refund
    await seeded.transition("RID1", _ACCEPTED)  # say, the reconciler got there first
    settled = Transition(RefundStatus.SUCCEEDED, NOW_MS + 1, "settled")
    done = await seeded.transition("RID1", settled, known=reserved)
    assert done == await seeded.find_refund(MCH_ID, refund_order_id="RID1")
    assert (done.status, done.channel_refund_id) == (RefundStatus.SUCCEEDED, "CH-FIRST")
    assert await backend.balances("P1") == (1_000, 0, 1)
    again = await seeded.transition("RID1", settled, known=reserved)  # applied twice
    assert again == done
    assert await backend.balances("P1") == (1_000, 0, 1)


async def test_a_known_refund_of_another_id_is_refused(seeded: AdminStore) -> None:
    reserved = (await seeded.reserve(draft())).refund
    with pytest.raises(ValueError, match="RID1"):
        await seeded.transition("RID2", _ACCEPTED, known=reserved)


async def test_channel_calls_are_kept_per_refund_in_order(seeded: AdminStore) -> None:
    first = ChannelExchange("alipay", "alipay.trade.refund", NOW_MS, '{"a":"1"}', 200, "{}")
    second = ChannelExchange("alipay", "query", NOW_MS + 1, "{}", error="read timeout")
    await seeded.record_exchanges("RID1", [first, second])
    await seeded.record_exchanges("RID2", [replace(first, request="other")])
    await seeded.record_exchanges("RID1", [])  # nothing to keep writes nothing
    assert await seeded.channel_exchanges("RID1") == [first, second]
    assert [x.request for x in await seeded.channel_exchanges("RID2")] == ["other"]
    assert await seeded.channel_exchanges("RID3") == []


async def test_a_long_channel_text_is_cut_at_the_limit(seeded: AdminStore) -> None:
    long = "x" * (EXCHANGE_TEXT_LIMIT + 10)
    await seeded.record_exchanges(
        "RID1", [ChannelExchange("wechat", "refund", NOW_MS, long, 500, long, long)]
    )
    (kept,) = await seeded.channel_exchanges("RID1")
    cut = "x" * EXCHANGE_TEXT_LIMIT
    assert (kept.request, kept.answer, kept.error, kept.status_code) == (cut, cut, cut, 500)


async def test_channel_calls_are_kept_all_or_none(seeded: AdminStore) -> None:
    good = ChannelExchange("wechat", "refund", NOW_MS, "<xml/>", 200, "<xml/>")
    broken = replace(good, request=None)  # type: ignore[arg-type]  # NOT NULL refuses it
    with pytest.raises(StoreError):
        await seeded.record_exchanges("RID1", [good, broken])
    assert await seeded.channel_exchanges("RID1") == []
