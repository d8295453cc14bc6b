"""The UnionPay connector against the simulator, in-process and over loopback HTTP.

A refund is accepted (PROCESSING) and ends through the notify or a query; only
a definitive code fails it; everything we cannot trust is unknown (G3, G4).
"""

from __future__ import annotations

import socket
from dataclasses import replace

import httpx
import pytest

from refundgate.channels.unionpay import AttemptNotFound, UnionPayCredentials
from refundgate.ports import ChannelRefund, ChannelResult, NotSent, OutcomeUnknown
from tests.channels.unionpay.conftest import Harness, make_connector


async def test_an_accepted_refund_is_processing_with_unionpays_id(up_both: Harness):
    up = up_both
    trade = await up.trade()
    outcome = await up.connector.refund(up.request(trade, 250))
    assert outcome.result is ChannelResult.PROCESSING
    assert outcome.code == "00"
    [recorded] = await up.refunds()
    assert (recorded["refund_no"], recorded["amount"]) == ("R0000000001", 250)
    assert outcome.channel_refund_id == recorded["channel_refund_id"]


async def test_the_notify_then_the_query_say_it_succeeded(up_both: Harness):
    up = up_both
    request = up.request(await up.trade(), 250)
    await up.connector.refund(request)
    await up.settle()
    [callback] = up.inbox.accepted
    assert callback.refund_order_id == "R0000000001"
    assert callback.outcome.result is ChannelResult.SUCCEEDED
    assert (callback.ack_body, up.inbox.refused) == (b"ok", [])
    queried = await up.connector.query(request)
    assert queried.result is ChannelResult.SUCCEEDED
    assert queried.channel_refund_id == callback.outcome.channel_refund_id


async def test_a_query_before_settling_says_processing(up: Harness):
    request = up.request(await up.trade())
    await up.connector.refund(request)
    outcome = await up.connector.query(request)
    assert (outcome.result, outcome.code) == (ChannelResult.PROCESSING, "05")


async def test_a_query_about_a_refund_never_sent_finds_nothing(up: Harness):
    with pytest.raises(AttemptNotFound):
        await up.connector.query(up.request(await up.trade()))


async def test_sending_the_same_attempt_twice_refunds_once(up: Harness):
    request = up.request(await up.trade(), 300)
    await up.connector.refund(request)
    with pytest.raises(OutcomeUnknown, match="'12'"):
        await up.connector.refund(request)
    assert [r["amount"] for r in await up.refunds()] == [300]


async def test_more_than_remains_is_a_definitive_failure(up_both: Harness):
    up = up_both
    trade = await up.trade(1000)
    await up.connector.refund(up.request(trade, 600))
    outcome = await up.connector.refund(up.request(trade, 401))
    assert (outcome.result, outcome.code) == (ChannelResult.FAILED, "36")
    assert outcome.message
    assert [r["amount"] for r in await up.refunds()] == [600]


async def test_partial_refunds_up_to_the_paid_amount_all_pass(up: Harness):
    trade = await up.trade(1000)
    for amount in (600, 400):
        assert (await up.connector.refund(up.request(trade, amount))).result is (
            ChannelResult.PROCESSING
        )


async def test_an_unknown_original_payment_fails_with_35(up: Harness):
    outcome = await up.connector.refund(up.request("812345678901234567890"))
    assert (outcome.result, outcome.code) == (ChannelResult.FAILED, "35")


async def test_another_currency_than_the_payments_fails_with_36(up: Harness):
    trade = await up.trade(currency="CNY")
    outcome = await up.connector.refund(up.request(trade, currency="USD"))
    assert (outcome.result, outcome.code) == (ChannelResult.FAILED, "36")


async def test_an_order_without_a_query_id_is_not_sent(up: Harness):
    with pytest.raises(NotSent, match="channel_order_no"):
        await up.connector.refund(up.request(None))
    assert up.exchanges == []


async def test_a_refund_id_unionpay_cannot_take_is_not_sent(up: Harness):
    with pytest.raises(NotSent, match="orderId"):
        await up.connector.refund(up.request(await up.trade(), refund_id="R-1"))


async def test_a_stale_txn_time_is_refused_by_the_channel(up: Harness):
    # The attempt's txnTime is the refund's creation time; UnionPay wants "now".
    stale = up.clock.now_ms() - 2 * 3_600_000
    outcome = await up.connector.refund(up.request(await up.trade(), created_at=stale))
    assert (outcome.result, outcome.code) == (ChannelResult.FAILED, "10")


async def test_a_later_attempt_has_its_own_order_id_and_time(up: Harness):
    request = up.request(await up.trade(), 100)
    first = up.connector.first_attempt(request)
    second = up.connector.next_attempt(request, 2)
    assert second.order_id == first.order_id + "R02"
    assert (await up.connector.refund_attempt(request, second)).result is ChannelResult.PROCESSING
    with pytest.raises(AttemptNotFound):
        await up.connector.query_attempt(request, first)
    assert (await up.connector.query_attempt(request, second)).code == "05"
    await up.settle()
    assert [c.refund_order_id for c in up.inbox.accepted] == ["R0000000001"]


async def test_unreachable_unionpay_is_not_sent(up: Harness):
    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with httpx.AsyncClient() as client:
        base_url = f"http://127.0.0.1:{port}/unionpay"
        closed = make_connector(up.sim, up.clock, client, base_url, up.exchanges.append)
        with pytest.raises(NotSent, match="could not reach"):
            await closed.refund(up.request(await up.trade()))
    assert up.exchanges[0].error is not None


async def test_every_exchange_is_recorded_without_the_full_signature(up: Harness):
    request = up.request(await up.trade())
    await up.connector.refund(request)
    await up.connector.query(request)
    assert [e.operation for e in up.exchanges] == ["refund", "query"]
    refund = up.exchanges[0]
    assert refund.request["txnAmt"] == "100"
    assert refund.reply["respCode"] == "00"
    assert refund.request["signature"].endswith("…")
    assert len(refund.request["signature"]) == 17
    assert refund.reply["signPubKeyCert"].endswith("…")


async def test_a_query_answer_about_another_amount_is_not_believed(up: Harness):
    trade = await up.trade()
    sent = up.request(trade, 100)
    await up.connector.refund(sent)
    await up.settle()
    refund = replace(sent.refund, amount=200)
    with pytest.raises(OutcomeUnknown, match="another amount"):
        await up.connector.query(ChannelRefund(refund, sent.order))


async def test_credentials_and_records_never_show_the_private_key(up: Harness):
    credentials = UnionPayCredentials.from_mapping(up.sim.credentials())
    assert "PRIVATE KEY" not in repr(credentials)
    request = up.request(await up.trade())
    await up.connector.refund(request)
    assert all("PRIVATE" not in repr(exchange) for exchange in up.exchanges)
