"""The simulator checks what Alipay's gateway checks (channels.md §C.9).

Requests here are built and signed by hand, so each test can break one rule.
"""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from refundgate.sandbox.alipay import AlipaySimulator
from refundgate.sandbox.alipay import KeyPair as SandboxKeys
from refundgate.sandbox.simulator import ManualClock, SimulatorConfig
from tests.channels.alipay.support import KeyPair

REFUND = "alipay.trade.refund"
QUERY = "alipay.trade.fastpay.refund.query"
BEIJING_NOW = "2026-01-01 20:00:00"


def _params(
    app: str, api: str, biz: dict[str, Any] | str, /, **overrides: str | None
) -> dict[str, str]:
    params: dict[str, str | None] = {
        "app_id": app, "method": api, "format": "JSON", "charset": "utf-8",
        "sign_type": "RSA2", "timestamp": BEIJING_NOW, "version": "1.0",
        "biz_content": biz if isinstance(biz, str) else json.dumps(biz, separators=(",", ":")),
    }  # fmt: skip
    params.update(overrides)
    return {name: value for name, value in params.items() if value is not None}


def _signed(params: dict[str, str], key: KeyPair) -> dict[str, str]:
    content = "&".join(f"{k}={params[k]}" for k in sorted(params) if params[k] != "")
    return {**params, "sign": key.sign(content)}


class Gateway:
    """Sends hand-made requests to the simulator and reads its answers."""

    def __init__(self, client: httpx.AsyncClient, sim: AlipaySimulator, keys: KeyPair) -> None:
        self.client, self.sim, self.keys = client, sim, keys

    async def send(self, api: str, biz: dict[str, Any] | str, /, *, how: str = "form",
                   sign: bool = True, **overrides: str | None) -> dict[str, Any]:  # fmt: skip
        params = _params(self.sim.app_id, api, biz, **overrides)
        if sign:
            params = _signed(params, self.keys)
        response = await self._post(params, how)
        assert response.status_code == 200
        answer: dict[str, Any] = json.loads(response.text)
        return answer

    async def _post(self, params: dict[str, str], how: str) -> httpx.Response:
        form = {"content-type": "application/x-www-form-urlencoded;charset=utf-8"}
        if how == "get":
            return await self.client.get("/gateway.do", params=params)
        if how == "split":  # the official SDK: biz_content in the body, the rest in the URL
            query = {k: v for k, v in params.items() if k != "biz_content"}
            body = urlencode({"biz_content": params["biz_content"]})
            return await self.client.post(
                "/gateway.do?" + urlencode(query), content=body, headers=form
            )
        return await self.client.post("/gateway.do", content=urlencode(params), headers=form)

    async def refund(
        self, amount: Any = "3.00", *, common: dict[str, str | None] | None = None, **biz: Any
    ) -> dict[str, Any]:
        """A refund of trade P1 as R1; ``common`` overrides common parameters."""
        fields = {"out_trade_no": "P1", "refund_amount": amount, "out_request_no": "R1", **biz}
        fields = {name: value for name, value in fields.items() if value is not None}
        answer = await self.send(REFUND, fields, **(common or {}))
        node: dict[str, Any] = answer["alipay_trade_refund_response"]
        return node


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 1, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
async def gateway(app_keys: KeyPair, alipay_keys: KeyPair, clock: ManualClock) -> Any:
    sim = AlipaySimulator(
        app_key=SandboxKeys(app_keys.private), alipay_key=SandboxKeys(alipay_keys.private),
        config=SimulatorConfig(settle_delay=None), clock=clock,
    )  # fmt: skip
    transport = httpx.ASGITransport(app=sim.sim)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim.test/alipay") as client:
        created = await client.post("/_control/trades", json={"out_trade_no": "P1", "amount": 1000})
        assert created.status_code == 201
        yield Gateway(client, sim, app_keys)
    await sim.sim.aclose()


def _verified(answer: dict[str, Any], name: str, keys: KeyPair, raw: str) -> bool:
    """Whether ``raw``'s node (as sent) verifies with the simulated Alipay's public key."""
    start = raw.index("{", raw.index(f'"{name}"'))
    text = raw[
        start : start + len(json.dumps(answer[name], ensure_ascii=False, separators=(",", ":")))
    ]
    try:
        keys.private.public_key().verify(base64.b64decode(answer["sign"]), text.encode(),
                                         padding.PKCS1v15(), hashes.SHA256())  # fmt: skip
    except (ValueError, InvalidSignature):
        return False
    return True


# ---------------------------------------------------------------- the gateway's own checks


@pytest.mark.parametrize("how", ["form", "get", "split"])
async def test_parameters_are_read_from_the_form_the_query_or_both(
    gateway: Gateway, how: str
) -> None:
    answer = await gateway.send(REFUND, {"out_trade_no": "P1", "refund_amount": "3.00",
                                         "out_request_no": "R1"}, how=how)  # fmt: skip

    assert answer["alipay_trade_refund_response"]["fund_change"] == "Y"


