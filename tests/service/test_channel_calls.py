"""Channel calls kept on record (G6): what a connector reports of each call is
stored with the refund it was made for, and a failure to keep it costs the
refund nothing."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from refundgate.domain import ChannelFamily, PayOrder, RefundRequest, RefundStatus
from refundgate.ports import (
    ChannelExchange,
    ChannelOutcome,
    ChannelRefund,
    ChannelResult,
    OutcomeUnknown,
    StoreError,
)
from refundgate.service import Deps, request_refund
from refundgate.service.exchanges import note
from refundgate.service.reconcile import reconcile_due
from refundgate.store.sqlite import SqliteStore
from tests.conftest import MCH_ID, NOW_MS, CountingIds, FakeClock, log_lines, seed_merchants

OK = ChannelOutcome(ChannelResult.SUCCEEDED, channel_refund_id="CH-1", code="SUCCESS")
BUSY = ChannelOutcome(ChannelResult.PROCESSING, channel_refund_id="CH-1", code="PROCESSING")


class ReportingChannel:
    """A connector that reports each call through the hook, as the real ones do."""

    def __init__(self, refund: object = OK, query: object = OK, pause: float = 0.0) -> None:
        self._refund, self._query, self._pause = refund, query, pause

    async def _call(self, operation: str, request: ChannelRefund, answer: object) -> ChannelOutcome:
        sent = f"<xml><out_refund_no>{request.refund.refund_order_id}</out_refund_no></xml>"
        await asyncio.sleep(self._pause)  # other refunds' calls run meanwhile
        if isinstance(answer, BaseException):
            note("wechat", operation, sent, error=str(answer))
            raise answer
        assert isinstance(answer, ChannelOutcome)
        note("wechat", operation, sent, status_code=200, answer=f"<xml>{answer.code}</xml>")
        return answer

    async def refund(self, request: ChannelRefund) -> ChannelOutcome:
        return await self._call("refund", request, self._refund)

    async def query(self, request: ChannelRefund) -> ChannelOutcome:
        return await self._call("refundquery", request, self._query)


class LosingRecords:
    """The real store, except that keeping channel calls fails."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    async def record_exchanges(self, refund_order_id: str, exchanges: object) -> None:
        raise StoreError("disk full")


def _deps(store: SqliteStore, channel: ReportingChannel, clock: FakeClock | None = None) -> Deps:
    channels = dict.fromkeys(ChannelFamily, channel)
    return Deps(store, channels, clock or FakeClock(), CountingIds(), channel_timeout_s=5.0)


def _request(number: str = "N1") -> RefundRequest:
    return RefundRequest(MCH_ID, number, "P1", 1_000, "vincent", "127.0.0.1")


async def _seeded(store: SqliteStore) -> SqliteStore:
    await seed_merchants(store)
    await store.add_order(PayOrder(MCH_ID, "P1", "ALIPAY_QR", "CAD", 10_000, NOW_MS))
    return store


def _sent(refund_order_id: str) -> str:
    return f"<xml><out_refund_no>{refund_order_id}</out_refund_no></xml>"


async def test_a_refunds_channel_call_is_kept_with_it(store: SqliteStore) -> None:
    refund = await request_refund(_deps(await _seeded(store), ReportingChannel()), _request())
    assert refund.status is RefundStatus.SUCCEEDED
    assert await store.channel_exchanges(refund.refund_order_id) == [
        ChannelExchange(
            "wechat", "refund", NOW_MS, _sent(refund.refund_order_id), 200, "<xml>SUCCESS</xml>"
        )
    ]


async def test_a_call_with_no_trustworthy_answer_is_kept_with_its_error(
    store: SqliteStore,
) -> None:
    channel = ReportingChannel(refund=OutcomeUnknown("read timeout"))
    refund = await request_refund(_deps(await _seeded(store), channel), _request())
    assert refund.status is RefundStatus.PROCESSING
    (kept,) = await store.channel_exchanges(refund.refund_order_id)
    assert (kept.operation, kept.status_code, kept.answer, kept.error) == (
        "refund", None, None, "read timeout"
    )  # fmt: skip


async def test_concurrent_refunds_keep_only_their_own_calls(store: SqliteStore) -> None:
    deps = _deps(await _seeded(store), ReportingChannel(pause=0.01))
    refunds = await asyncio.gather(*(request_refund(deps, _request(f"N{i}")) for i in range(8)))
    for refund in refunds:
        kept = await store.channel_exchanges(refund.refund_order_id)
        assert [exchange.request for exchange in kept] == [_sent(refund.refund_order_id)]


async def test_the_reconcilers_queries_are_kept_after_the_refund_call(store: SqliteStore) -> None:
    clock = FakeClock()
    deps = _deps(await _seeded(store), ReportingChannel(refund=BUSY, query=OK), clock)
    refund = await request_refund(deps, _request())
    assert refund.status is RefundStatus.PROCESSING
    clock.advance(86_400_000)
    assert await reconcile_due(deps, clock.now) == 1
    kept = await store.channel_exchanges(refund.refund_order_id)
    assert [(exchange.operation, exchange.at, exchange.answer) for exchange in kept] == [
        ("refund", NOW_MS, "<xml>PROCESSING</xml>"),
        ("refundquery", NOW_MS + 86_400_000, "<xml>SUCCESS</xml>"),
    ]
    assert (await store.get_refund(refund.refund_order_id)).status is RefundStatus.SUCCEEDED  # type: ignore[union-attr]


async def test_calls_that_cannot_be_kept_cost_the_refund_nothing(store: SqliteStore) -> None:
    deps = replace(_deps(await _seeded(store), ReportingChannel()), store=LosingRecords(store))  # type: ignore[arg-type]
    with log_lines("info") as lines:
        refund = await request_refund(deps, _request())
    assert refund.status is RefundStatus.SUCCEEDED
    assert await store.channel_exchanges(refund.refund_order_id) == []
    errors = [line for line in lines.getvalue().splitlines() if "level='error'" in line]
    assert len(errors) == 1
    assert "channel_calls_not_kept" in errors[0]
    assert "disk full" in lines.getvalue()  # the exception is logged with it


async def test_a_call_noted_outside_a_refunds_call_is_dropped(store: SqliteStore) -> None:
    note("wechat", "refund", "<xml/>", status_code=200)  # a connector used on its own
    refund = await request_refund(_deps(await _seeded(store), ReportingChannel()), _request())
    assert len(await store.channel_exchanges(refund.refund_order_id)) == 1
