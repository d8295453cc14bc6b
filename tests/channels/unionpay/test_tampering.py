"""One changed byte in a signed message is caught, whichever way it travels;
a certificate that does not chain to the configured root is refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest

from refundgate.ports import ChannelResult, OutcomeUnknown
from refundgate.sandbox.unionpay import SandboxPki
from tests.channels.unionpay.conftest import Harness, make_connector

Edit = Callable[[bytes], bytes]


class Tampering(httpx.AsyncBaseTransport):
    """Passes requests to ``inner``, changing the request or the answer body on the way."""

    def __init__(self, inner: httpx.AsyncBaseTransport, *, request: Edit | None = None,
                 answer: Edit | None = None) -> None:  # fmt: skip
        self.inner, self.edit_request, self.edit_answer = inner, request, answer

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        if self.edit_request and request.url.path.endswith(".do"):
            body = self.edit_request(body)
            headers = {"content-type": request.headers["content-type"]}
            request = httpx.Request(request.method, request.url, content=body, headers=headers)
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        if self.edit_answer and request.url.path.endswith(".do"):
            content = self.edit_answer(content)
        return httpx.Response(response.status_code, content=content, headers=response.headers)


def replace_once(old: bytes, new: bytes) -> Edit:
    def edit(body: bytes) -> bytes:
        assert body.count(old) >= 1, (old, body[:200])
        return body.replace(old, new, 1)

    return edit


async def tampered_connector(up: Harness, **edits: Edit | None):
    client = httpx.AsyncClient(transport=Tampering(httpx.ASGITransport(app=up.sim.sim), **edits))
    return client, make_connector(up.sim, up.clock, client, up.base_url, up.exchanges.append)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"txnAmt=100&", b"txnAmt=900&"),
        (b"origQryId=8", b"origQryId=9"),
        (b"reqReserved=R", b"reqReserved=S"),
        (b"signature=", b"signature=A"),
    ],
)
async def test_a_request_changed_on_the_way_is_refused_by_unionpay(
    up: Harness, old: bytes, new: bytes
):
    request = up.request(await up.trade(), 100)
    client, connector = await tampered_connector(up, request=replace_once(old, new))
    async with client:
        outcome = await connector.refund(request)
    # UnionPay's "signature failed" is definitive: nothing was refunded (§D.3).
    assert (outcome.result, outcome.code) == (ChannelResult.FAILED, "11")
    assert await up.refunds() == []


async def test_a_changed_order_id_is_refused_and_its_answer_not_taken_for_ours(up: Harness):
    request = up.request(await up.trade(), 100)
    client, connector = await tampered_connector(
        up, request=replace_once(b"orderId=R0", b"orderId=S0")
    )
    async with client:
        with pytest.raises(OutcomeUnknown, match="another transaction"):
            await connector.refund(request)
    assert await up.refunds() == []


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"respCode=36", b"respCode=00"),
        (b"respMsg=amount", b"respMsg=bmount"),
        (b"txnAmt=20000", b"txnAmt=20001"),
        (b"signature=", b"signature=A"),
        (b"-----BEGIN CERTIFICATE-----\nMII", b"-----BEGIN CERTIFICATE-----\nMIJ"),
    ],
)
async def test_an_answer_changed_on_the_way_is_unknown(up: Harness, old: bytes, new: bytes):
    # A definitive failure (36) turned into anything else must not be believed.
    request = up.request(await up.trade(10_000), 20_000)
    client, connector = await tampered_connector(up, answer=replace_once(old, new))
    async with client:
        with pytest.raises(OutcomeUnknown, match="unverifiable"):
            await connector.refund(request)


async def test_every_byte_of_an_answer_is_covered(up: Harness):
    """Flip each byte of one signed answer's signed text: none goes unnoticed."""
    request = up.request(await up.trade(10_000), 20_000)
    seen: list[bytes] = []
    client, connector = await tampered_connector(up, answer=lambda b: seen.append(b) or b)
    async with client:
        assert (await connector.refund(request)).code == "36"
    answer = seen[0]
    signed_part = answer[: answer.index(b"&signPubKeyCert=")]
    for index in range(0, len(signed_part), 3):
        if signed_part[index : index + 1] in b"&=":
            continue  # moving a separator makes the reply unreadable, tested elsewhere
        changed = bytearray(answer)
        changed[index] ^= 0x01
        client, connector = await tampered_connector(up, answer=lambda _b, c=bytes(changed): c)
        async with client:
            with pytest.raises(OutcomeUnknown, match=r"unverifiable|unreadable"):
                await connector.refund(request)


async def test_answers_signed_under_another_root_are_refused(up: Harness, stranger: SandboxPki):
    credentials = {**up.sim.credentials(), "verify_cert_pem": stranger.verify_bundle_pem}
    connector = make_connector(up.sim, up.clock, up.client, up.base_url, up.exchanges.append,
                               credentials=credentials)  # fmt: skip
    with pytest.raises(OutcomeUnknown, match="chain"):
        await connector.refund(up.request(await up.trade()))
    # It reached UnionPay all the same: unknown is the truth, never failed.
    assert len(await up.refunds()) == 1


async def test_answers_after_the_certificate_expired_are_refused(up: Harness):
    request = up.request(await up.trade())
    up.clock.advance(timedelta(days=3700))
    request = up.request(request.order.channel_order_no)
    with pytest.raises(OutcomeUnknown, match="chain"):
        await up.connector.query(request)


async def test_production_trust_refuses_the_sandbox_signer(up: Harness):
    credentials = dict(up.sim.credentials())
    del credentials["verify_identity"]  # production: 中国银联股份有限公司 only
    connector = make_connector(up.sim, up.clock, up.client, up.base_url, up.exchanges.append,
                               credentials=credentials)  # fmt: skip
    with pytest.raises(OutcomeUnknown, match="identity"):
        await connector.refund(up.request(await up.trade()))


async def test_unionpay_refuses_a_merchant_key_it_does_not_know(up: Harness, stranger: SandboxPki):
    credentials = {**up.sim.credentials(), "sign_key_pem": stranger.merchant.key_pem,
                   "sign_cert_pem": stranger.merchant.cert_pem}  # fmt: skip
    connector = make_connector(up.sim, up.clock, up.client, up.base_url, up.exchanges.append,
                               credentials=credentials)  # fmt: skip
    outcome = await connector.refund(up.request(await up.trade()))
    assert (outcome.result, outcome.code) == (ChannelResult.FAILED, "11")
    assert await up.refunds() == []


async def test_unionpay_refuses_the_right_cert_id_with_another_key(
    up: Harness, stranger: SandboxPki
):
    credentials = {**up.sim.credentials(), "sign_key_pem": stranger.merchant.key_pem}
    connector = make_connector(up.sim, up.clock, up.client, up.base_url, up.exchanges.append,
                               credentials=credentials)  # fmt: skip
    outcome = await connector.refund(up.request(await up.trade()))
    assert (outcome.result, outcome.code) == (ChannelResult.FAILED, "11")