@pytest.mark.parametrize(
    ("missing", "sub_code"),
    [
        ("app_id", "isv.missing-app-id"),
        ("charset", "isv.missing-charset"),
        ("sign_type", "isv.missing-signature-type"),
        ("timestamp", "isv.missing-timestamp"),
        ("version", "isv.missing-version"),
    ],
)
async def test_a_missing_common_parameter_is_refused_unsigned(
    gateway: Gateway, missing: str, sub_code: str
) -> None:
    answer = await gateway.send(REFUND, {"out_trade_no": "P1", "refund_amount": "1.00"},
                                **{missing: None})  # fmt: skip

    node = answer["alipay_trade_refund_response"]
    assert (node["code"], node["sub_code"]) == ("40001", sub_code)
    assert "sign" not in answer
    assert gateway.sim.sim.ledger.refunds() == []


async def test_a_missing_sign_or_method_is_refused(gateway: Gateway) -> None:
    unsigned = await gateway.send(
        REFUND, {"out_trade_no": "P1", "refund_amount": "1.00"}, sign=False
    )
    no_method = await gateway.send(REFUND, {}, method=None)

    assert unsigned["alipay_trade_refund_response"]["sub_code"] == "isv.missing-signature"
    assert no_method["error_response"]["sub_code"] == "isv.missing-method"


@pytest.mark.parametrize(
    ("override", "sub_code"),
    [
        ({"app_id": "2021000000000002"}, "isv.invalid-app-id"),
        ({"sign_type": "RSA"}, "isv.invalid-signature-type"),
        ({"charset": "GBK"}, "isv.invalid-charset"),
        ({"format": "XML"}, "isv.invalid-format"),
        ({"version": "2.0"}, "isv.invalid-version"),
        ({"timestamp": "2026-01-01T20:00:00"}, "isv.invalid-timestamp"),
        ({"timestamp": "2026-13-01 20:00:00"}, "isv.invalid-timestamp"),
        ({"timestamp": "1767268800"}, "isv.invalid-timestamp"),
    ],
)
async def test_a_wrong_common_parameter_is_refused_unsigned(
    gateway: Gateway, override: dict[str, str], sub_code: str
) -> None:
    answer = await gateway.send(REFUND, {"out_trade_no": "P1", "refund_amount": "1.00"}, **override)

    node = answer["alipay_trade_refund_response"]
    assert (node["code"], node["sub_code"], "sign" in answer) == ("40002", sub_code, False)


async def test_an_unknown_method_gets_an_error_response(gateway: Gateway) -> None:
    answer = await gateway.send("alipay.trade.pay", {"out_trade_no": "P1"})

    assert answer["error_response"]["sub_code"] == "isv.invalid-method"


async def test_the_timestamp_window_is_optional(gateway: Gateway) -> None:
    gateway.sim.timestamp_skew = timedelta(minutes=10)

    late = await gateway.refund(common={"timestamp": "2026-01-01 20:10:01"})
    on_time = await gateway.refund(common={"timestamp": "2026-01-01 20:09:59"})

    assert late["sub_code"] == "isv.invalid-timestamp"
    assert on_time["code"] == "10000"


async def test_a_signature_from_another_key_is_refused(
    gateway: Gateway, stranger_keys: KeyPair
) -> None:
    gateway.keys = stranger_keys

    node = await gateway.refund()

    assert (node["code"], node["sub_code"]) == ("40002", "isv.invalid-signature")
    assert gateway.sim.sim.ledger.refunds() == []


async def test_empty_parameters_are_not_signed(gateway: Gateway) -> None:
    """§C.5: empty values are left out of the signed string, so they may be sent."""
    node = await gateway.refund(common={"app_auth_token": ""})

    assert node["code"] == "10000"


async def test_one_name_with_two_values_is_refused(gateway: Gateway) -> None:
    params = _signed(_params(gateway.sim.app_id, REFUND, {"out_trade_no": "P1",
                     "refund_amount": "1.00"}), gateway.keys)  # fmt: skip
    body = urlencode({"biz_content": '{"out_trade_no":"P1","refund_amount":"9.00"}'})

    response = await gateway.client.post(
        "/gateway.do?" + urlencode(params), content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )  # fmt: skip

    assert '"sub_code":"isv.invalid-parameter"' in response.text
    assert gateway.sim.sim.ledger.refunds() == []


# ---------------------------------------------------------------- business rules


@pytest.mark.parametrize(
    "amount", ["0", "0.00", "-1.00", "1.234", "abc", "", "1e2", "01.00", True, None]
)
async def test_a_malformed_amount_is_refused(gateway: Gateway, amount: Any) -> None:
    node = await gateway.refund(amount)

    assert (node["code"], node["sub_code"]) == ("40004", "ACQ.REFUND_FEE_ERROR")
    assert gateway.sim.sim.ledger.refunds() == []


async def test_a_json_number_amount_is_read_exactly(gateway: Gateway) -> None:
    answer = await gateway.send(
        REFUND, '{"out_trade_no":"P1","refund_amount":0.10,"out_request_no":"R1"}'
    )

    assert answer["alipay_trade_refund_response"]["refund_fee"] == "0.10"
    assert gateway.sim.sim.ledger.refunds()[0].amount == 10


