"""Every fault of the simulator, and every answer code, as the connector sees them.

No fault but ``reject`` may make a refund FAILED (G4): the answer is unknown,
or the refund goes on and ends through the notify or a query.
"""

from __future__ import annotations

import asyncio

import pytest

from refundgate.channels.unionpay import AttemptNotFound, wire
from refundgate.channels.unionpay.wire import CodeClass
from refundgate.ports import ChannelResult, NotSent, OutcomeUnknown
from tests.channels.unionpay.conftest import Harness


@pytest.mark.parametrize("fault", ["timeout", "garbage", "bad_signature"])
async def test_a_refund_committed_behind_an_untrustworthy_answer_is_unknown(
    up_both: Harness, fault: str
):
    up = up_both
    request = up.request(await up.trade(), 500)
    await up.fault(fault, trade=1)
    with pytest.raises(OutcomeUnknown):
        await up.connector.refund(request)
    # The channel has it: asking again with the same key finds it.
    assert [r["amount"] for r in await up.refunds()] == [500]
    await up.settle()
    assert (await up.connector.query(request)).result is ChannelResult.SUCCEEDED


async def test_a_server_error_is_unknown_and_a_query_says_it_never_arrived(up_both: Harness):
    up = up_both
    request = up.request(await up.trade())
    await up.fault("http_500", trade=1)
    with pytest.raises(OutcomeUnknown, match="HTTP 500"):
        await up.connector.refund(request)
    assert await up.refunds() == []
    with pytest.raises(AttemptNotFound):
        await up.connector.query(request)


async def test_reject_is_the_only_fault_that_fails_a_refund(up: Harness):
    request = up.request(await up.trade())
    await up.fault("reject", trade=1)
    outcome = await up.connector.refund(request)
    assert (outcome.result, outcome.code) == (ChannelResult.FAILED, "01")


@pytest.mark.parametrize("code", ["03", "04", "05"])
async def test_query_later_codes_after_recording_are_unknown(up: Harness, code: str):
    request = up.request(await up.trade())
    await up.fault("reject", trade=1, code=code)
    with pytest.raises(OutcomeUnknown, match=code):
        await up.connector.refund(request)
    await up.settle()
    assert (await up.connector.query(request)).result is ChannelResult.SUCCEEDED


async def test_succeed_then_fail_is_told_in_that_order(up: Harness):
    request = up.request(await up.trade())
    await up.fault("succeed_then_fail", trade=1)
    assert (await up.connector.refund(request)).result is ChannelResult.PROCESSING
    await up.settle()
    assert (await up.connector.query(request)).result is ChannelResult.SUCCEEDED
    await up.settle()
    results = [c.outcome.result for c in up.inbox.accepted]
    assert results == [ChannelResult.SUCCEEDED, ChannelResult.FAILED]
    assert (await up.connector.query(request)).result is ChannelResult.FAILED


async def test_settle_failed_ends_in_a_definitive_failure_through_notify_and_query(up: Harness):
    request = up.request(await up.trade())
    await up.fault("settle_failed", trade=1, code="61")
    assert (await up.connector.refund(request)).result is ChannelResult.PROCESSING
    await up.settle()
    [callback] = up.inbox.accepted
    assert (callback.outcome.result, callback.outcome.code) == (ChannelResult.FAILED, "61")
    queried = await up.connector.query(request)
    assert (queried.result, queried.code) == (ChannelResult.FAILED, "61")


async def test_an_abnormal_refund_stays_processing(up: Harness):
    request = up.request(await up.trade())
    await up.fault("settle_abnormal", trade=1)
    await up.connector.refund(request)
    await up.settle()
    [callback] = up.inbox.accepted
    assert callback.outcome.result is ChannelResult.PROCESSING
    assert (await up.connector.query(request)).result is ChannelResult.PROCESSING


async def test_a_duplicate_notify_reads_the_same(up_both: Harness):
    up = up_both
    request = up.request(await up.trade())
    await up.fault("duplicate_callback", trade=1)
    await up.connector.refund(request)
    await up.settle()
    first, second = up.inbox.accepted
    assert first == second
    assert first.outcome.result is ChannelResult.SUCCEEDED


async def test_a_late_notify_reads_the_same_as_the_query(up: Harness):
    request = up.request(await up.trade())
    await up.fault("late_callback", trade=1)
    await up.connector.refund(request)
    await up.sim.sim.settle()
    assert up.inbox.accepted == []
    queried = await up.connector.query(request)
    await up.sim.sim.drain()
    [late] = up.inbox.accepted
    assert (late.outcome.result, late.outcome.channel_refund_id) == (
        queried.result,
        queried.channel_refund_id,
    )


@pytest.mark.parametrize("fault", ["timeout", "garbage", "bad_signature", "http_500"])
async def test_a_query_that_cannot_be_trusted_is_unknown(up_both: Harness, fault: str):
    up = up_both
    request = up.request(await up.trade())
    await up.connector.refund(request)
    await up.settle()
    await up.fault(fault, operation="query")
    with pytest.raises(OutcomeUnknown) as raised:
        await up.connector.query(request)
    assert not isinstance(raised.value, AttemptNotFound)


async def test_an_early_no_such_transaction_is_followed_by_the_truth(up: Harness):
    request = up.request(await up.trade())
    await up.connector.refund(request)
    await up.settle()
    await up.fault("reject", operation="query")
    with pytest.raises(AttemptNotFound):
        await up.connector.query(request)
    assert (await up.connector.query(request)).result is ChannelResult.SUCCEEDED


@pytest.mark.parametrize("code", ["10", "11", "35", "36", "99", "37"])
async def test_a_failed_query_never_fails_the_refund(up: Harness, code: str):
    request = up.request(await up.trade())
    await up.connector.refund(request)
    await up.fault("reject", operation="query", code=code)
    with pytest.raises(OutcomeUnknown):
        await up.connector.query(request)


async def test_concurrent_attempts_of_one_refund_reach_the_channel_once(up: Harness):
    request = up.request(await up.trade(), 700)
    results = await asyncio.gather(
        *(up.connector.refund(request) for _ in range(5)), return_exceptions=True
    )
    accepted = [r for r in results if not isinstance(r, BaseException)]
    assert len(accepted) == 1
    assert all(isinstance(r, OutcomeUnknown) for r in results if r not in accepted)
    assert [r["amount"] for r in await up.refunds()] == [700]


_EXPECTED = {
    CodeClass.ACCEPTED: "processing",
    CodeClass.FAILED: "failed",
    CodeClass.UNKNOWN: "unknown",
    CodeClass.RETRY_LATER: "not sent",
}


@pytest.mark.parametrize("code", [*sorted(wire.RESP_CODES), "06", "99"])
async def test_each_answer_code_gets_its_outcome(up: Harness, code: str):
    request = up.request(await up.trade())
    await up.fault("reject", trade=1, code=code)
    try:
        outcome = await up.connector.refund(request)
        seen = "failed" if outcome.result is ChannelResult.FAILED else "processing"
        assert outcome.code == code
    except NotSent:
        seen = "not sent"
    except OutcomeUnknown:
        seen = "unknown"
    assert seen == _EXPECTED[wire.classify(code)]
