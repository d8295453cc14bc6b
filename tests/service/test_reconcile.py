"""The reconciler: refunds end final without anyone acting, on a schedule of injected time."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from structlog.testing import capture_logs

from refundgate.domain import ChannelFamily, PayOrder, RefundDraft, RefundRequest, RefundStatus
from refundgate.domain.model import SandboxOutcome
from refundgate.domain.reconcile import check_offsets
from refundgate.ports import (
    AdminStore,
    ChannelOutcome,
    ChannelRefund,
    ChannelResult,
    NoSuchRefund,
    NotSent,
    OutcomeUnknown,
)
from refundgate.sandbox import SandboxLedger, sandbox_channels
from refundgate.service import Deps, request_refund
from refundgate.service.reconcile import reconcile_due
from tests.backends import Backend
from tests.conftest import LOGIN, MCH_ID, NOW_MS, CountingIds, FakeClock, seed_merchants

DAY = 86_400_000
CHANNELS = {"wechat": "WX_NATIVE", "alipay": "ALIPAY_QR", "unionpay": "UPI_QR"}


@dataclass
class Scripted:
    """A connector whose refund and query answers are scripted, one per call (last repeats)."""

    refunds: list[object] = field(default_factory=list)
    queries: list[object] = field(default_factory=list)
    refund_calls: list[str] = field(default_factory=list)
    query_calls: list[str] = field(default_factory=list)

    @staticmethod
    def _answer(script: list[object], calls: list[str]) -> ChannelOutcome:
        answer = script[min(len(calls) - 1, len(script) - 1)]
        if isinstance(answer, BaseException):
            raise answer
        assert isinstance(answer, ChannelOutcome)
        return answer

    async def refund(self, request: ChannelRefund) -> ChannelOutcome:
        self.refund_calls.append(request.refund.refund_order_id)
        return self._answer(self.refunds, self.refund_calls)

    async def query(self, request: ChannelRefund) -> ChannelOutcome:
        self.query_calls.append(request.refund.refund_order_id)
        return self._answer(self.queries, self.query_calls)


OK = ChannelOutcome(ChannelResult.SUCCEEDED, channel_refund_id="CH1", code="SUCCESS")
BUSY = ChannelOutcome(ChannelResult.PROCESSING, channel_refund_id="CH1", code="PROCESSING")
REFUSED = ChannelOutcome(ChannelResult.FAILED, code="REFUNDCLOSE", message="closed")


@pytest.fixture
async def store(any_store: AdminStore) -> AdminStore:
    await seed_merchants(any_store)
    for family, channel_id in CHANNELS.items():
        for outcome in SandboxOutcome:
            await any_store.add_order(
                PayOrder(
                    MCH_ID, f"{family}-{outcome.value}", channel_id, "CAD", 10_000, NOW_MS,
                    sandbox_outcome=outcome,
                )
            )  # fmt: skip
    return any_store


def deps_with(store: AdminStore, channels: object, clock: FakeClock | None = None) -> Deps:
    registry = channels if isinstance(channels, dict) else dict.fromkeys(ChannelFamily, channels)
    return Deps(store, registry, clock or FakeClock(), CountingIds(), channel_timeout_s=5.0)


def ask(number: str, order: str, amount: int = 1_000) -> RefundRequest:
    return RefundRequest(MCH_ID, number, order, amount, LOGIN, "127.0.0.1")


async def run_for(deps: Deps, clock: FakeClock, ms: int, step: int = 1_000) -> int:
    """Run the reconciler every ``step`` ms of injected time for ``ms``; refunds handled."""
    handled = 0
    end = clock.now + ms
    while clock.now < end:
        clock.advance(step)
        handled += await reconcile_due(deps, clock.now)
    return handled


async def jump_through(deps: Deps, clock: FakeClock, backend: Backend, ms: int) -> None:
    """Run the reconciler at each moment a refund is due, for ``ms`` of injected time."""
    end = clock.now + ms
    while True:
        rows = await backend.fetch(
            "SELECT min(COALESCE(next_check_at, updated_at + 10000)) FROM refunds"
            " WHERE status = 'PROCESSING'"
        )
        due = rows[0][0]
        if due is None or due > end:
            clock.now = end
            await reconcile_due(deps, clock.now)
            return
        clock.now = max(clock.now, int(due))
        await reconcile_due(deps, clock.now)


async def status_of(store: AdminStore, rid: str) -> RefundStatus:
    refund = await store.get_refund(rid)
    assert refund is not None
    return refund.status


@pytest.mark.parametrize("family", list(CHANNELS))
@pytest.mark.parametrize("outcome", [SandboxOutcome.PROCESSING, SandboxOutcome.TIMEOUT])
async def test_sandbox_processing_and_timeout_refunds_succeed_within_a_minute(
    store: AdminStore, backend: Backend, family: str, outcome: SandboxOutcome
) -> None:
    clock = FakeClock()
    deps = deps_with(store, sandbox_channels(SandboxLedger()), clock)
    order = f"{family}-{outcome.value}"
    refund = await request_refund(deps, ask("N1", order))
    assert refund.status is RefundStatus.PROCESSING
    await run_for(deps, clock, 60_000)
    assert await status_of(store, refund.refund_order_id) is RefundStatus.SUCCEEDED
    assert await backend.balances(order) == (1_000, 0, 1)


async def test_a_refund_the_channel_refuses_on_query_ends_failed_and_releases_the_amount(
    store: AdminStore, backend: Backend
) -> None:
    clock = FakeClock()
    channel = Scripted(refunds=[OutcomeUnknown("read timeout")], queries=[BUSY, REFUSED])
    deps = deps_with(store, channel, clock)
    refund = await request_refund(deps, ask("N1", "alipay-succeed"))
    await run_for(deps, clock, 60_000)
    assert await status_of(store, refund.refund_order_id) is RefundStatus.FAILED
    assert await backend.balances("alipay-succeed") == (0, 0, 0)
    assert channel.query_calls == [refund.refund_order_id] * 2  # at 10 s and at 40 s


async def test_unknown_answers_leave_it_processing_and_it_is_asked_again(
    store: AdminStore,
) -> None:
    clock = FakeClock()
    channel = Scripted(refunds=[OutcomeUnknown("reset")], queries=[OutcomeUnknown("502"), OK])
    deps = deps_with(store, channel, clock)
    refund = await request_refund(deps, ask("N1", "alipay-succeed"))
    await run_for(deps, clock, 20_000)
    assert await status_of(store, refund.refund_order_id) is RefundStatus.PROCESSING
    await run_for(deps, clock, 30_000)
    assert await status_of(store, refund.refund_order_id) is RefundStatus.SUCCEEDED


async def test_a_refund_never_settled_goes_to_review_at_the_settle_limit_with_an_alert(
    store: AdminStore, backend: Backend
) -> None:
    clock = FakeClock()
    channel = Scripted(refunds=[BUSY], queries=[BUSY])
    deps = deps_with(store, channel, clock)
    refund = await request_refund(deps, ask("N1", "wechat-succeed"))
    with capture_logs() as logs:
        await jump_through(deps, clock, backend, 7 * DAY - 1)
        assert await status_of(store, refund.refund_order_id) is RefundStatus.PROCESSING
        await jump_through(deps, clock, backend, 1)
    assert await status_of(store, refund.refund_order_id) is RefundStatus.REVIEW
    assert len(channel.query_calls) == len(check_offsets(ChannelFamily.WECHAT))
    alerts = [line for line in logs if line["event"] == "refund_needs_review"]
    assert len(alerts) == 1
    assert alerts[0]["log_level"] == "error"
    events = await store.refund_events(refund.refund_order_id)
    assert events[-1].to_status == "REVIEW"
    assert "7 days" in events[-1].reason
    assert await backend.balances("wechat-succeed") == (0, 1_000, 1)  # still reserved (G1)
    await run_for(deps, clock, 30 * DAY, step=DAY)
    assert len(channel.query_calls) == len(check_offsets(ChannelFamily.WECHAT))


async def test_a_pending_refund_is_sent_again_with_the_same_key_after_the_grace(
    store: AdminStore, backend: Backend
) -> None:
    clock = FakeClock()
    channel = Scripted(refunds=[NotSent("connect refused"), OK])
    deps = deps_with(store, channel, clock)
    refund = await request_refund(deps, ask("N1", "alipay-succeed"))
    assert refund.status is RefundStatus.PENDING
    await run_for(deps, clock, 29_000)
    assert channel.refund_calls == [refund.refund_order_id]
    await run_for(deps, clock, 2_000)
    assert channel.refund_calls == [refund.refund_order_id] * 2
    assert await status_of(store, refund.refund_order_id) is RefundStatus.SUCCEEDED
    assert await backend.balances("alipay-succeed") == (1_000, 0, 1)


async def test_a_refund_reserved_but_never_sent_crash_is_sent_and_settled(
    store: AdminStore, backend: Backend
) -> None:
    clock = FakeClock()
    ledger = SandboxLedger()
    deps = deps_with(store, sandbox_channels(ledger), clock)
    # The process died right after the reservation commit: nothing was sent.
    await store.reserve(RefundDraft(ask("N1", "wechat-processing"), "RCRASH1", clock.now))
    await run_for(deps, clock, 60_000)
    assert await status_of(store, "RCRASH1") is RefundStatus.SUCCEEDED
    refunds = [call for call in ledger.calls if call.operation == "refund"]
    assert [call.refund_order_id for call in refunds] == ["RCRASH1"]
    assert await backend.balances("wechat-processing") == (1_000, 0, 1)


@pytest.fixture
async def unionpay_orders(store: AdminStore) -> AdminStore:
    for number in ("U1", "U2", "U3"):
        await store.add_order(
            PayOrder(MCH_ID, f"unionpay-{number}", "UPI_QR", "CAD", 5_000, NOW_MS)
        )
    return store


@pytest.mark.parametrize(
    ("query", "resent", "final"),
    [
        (OutcomeUnknown("timeout"), False, RefundStatus.PENDING),
        (NoSuchRefund("respCode 34"), True, RefundStatus.SUCCEEDED),
        (OK, False, RefundStatus.SUCCEEDED),
        (BUSY, False, RefundStatus.PROCESSING),
    ],
)
async def test_unionpay_pending_refunds_are_queried_before_any_resend(
    unionpay_orders: AdminStore, query: object, resent: bool, final: RefundStatus
) -> None:
    clock = FakeClock()
    channel = Scripted(queries=[query], refunds=[OK])
    deps = deps_with(unionpay_orders, channel, clock)
    await unionpay_orders.reserve(RefundDraft(ask("U1", "unionpay-U1"), "U1", clock.now))
    await run_for(deps, clock, 31_000)
    assert channel.query_calls == ["U1"]
    assert channel.refund_calls == (["U1"] if resent else [])
    assert await status_of(unionpay_orders, "U1") is final


class SlowQueries:
    """A connector that notes every query in flight and fails if one refund has two."""

    def __init__(self) -> None:
        self.in_flight: set[str] = set()
        self.overlaps: list[str] = []
        self.queries: list[str] = []

    async def refund(self, request: ChannelRefund) -> ChannelOutcome:
        raise OutcomeUnknown("read timeout")

    async def query(self, request: ChannelRefund) -> ChannelOutcome:
        rid = request.refund.refund_order_id
        if rid in self.in_flight:
            self.overlaps.append(rid)
        self.in_flight.add(rid)
        self.queries.append(rid)
        await asyncio.sleep(0.01)
        self.in_flight.discard(rid)
        return OK


async def test_concurrent_reconcilers_never_query_one_refund_twice(
    store: AdminStore, backend: Backend
) -> None:
    clock = FakeClock()
    channel = SlowQueries()
    deps = deps_with(store, channel, clock)
    rids = []
    for index in range(12):
        family = list(CHANNELS)[index % 3]
        outcome = list(SandboxOutcome)[index // 3 % 4]
        refund = await request_refund(deps, ask(f"C{index}", f"{family}-{outcome.value}", 100))
        rids.append(refund.refund_order_id)
    workers = [backend.open() for _ in range(4)]
    try:
        clock.advance(10_000)
        handled = await asyncio.gather(
            *(reconcile_due(deps_with(worker, channel, clock), clock.now, 5) for worker in workers)
        )
    finally:
        for worker in workers:
            await worker.close()
    assert channel.overlaps == []
    assert sorted(channel.queries) == sorted(rids)
    assert sum(handled) == 12
    for rid in rids:
        assert await status_of(store, rid) is RefundStatus.SUCCEEDED


async def test_one_refund_failing_does_not_stop_the_others(store: AdminStore) -> None:
    clock = FakeClock()

    class Boom(Scripted):
        async def query(self, request: ChannelRefund) -> ChannelOutcome:
            if request.refund.mch_refund_no == "B1":
                raise RuntimeError("a connector bug")
            return OK

    channel = Boom(refunds=[OutcomeUnknown("x")])
    deps = deps_with(store, channel, clock)
    bad = await request_refund(deps, ask("B1", "alipay-succeed"))
    good = await request_refund(deps, ask("B2", "alipay-fail"))
    await run_for(deps, clock, 11_000)
    assert await status_of(store, bad.refund_order_id) is RefundStatus.PROCESSING
    assert await status_of(store, good.refund_order_id) is RefundStatus.SUCCEEDED
