"""The connector against the simulator, in-process: outcomes, keys, codes, faults, tampering."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from refundgate.channels.wechat import SignType, WeChatConnector
from refundgate.channels.wechat.wire import CodeClass
from refundgate.ports import ChannelOutcome, ChannelResult, NotSent, OutcomeUnknown
from tests.channels.wechat.conftest import BASE_URL, Rig
from tests.channels.wechat.support import channel_refund, credentials
from tests.channels.wechat.test_wire import CODE_ROWS


@pytest.fixture(params=list(SignType), ids=["md5", "hmac"])
def sign_type(request: pytest.FixtureRequest) -> SignType:
    value: SignType = request.param
    return value


async def test_an_accepted_refund_is_processing_then_the_query_finds_it_done(rig: Rig) -> None:
    await rig.trade()

    accepted = await rig.connector.refund(channel_refund())
    await rig.simulator.sim.settle()
    queried = await rig.connector.query(channel_refund())

    assert accepted.result is ChannelResult.PROCESSING
    assert accepted.channel_refund_id
    assert queried == ChannelOutcome(ChannelResult.SUCCEEDED, accepted.channel_refund_id, "SUCCESS")


async def test_our_refund_id_is_the_out_refund_no_and_a_retry_makes_no_second_refund(
    rig: Rig,
) -> None:
    await rig.trade()

    first = await rig.connector.refund(channel_refund("R42"))
    again = await rig.connector.refund(channel_refund("R42"))

    assert first == again
    refunds = await rig.refunds()
    assert [(r["refund_no"], r["amount"], r["requests"]) for r in refunds] == [("R42", 300, 2)]


async def test_the_channels_trade_number_is_used_when_the_order_knows_it(rig: Rig) -> None:
    trade_no = await rig.trade("T1")

    await rig.connector.refund(channel_refund(pay_order_id="UNKNOWN", channel_order_no=trade_no))

    assert [r["out_trade_no"] for r in await rig.refunds()] == ["T1"]


async def test_a_query_before_any_refund_says_send_it(rig: Rig) -> None:
    await rig.trade()

    with pytest.raises(NotSent):
        await rig.connector.query(channel_refund())


@pytest.mark.parametrize(
    ("fault", "result", "code"),
    [
        ("settle_failed", ChannelResult.FAILED, "REFUNDCLOSE"),
        ("settle_abnormal", ChannelResult.PROCESSING, "CHANGE"),
    ],
)
async def test_how_a_refund_ends_is_read_from_the_query(
    rig: Rig, fault: str, result: ChannelResult, code: str
) -> None:
    await rig.trade()
    await rig.fault(fault)
    await rig.connector.refund(channel_refund())
    await rig.simulator.sim.settle()

    outcome = await rig.connector.query(channel_refund())

    assert (outcome.result, outcome.code) == (result, code)


async def test_succeed_then_fail_is_seen_as_success_then_failure(rig: Rig) -> None:
    await rig.trade()
    await rig.fault("succeed_then_fail")
    await rig.connector.refund(channel_refund())

    await rig.simulator.sim.settle()
    first = await rig.connector.query(channel_refund())
    await rig.simulator.sim.settle()
    later = await rig.connector.query(channel_refund())

    assert (first.result, later.result) == (ChannelResult.SUCCEEDED, ChannelResult.FAILED)


@pytest.mark.parametrize(("code", "kind"), CODE_ROWS)
async def test_each_code_of_the_table_gives_its_outcome(
    rig: Rig, code: str, kind: CodeClass
) -> None:
    await rig.trade()
    await rig.fault("reject", code=code)

    if kind is CodeClass.DEFINITIVE:
        outcome = await rig.connector.refund(channel_refund())
        assert (outcome.result, outcome.code) == (ChannelResult.FAILED, code)
    else:
        with pytest.raises(OutcomeUnknown, match=code):
            await rig.connector.refund(channel_refund())


async def test_a_code_nobody_knows_is_unknown(rig: Rig) -> None:
    await rig.trade()
    await rig.fault("reject", code="BRAND_NEW_CODE")

    with pytest.raises(OutcomeUnknown):
        await rig.connector.refund(channel_refund())


@pytest.mark.parametrize(
    "fault", ["timeout", "http_500", "garbage", "bad_signature"], ids=lambda f: str(f)
)
async def test_no_fault_but_reject_marks_a_refund_failed(rig: Rig, fault: str) -> None:
    await rig.trade()
    await rig.fault(fault)

    with pytest.raises(OutcomeUnknown):
        await rig.connector.refund(channel_refund())


@pytest.mark.parametrize("fault", ["duplicate_callback", "late_callback", "succeed_then_fail"])
async def test_faults_that_act_later_leave_the_answer_processing(rig: Rig, fault: str) -> None:
    await rig.trade()
    await rig.fault(fault)

    outcome = await rig.connector.refund(channel_refund())

    assert outcome.result is ChannelResult.PROCESSING


@pytest.mark.parametrize(
    ("fault", "committed"),
    [("timeout", True), ("garbage", True), ("bad_signature", True), ("http_500", False)],
)
async def test_after_an_unknown_answer_the_query_tells_the_truth(
    rig: Rig, fault: str, committed: bool
) -> None:
    await rig.trade()
    await rig.fault(fault)
    with pytest.raises(OutcomeUnknown):
        await rig.connector.refund(channel_refund())

    if committed:
        outcome = await rig.connector.query(channel_refund())
        assert outcome.result is ChannelResult.PROCESSING
    else:
        with pytest.raises(NotSent):
            await rig.connector.query(channel_refund())


async def test_a_retry_after_a_timeout_finds_the_committed_refund(rig: Rig) -> None:
    await rig.trade()
    await rig.fault("timeout")
    with pytest.raises(OutcomeUnknown):
        await rig.connector.refund(channel_refund())

    outcome = await rig.connector.refund(channel_refund())

    assert outcome.result is ChannelResult.PROCESSING
    assert [r["requests"] for r in await rig.refunds()] == [2]


@pytest.mark.parametrize("fault", ["timeout", "http_500", "garbage", "bad_signature", "reject"])
async def test_a_query_fault_never_fails_the_refund(rig: Rig, fault: str) -> None:
    await rig.trade()
    await rig.connector.refund(channel_refund())
    await rig.fault(fault, operation="query")

    with pytest.raises(OutcomeUnknown):
        await rig.connector.query(channel_refund())


def _tamper_answer(response: httpx.Response) -> httpx.Response:
    body = response.content.replace(b"<refund_fee>300<", b"<refund_fee>301<")
    return httpx.Response(response.status_code, content=body, headers=response.headers)


def _tamper_request(request: httpx.Request) -> httpx.Request:
    body = request.content.replace(b"<refund_fee>300<", b"<refund_fee>900<")
    return httpx.Request(request.method, request.url, content=body, headers=request.headers)


class Tampering(httpx.AsyncBaseTransport):
    """A man in the middle that changes one byte on the way in or out."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        *,
        request: Callable[[httpx.Request], httpx.Request] = lambda r: r,
        response: Callable[[httpx.Response], httpx.Response] = lambda r: r,
    ) -> None:
        self.inner, self.request, self.response = inner, request, response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(self.request(request))
        await response.aread()
        return self.response(response)


