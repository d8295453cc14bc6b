"""The connector against the simulator, in-process and over loopback HTTP.

Credentials come from the simulator's control API, as any client would get them.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from refundgate.channels.alipay import AlipayConnector, AlipayCredentials, Exchange
from refundgate.domain.secret import Secret
from refundgate.ports import ChannelOutcome, ChannelRefund, ChannelResult, NotSent, OutcomeUnknown
from refundgate.sandbox.alipay import AlipaySimulator
from tests.channels.alipay.support import KeyPair, channel_refund

OK, FAILED, PROCESSING = ChannelResult.SUCCEEDED, ChannelResult.FAILED, ChannelResult.PROCESSING

Factory = Callable[..., AlipayConnector]


async def _credentials(control: httpx.AsyncClient) -> AlipayCredentials:
    payload = (await control.get("/_control/credentials")).json()
    return AlipayCredentials(
        payload["app_id"], Secret(payload["app_private_key_pem"]), payload["alipay_public_key_pem"]
    )


@pytest.fixture(params=["asgi", "loopback"])
async def connect(
    request: pytest.FixtureRequest, alipay: AlipaySimulator, control: httpx.AsyncClient
) -> AsyncIterator[Factory]:
    """Makes connectors to the simulator, over the transport of the test's run."""
    credentials = await _credentials(control)
    made: list[AlipayConnector] = []
    if request.param == "asgi":
        url, transport = "http://sim.test/alipay/gateway.do", httpx.ASGITransport(app=alipay.sim)
    else:
        url = request.getfixturevalue("loopback") + "/gateway.do"
        transport = None

    def factory(**options: Any) -> AlipayConnector:
        options.setdefault("transport", transport)
        options.setdefault("timeout_s", 0.6)  # short, yet a loaded CI machine answers in time
        connector = AlipayConnector(
            options.pop("credentials", credentials), gateway_url=url, **options
        )
        made.append(connector)
        return connector

    yield factory
    for connector in made:
        await connector.aclose()


async def _trade(control: httpx.AsyncClient, out_trade_no: str = "P1", amount: int = 1000) -> str:
    answer = await control.post(
        "/_control/trades", json={"out_trade_no": out_trade_no, "amount": amount, "currency": "CNY"}
    )
    assert answer.status_code == 201
    trade_no: str = answer.json()["trade_no"]
    return trade_no


async def _fault(control: httpx.AsyncClient, fault: str, **extra: Any) -> None:
    answer = await control.post("/_control/faults", json={"fault": fault, **extra})
    assert answer.status_code == 201, answer.text


async def _refunds(control: httpx.AsyncClient) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = (await control.get("/_control/refunds")).json()
    return listed


def _refund(amount: int = 300, refund_id: str = "R0000000001", **kw: Any) -> ChannelRefund:
    return channel_refund(amount, refund_order_id=refund_id, pay_order_id="P1", **kw)


# ---------------------------------------------------------------- the happy paths


async def test_a_refund_succeeds_and_is_recorded(
    connect: Factory, control: httpx.AsyncClient
) -> None:
    trade_no = await _trade(control)

    outcome = await connect().refund(_refund(300))

    assert outcome == ChannelOutcome(
        OK, channel_refund_id=trade_no, code="10000", message="Success"
    )
    [recorded] = await _refunds(control)
    assert (recorded["refund_no"], recorded["amount"], recorded["status"]) == (
        "R0000000001", 300, "SUCCEEDED",
    )  # fmt: skip


async def test_a_refund_by_alipays_trade_number(
    connect: Factory, control: httpx.AsyncClient
) -> None:
    trade_no = await _trade(control)

    outcome = await connect().refund(_refund(300, channel_order_no=trade_no))

    assert outcome.result is OK
    assert (await connect().query(_refund(300, channel_order_no=trade_no))).result is OK


async def test_a_retry_reuses_the_key_and_refunds_once(
    connect: Factory, control: httpx.AsyncClient
) -> None:
    await _trade(control)
    connector = connect()

    first = await connector.refund(_refund(300))
    again = await connector.refund(_refund(300))
    confirmed = await connector.query(_refund(300))

    assert (first.result, again.result, confirmed.result) == (OK, PROCESSING, OK)
    [recorded] = await _refunds(control)
    assert (recorded["amount"], recorded["requests"]) == (300, 2)


async def test_partial_refunds_up_to_the_amount_paid(
    connect: Factory, control: httpx.AsyncClient
) -> None:
    await _trade(control, amount=1000)
    connector = connect()

    results = [
        (await connector.refund(_refund(amount, f"R{n}"))).code
        for n, amount in enumerate([600, 401, 400, 1])
    ]

    assert results == ["10000", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "10000", "ACQ.TRADE_HAS_CLOSE"]


async def test_an_unknown_trade_fails_definitively(connect: Factory) -> None:
    outcome = await connect().refund(_refund(300))

    assert (outcome.result, outcome.code) == (FAILED, "ACQ.TRADE_NOT_EXIST")


async def test_the_same_number_with_another_amount_is_not_a_failure(
    connect: Factory, control: httpx.AsyncClient
) -> None:
    """The earlier refund under that number may have succeeded (§C.6)."""
    await _trade(control)
    connector = connect()
    await connector.refund(_refund(300))

    outcome = await connector.refund(_refund(301))

    assert (outcome.result, outcome.code) == (PROCESSING, "ACQ.DISCORDANT_REPEAT_REQUEST")


async def test_a_query_before_the_refund_finds_nothing_yet(
    connect: Factory, control: httpx.AsyncClient
) -> None:
    await _trade(control)

    outcome = await connect().query(_refund(300))

    assert (outcome.result, outcome.code) == (PROCESSING, "10000")