async def test_business_answers_are_signed_over_the_node_as_sent(
    gateway: Gateway, alipay_keys: KeyPair
) -> None:
    params = _signed(_params(gateway.sim.app_id, REFUND, {"out_trade_no": "NOPE",
                     "refund_amount": "1.00"}), gateway.keys)  # fmt: skip
    raw = (await gateway.client.post("/gateway.do", data=params)).text
    answer = json.loads(raw)

    assert answer["alipay_trade_refund_response"]["sub_msg"] == "交易不存在"
    assert _verified(answer, "alipay_trade_refund_response", alipay_keys, raw)


async def test_trade_no_wins_over_out_trade_no(gateway: Gateway) -> None:
    trade_no = gateway.sim.sim.ledger.trade("P1").trade_no  # type: ignore[union-attr]

    node = await gateway.refund(out_trade_no="NOPE", trade_no=trade_no)

    assert (node["code"], node["out_trade_no"]) == ("10000", "P1")


async def test_without_a_request_number_only_a_full_refund_is_possible(gateway: Gateway) -> None:
    partial = await gateway.refund("3.00", out_request_no=None)
    full = await gateway.refund("10.00", out_request_no=None)
    again = await gateway.refund("10.00", out_request_no=None)

    assert partial["sub_code"] == "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"
    assert (full["fund_change"], again["fund_change"]) == ("Y", "N")
    [refund] = gateway.sim.sim.ledger.refunds()
    assert refund.refund_no == "P1"


async def test_a_trade_past_its_refund_window_is_finished(
    gateway: Gateway, clock: ManualClock
) -> None:
    clock.advance(timedelta(days=366))

    node = await gateway.refund()

    assert node["sub_code"] == "ACQ.TRADE_HAS_FINISHED"


async def test_the_sellers_balance_limits_refunds(gateway: Gateway) -> None:
    gateway.sim.seller_balance = 500

    first = await gateway.refund("3.00", out_request_no="R1")
    second = await gateway.refund("3.00", out_request_no="R2")

    assert (first["code"], second["sub_code"]) == ("10000", "ACQ.SELLER_BALANCE_NOT_ENOUGH")


async def test_refund_fee_is_cumulative(gateway: Gateway) -> None:
    await gateway.refund("3.00", out_request_no="R1")

    second = await gateway.refund("2.50", out_request_no="R2")
    replay = await gateway.refund("3.00", out_request_no="R1")

    assert (second["refund_fee"], replay["refund_fee"], replay["fund_change"]) == (
        "5.50",
        "5.50",
        "N",
    )


async def test_concurrent_refunds_never_exceed_the_trade(gateway: Gateway) -> None:
    answers = await asyncio.gather(
        *(gateway.refund("1.00", out_request_no=f"R{n}") for n in range(15))
    )

    assert sum(a["code"] == "10000" for a in answers) == 10
    assert sum(r.amount for r in gateway.sim.sim.ledger.refunds()) == 1000


# ---------------------------------------------------------------- the query


async def test_the_query_gives_optional_fields_only_when_asked(gateway: Gateway) -> None:
    await gateway.refund("3.00")

    plain = await gateway.send(QUERY, {"out_trade_no": "P1", "out_request_no": "R1"})
    asked = await gateway.send(QUERY, {"out_trade_no": "P1", "out_request_no": "R1",
                                       "query_options": ["gmt_refund_pay"]})  # fmt: skip

    plain_node = plain["alipay_trade_fastpay_refund_query_response"]
    asked_node = asked["alipay_trade_fastpay_refund_query_response"]
    assert (plain_node["refund_status"], plain_node["refund_amount"]) == ("REFUND_SUCCESS", "3.00")
    assert "gmt_refund_pay" not in plain_node
    assert asked_node["gmt_refund_pay"] == "2026-01-01 20:00:00"


@pytest.mark.parametrize(
    ("biz", "sub_code"),
    [
        ({"out_trade_no": "NOPE", "out_request_no": "R1"}, "ACQ.TRADE_NOT_EXIST"),
        ({"out_trade_no": "P1"}, "ACQ.INVALID_PARAMETER"),
        ({"out_request_no": "R1"}, "ACQ.INVALID_PARAMETER"),
    ],
)
async def test_a_bad_query_is_refused(gateway: Gateway, biz: dict[str, str], sub_code: str) -> None:
    answer = await gateway.send(QUERY, biz)

    assert answer["alipay_trade_fastpay_refund_query_response"]["sub_code"] == sub_code
    assert "sign" in answer


async def test_the_credentials_are_what_a_client_needs(gateway: Gateway) -> None:
    payload = (await gateway.client.get("/_control/credentials")).json()

    assert set(payload) == {"app_id", "app_private_key_pem", "alipay_public_key_pem"}
    assert payload["app_private_key_pem"].startswith("-----BEGIN PRIVATE KEY-----")
    assert payload["alipay_public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")