async def test_a_tampered_answer_is_not_believed(rig: Rig) -> None:
    await rig.trade()
    inner = httpx.ASGITransport(app=rig.simulator.app)
    connector = rig.connector_with(transport=Tampering(inner, response=_tamper_answer))

    with pytest.raises(OutcomeUnknown, match="signature"):
        await connector.refund(channel_refund())
    await connector.aclose()


async def test_a_tampered_request_is_refused_and_moves_no_money(rig: Rig) -> None:
    await rig.trade()
    inner = httpx.ASGITransport(app=rig.simulator.app)
    connector = rig.connector_with(transport=Tampering(inner, request=_tamper_request))

    with pytest.raises(OutcomeUnknown, match="SIGNERROR"):
        await connector.refund(channel_refund())
    assert await rig.refunds() == []
    await connector.aclose()


async def test_another_merchants_signed_answer_is_not_believed(rig: Rig) -> None:
    await rig.trade()
    other = credentials(rig.simulator.merchant)
    other = type(other)("wxsomeoneelse", other.mch_id, other.api_key)
    connector = WeChatConnector(
        other, base_url=BASE_URL, transport=httpx.ASGITransport(app=rig.simulator.app)
    )

    with pytest.raises(OutcomeUnknown):
        await connector.refund(channel_refund())
    await connector.aclose()


async def test_a_refused_connection_is_not_sent() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    from refundgate.sandbox.wechat import SandboxMerchant

    connector = WeChatConnector(
        credentials(SandboxMerchant.generate()),
        base_url=BASE_URL,
        transport=httpx.MockTransport(refuse),
    )
    with pytest.raises(NotSent):
        await connector.refund(channel_refund())
    await connector.aclose()


@pytest.mark.parametrize(
    "error", [httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError]
)
async def test_a_transport_failure_after_sending_is_unknown(
    error: type[httpx.TransportError],
) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error("boom", request=request)

    from refundgate.sandbox.wechat import SandboxMerchant

    connector = WeChatConnector(
        credentials(SandboxMerchant.generate()),
        base_url=BASE_URL,
        transport=httpx.MockTransport(fail),
    )
    with pytest.raises(OutcomeUnknown):
        await connector.refund(channel_refund())
    await connector.aclose()


async def test_the_exchange_is_kept_without_the_key(rig: Rig) -> None:
    await rig.trade()
    await rig.connector.refund(channel_refund())

    (exchange,) = rig.exchanges
    key = rig.simulator.merchant.api_key.reveal()
    assert exchange.operation == "refund"
    assert exchange.out_refund_no == "R0000000001"
    assert "<refund_fee>300</refund_fee>" in exchange.request
    assert exchange.answer is not None
    assert "<result_code><![CDATA[SUCCESS]]></result_code>" in exchange.answer
    assert key not in repr(exchange)
    assert key not in repr(rig.connector)


async def test_a_failed_call_is_on_record_too(rig: Rig) -> None:
    await rig.trade()
    await rig.fault("timeout")

    with pytest.raises(OutcomeUnknown):
        await rig.connector.refund(channel_refund())

    assert [(e.status_code, e.error is not None) for e in rig.exchanges] == [(None, True)]


@pytest.mark.parametrize("url", ["ftp://x/", "not a url", "http://"])
def test_a_bad_base_url_is_refused(url: str) -> None:
    from refundgate.sandbox.wechat import SandboxMerchant

    with pytest.raises(ValueError, match="URL"):
        WeChatConnector(credentials(SandboxMerchant.generate()), base_url=url)
