"""The connector's request, and how it reads every kind of trouble (G3, G4)."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from Cryptodome.Hash import SHA256
from Cryptodome.PublicKey import RSA
from Cryptodome.Signature import PKCS1_v1_5

from refundgate.channels.alipay import AlipayConnector, AlipayCredentials
from refundgate.domain.secret import Secret
from refundgate.ports import ChannelResult, NotSent, OutcomeUnknown
from tests.channels.alipay.support import (
    APP_ID,
    KeyPair,
    channel_refund,
    make_connector,
    signed_answer,
)

SUCCESS = {"code": "10000", "msg": "Success", "fund_change": "Y", "trade_no": "2026010122001",
           "out_trade_no": "P0000000001", "refund_fee": "12.30"}  # fmt: skip


async def test_the_request_carries_our_refund_id_and_the_amount_in_yuan(
    app_keys: KeyPair, alipay_keys: KeyPair
) -> None:
    connector, fake = make_connector(
        app_keys, alipay_keys, lambda _: signed_answer(SUCCESS, alipay_keys)
    )

    await connector.refund(channel_refund(1230, refund_order_id="R0000000042"))

    params = fake.requests[0]
    assert fake.raw[0].headers["content-type"] == "application/x-www-form-urlencoded;charset=utf-8"
    assert {k: params[k] for k in ("app_id", "method", "format", "charset", "sign_type", "version",
                                   "timestamp")} == {
        "app_id": APP_ID, "method": "alipay.trade.refund", "format": "JSON", "charset": "utf-8",
        "sign_type": "RSA2", "version": "1.0", "timestamp": "2026-01-01 20:00:00",
    }  # fmt: skip
    assert fake.biz() == {"out_trade_no": "P0000000001", "refund_amount": "12.30",
                          "out_request_no": "R0000000042"}  # fmt: skip


async def test_the_request_signature_verifies_with_an_independent_library(
    app_keys: KeyPair, alipay_keys: KeyPair
) -> None:
    connector, fake = make_connector(
        app_keys, alipay_keys, lambda _: signed_answer(SUCCESS, alipay_keys)
    )

    await connector.refund(channel_refund())

    params = fake.requests[0]
    content = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign")
    verifier = PKCS1_v1_5.new(RSA.import_key(app_keys.public_pem))
    assert verifier.verify(SHA256.new(content.encode()), base64.b64decode(params["sign"]))


async def test_a_retry_sends_the_same_key_and_content(
    app_keys: KeyPair, alipay_keys: KeyPair
) -> None:
    connector, fake = make_connector(
        app_keys, alipay_keys, lambda _: signed_answer(SUCCESS, alipay_keys)
    )

    await connector.refund(channel_refund())
    await connector.refund(channel_refund())

    assert fake.requests[0]["biz_content"] == fake.requests[1]["biz_content"]


async def test_the_query_names_the_refund_by_our_id(
    app_keys: KeyPair, alipay_keys: KeyPair
) -> None:
    answer = signed_answer(
        {"code": "10000"}, alipay_keys, name="alipay_trade_fastpay_refund_query_response"
    )
    connector, fake = make_connector(app_keys, alipay_keys, lambda _: answer)

    await connector.query(channel_refund(channel_order_no="2026010122001"))

    assert fake.requests[0]["method"] == "alipay.trade.fastpay.refund.query"
    assert fake.biz() == {"trade_no": "2026010122001", "out_request_no": "R0000000001"}


def _raise(exc: Exception) -> object:
    def respond(_: object) -> str:
        raise exc

    return respond


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (httpx.ConnectError("refused"), NotSent),
        (httpx.ConnectTimeout("slow connect"), NotSent),
        (httpx.PoolTimeout("no connection free"), NotSent),
        (httpx.ReadTimeout("slow answer"), OutcomeUnknown),
        (httpx.WriteTimeout("slow send"), OutcomeUnknown),
        (httpx.RemoteProtocolError("reset"), OutcomeUnknown),
        (httpx.ReadError("connection reset by peer"), OutcomeUnknown),
    ],
)
async def test_transport_failures(
    app_keys: KeyPair, alipay_keys: KeyPair, error: Exception, expected: type[Exception]
) -> None:
    """Only a failure before sending is NotSent; anything after may have been applied."""
    connector, _ = make_connector(app_keys, alipay_keys, _raise(error))  # type: ignore[arg-type]

    with pytest.raises(expected):
        await connector.refund(channel_refund())


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(500, text="oops"),
        httpx.Response(502, text="<html>Bad Gateway</html>"),
        httpx.Response(504),
        httpx.Response(404, text="{}"),
        httpx.Response(200, content=b"\xff\xfe garbage"),
        httpx.Response(200, text=""),
        httpx.Response(
            200, text='{"alipay_trade_refund_response":{"code":"10000","fund_change":"Y"}}'
        ),
    ],
)
async def test_answers_that_cannot_be_trusted_are_unknown(
    app_keys: KeyPair, alipay_keys: KeyPair, response: httpx.Response
) -> None:
    connector, _ = make_connector(app_keys, alipay_keys, lambda _: response)

    with pytest.raises(OutcomeUnknown):
        await connector.refund(channel_refund())


async def test_an_answer_signed_over_other_text_is_unknown(
    app_keys: KeyPair, alipay_keys: KeyPair
) -> None:
    text = json.dumps(SUCCESS)
    body = f'{{"alipay_trade_refund_response":{text},"sign":"{alipay_keys.sign(text + " ")}"}}'
    connector, _ = make_connector(app_keys, alipay_keys, lambda _: body)

    with pytest.raises(OutcomeUnknown, match="signature"):
        await connector.refund(channel_refund())


async def test_a_success_for_another_trade_is_not_a_success(
    app_keys: KeyPair, alipay_keys: KeyPair
) -> None:
    other = {**SUCCESS, "out_trade_no": "SOMEONE-ELSE"}
    connector, _ = make_connector(
        app_keys, alipay_keys, lambda _: signed_answer(other, alipay_keys)
    )

    outcome = await connector.refund(channel_refund())

    assert outcome.result is ChannelResult.PROCESSING


async def test_a_currency_without_cents_is_refused_before_sending(
    app_keys: KeyPair, alipay_keys: KeyPair
) -> None:
    connector, fake = make_connector(
        app_keys, alipay_keys, lambda _: signed_answer(SUCCESS, alipay_keys)
    )

    outcome = await connector.refund(channel_refund(500, currency="JPY"))

    assert outcome.result is ChannelResult.FAILED
    assert fake.requests == []


def test_keys_and_urls_are_checked_when_the_connector_is_made(
    app_keys: KeyPair, alipay_keys: KeyPair
) -> None:
    good = AlipayCredentials(APP_ID, Secret(app_keys.private_pem), alipay_keys.public_pem)
    with pytest.raises(ValueError, match="http"):
        AlipayConnector(good, gateway_url="ftp://openapi.alipay.com/gateway.do")
    with pytest.raises(ValueError, match="private key"):
        AlipayConnector(AlipayCredentials(APP_ID, Secret("nope"), alipay_keys.public_pem),
                        gateway_url="https://openapi.alipay.com/gateway.do")  # fmt: skip


def test_no_key_shows_in_a_repr(app_keys: KeyPair, alipay_keys: KeyPair) -> None:
    credentials = AlipayCredentials(APP_ID, Secret(app_keys.private_pem), alipay_keys.public_pem)
    connector = AlipayConnector(credentials, gateway_url="https://openapi.alipay.com/gateway.do")

    shown = repr(credentials) + repr(connector) + str(credentials)

    assert "PRIVATE" not in shown
    assert app_keys.private_bare[30:60] not in shown
