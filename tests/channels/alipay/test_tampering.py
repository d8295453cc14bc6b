"""One changed byte of a signed message is caught, in both directions.

A transport between the connector and the simulator changes one character
of the request or of the answer; every position sampled must be refused.
"""

from __future__ import annotations

import httpx
import pytest

from refundgate.channels.alipay import AlipayConnector, AlipayCredentials
from refundgate.domain.secret import Secret
from refundgate.ports import ChannelRefund, ChannelResult, OutcomeUnknown
from refundgate.sandbox.alipay import AlipaySimulator
from tests.channels.alipay.support import KeyPair, channel_refund


def _changed(data: bytes, position: int) -> bytes:
    """``data`` with the character at ``position`` swapped for another of its kind."""
    char = data[position : position + 1]
    if char.isdigit():
        other = str((int(char) + 1) % 10).encode()
    else:  # the next letter, not the other case: %3A and %3a are one character
        other = bytes([char[0] - 1 if char in (b"z", b"Z") else char[0] + 1])
    return data[:position] + other + data[position + 1 :]


class Tamper(httpx.AsyncBaseTransport):
    """Passes requests through ``inner``; changes the byte at ``position`` of the
    request (``side="request"``) or of the answer, once a position is set."""

    def __init__(self, inner: httpx.AsyncBaseTransport, side: str) -> None:
        self.inner, self.side = inner, side
        self.position: int | None = None
        self.seen: list[bytes] = []

    def _edit(self, body: bytes) -> bytes:
        self.seen.append(body)
        return body if self.position is None else _changed(body, self.position)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.side == "request":
            headers = {"content-type": request.headers["content-type"]}
            body = self._edit(request.content)
            request = httpx.Request(request.method, request.url, headers=headers, content=body)
        response = await self.inner.handle_async_request(request)
        answer = await response.aread()
        if self.side == "answer":
            answer = self._edit(answer)
        headers = {"content-type": "application/json"}
        return httpx.Response(response.status_code, headers=headers, content=answer)


@pytest.fixture
async def trade(control: httpx.AsyncClient) -> None:
    answer = await control.post("/_control/trades", json={"out_trade_no": "P1", "amount": 1000})
    assert answer.status_code == 201


def _connector(
    alipay: AlipaySimulator, app_keys: KeyPair, alipay_keys: KeyPair, tamper: Tamper
) -> AlipayConnector:
    credentials = AlipayCredentials(
        alipay.app_id, Secret(app_keys.private_pem), alipay_keys.public_pem
    )
    url = "http://sim.test/alipay/gateway.do"
    return AlipayConnector(credentials, gateway_url=url, transport=tamper)


def _refund() -> ChannelRefund:
    return channel_refund(300, refund_order_id="R1", pay_order_id="P1")


def _alnum_positions(data: bytes, start: int = 0, end: int | None = None) -> list[int]:
    stop = len(data) if end is None else end
    return [i for i in range(start, stop) if data[i : i + 1].isalnum()]


@pytest.mark.usefixtures("trade")
async def test_a_request_changed_in_one_byte_is_refused_and_changes_nothing(
    alipay: AlipaySimulator, app_keys: KeyPair, alipay_keys: KeyPair
) -> None:
    tamper = Tamper(httpx.ASGITransport(app=alipay.sim), "request")
    connector = _connector(alipay, app_keys, alipay_keys, tamper)
    # A refund of a trade that does not exist: signed like any other, changes nothing.
    probe = await connector.refund(channel_refund(300, refund_order_id="R1", pay_order_id="NO"))
    assert probe.result is ChannelResult.FAILED
    # The signed message: every parameter before the sign. (A changed last base64
    # digit of the sign can touch only its padding bits: the same signature.)
    sample = tamper.seen[0]
    positions = _alnum_positions(sample, 0, sample.index(b"&sign="))[::2]
    assert len(positions) > 100

    for position in positions:
        tamper.position = position
        with pytest.raises(OutcomeUnknown):
            await connector.refund(_refund())
        assert alipay.sim.ledger.refunds() == [], f"position {position} got through"
    await connector.aclose()


@pytest.mark.usefixtures("trade")
async def test_an_answer_changed_in_one_byte_is_not_trusted(
    alipay: AlipaySimulator, app_keys: KeyPair, alipay_keys: KeyPair
) -> None:
    tamper = Tamper(httpx.ASGITransport(app=alipay.sim), "answer")
    connector = _connector(alipay, app_keys, alipay_keys, tamper)
    assert (await connector.refund(_refund())).result is ChannelResult.SUCCEEDED
    # Every byte outside the sign's own value: the node text and the JSON around it.
    sign_at = tamper.seen[0].index(b'"sign"')
    positions = _alnum_positions(tamper.seen[0], 0, sign_at + len(b'"sign"'))
    assert len(positions) > 100

    for position in positions:
        tamper.position = position
        with pytest.raises(OutcomeUnknown):
            await connector.refund(_refund())
    await connector.aclose()