async def test_each_call_is_kept_on_record(connect: Factory, control: httpx.AsyncClient) -> None:
    await _trade(control)
    kept: list[Exchange] = []

    await connect(on_exchange=kept.append).refund(_refund(300))

    [exchange] = kept
    assert exchange.request["method"] == "alipay.trade.refund"
    assert '"out_request_no":"R0000000001"' in exchange.request["biz_content"]
    assert exchange.status_code == 200
    assert exchange.answer is not None
    assert '"fund_change":"Y"' in exchange.answer
    assert "PRIVATE KEY" not in repr(exchange)


# ---------------------------------------------------------------- faults

#: fault → what the refund call gives, and whether the simulator keeps a refund.
REFUND_FAULTS: list[tuple[str, type[Exception] | ChannelResult, str | None]] = [
    ("timeout", OutcomeUnknown, "SUCCEEDED"),
    ("http_500", OutcomeUnknown, None),
    ("garbage", OutcomeUnknown, "SUCCEEDED"),
    ("bad_signature", OutcomeUnknown, "SUCCEEDED"),
    ("reject", FAILED, None),
    ("succeed_then_fail", OK, "SUCCEEDED"),
    ("settle_failed", PROCESSING, "PROCESSING"),
    ("settle_abnormal", PROCESSING, "PROCESSING"),
    ("duplicate_callback", OK, "SUCCEEDED"),
    ("late_callback", OK, "SUCCEEDED"),
]


@pytest.mark.parametrize(("fault", "expected", "kept"), REFUND_FAULTS)
async def test_refund_faults(
    connect: Factory,
    control: httpx.AsyncClient,
    fault: str,
    expected: type[Exception] | ChannelResult,
    kept: str | None,
) -> None:
    """No fault but ``reject`` fails a refund; the unknown ones raise OutcomeUnknown."""
    await _trade(control)
    await _fault(control, fault, out_trade_no="P1")

    if isinstance(expected, ChannelResult):
        assert (await connect().refund(_refund(300))).result is expected
    else:
        with pytest.raises(expected):
            await connect().refund(_refund(300))

    assert [r["status"] for r in await _refunds(control)] == ([kept] if kept else [])


async def test_an_unknown_answer_is_resolved_by_query(
    connect: Factory, control: httpx.AsyncClient
) -> None:
    await _trade(control)
    await _fault(control, "garbage", out_trade_no="P1")
    connector = connect()
    with pytest.raises(OutcomeUnknown):
        await connector.refund(_refund(300))

    assert (await connector.query(_refund(300))).result is OK


async def test_success_that_later_fails_never_reads_as_failed(
    connect: Factory, control: httpx.AsyncClient, alipay: AlipaySimulator
) -> None:
    await _trade(control)
    await _fault(control, "succeed_then_fail", out_trade_no="P1")
    connector = connect()
    assert (await connector.refund(_refund(300))).result is OK

    await alipay.sim.settle()

    assert (await connector.query(_refund(300))).result is PROCESSING


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("timeout", OutcomeUnknown),
        ("http_500", OutcomeUnknown),
        ("garbage", OutcomeUnknown),
        ("bad_signature", OutcomeUnknown),
        ("reject", PROCESSING),
    ],
)
async def test_query_faults_never_fail_the_refund(
    connect: Factory,
    control: httpx.AsyncClient,
    fault: str,
    expected: type[Exception] | ChannelResult,
) -> None:
    await _trade(control)
    connector = connect()
    await connector.refund(_refund(300))
    await _fault(control, fault, out_trade_no="P1", operation="query")

    if isinstance(expected, ChannelResult):
        assert (await connector.query(_refund(300))).result is expected
    else:
        with pytest.raises(expected):
            await connector.query(_refund(300))


async def test_slow_mode_answers_unknown_and_the_query_finds_it_later(
    connect: Factory, control: httpx.AsyncClient, alipay: AlipaySimulator
) -> None:
    alipay.synchronous = False
    await _trade(control)
    connector = connect()

    first = await connector.refund(_refund(300))
    before = await connector.query(_refund(300))
    await alipay.sim.settle()
    after = await connector.query(_refund(300))

    assert (first.result, first.code) == (PROCESSING, "isp.unknow-error")
    assert (before.result, after.result) == (PROCESSING, OK)


# ---------------------------------------------------------------- keys and tampering


async def test_a_request_signed_with_another_key_is_refused_and_changes_nothing(
    connect: Factory, control: httpx.AsyncClient, stranger_keys: KeyPair
) -> None:
    await _trade(control)
    good = await _credentials(control)
    wrong = AlipayCredentials(
        good.app_id, Secret(stranger_keys.private_pem), good.alipay_public_key
    )

    with pytest.raises(OutcomeUnknown, match="unsigned"):
        await connect(credentials=wrong).refund(_refund(300))

    assert await _refunds(control) == []


async def test_an_answer_not_signed_by_alipay_is_not_trusted(
    connect: Factory, control: httpx.AsyncClient, stranger_keys: KeyPair
) -> None:
    await _trade(control)
    good = await _credentials(control)
    wrong = AlipayCredentials(good.app_id, good.app_private_key, stranger_keys.public_pem)

    with pytest.raises(OutcomeUnknown, match="signature"):
        await connect(credentials=wrong).refund(_refund(300))


async def test_an_unreachable_gateway_is_never_sent(
    app_keys: KeyPair, alipay_keys: KeyPair
) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    credentials = AlipayCredentials("A", Secret(app_keys.private_pem), alipay_keys.public_pem)
    async with AlipayConnector(
        credentials, gateway_url=f"http://127.0.0.1:{port}/gateway.do", timeout_s=1.0
    ) as connector:
        with pytest.raises(NotSent):
            await connector.refund(_refund(300))
