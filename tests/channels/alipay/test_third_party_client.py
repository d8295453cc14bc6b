"""python-alipay-sdk, which nobody here wrote, against the simulator over real HTTP.

It signs its requests and verifies the simulator's answers itself, so these
tests check the simulator's signing rules against an outside implementation.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from alipay import AliPay
from alipay.exceptions import AliPayException, AliPayValidationError

from refundgate.sandbox.alipay import AlipaySimulator
from refundgate.sandbox.alipay import KeyPair as SandboxKeys
from refundgate.sandbox.simulator import SimulatorConfig
from tests.channels.alipay.support import KeyPair, Switch

REFUND = "alipay_trade_refund_response"
QUERY = "alipay_trade_fastpay_refund_query_response"


@pytest.fixture
def gateway(
    loopback_switch: tuple[Switch, str], app_keys: KeyPair, alipay_keys: KeyPair
) -> Iterator[tuple[AlipaySimulator, str]]:
    """A fresh simulator behind the loopback server; yields it and its ``/alipay`` URL."""
    simulator = AlipaySimulator(
        app_key=SandboxKeys(app_keys.private),
        alipay_key=SandboxKeys(alipay_keys.private),
        config=SimulatorConfig(settle_delay=None),
    )
    switch, url = loopback_switch
    switch.app = simulator.sim
    yield simulator, url + "/alipay"
    switch.app = None


def _sdk(url: str, *, private_pem: str | None = None) -> AliPay:
    credentials = httpx.get(url + "/_control/credentials").json()
    client = AliPay(
        appid=credentials["app_id"],
        app_notify_url=None,
        app_private_key_string=private_pem or credentials["app_private_key_pem"],
        alipay_public_key_string=credentials["alipay_public_key_pem"],
        sign_type="RSA2",
    )
    # The SDK picks its gateway in __init__ from `debug` (Alipay's production or
    # sandbox host) and keeps it in `_gateway`; it offers no other way to set it.
    client._gateway = url + "/gateway.do"
    return client


def _trade(url: str, out_trade_no: str = "P1", amount: int = 1000) -> str:
    answer = httpx.post(
        url + "/_control/trades", json={"out_trade_no": out_trade_no, "amount": amount}
    )
    assert answer.status_code == 201
    trade_no: str = answer.json()["trade_no"]
    return trade_no


def test_the_sdk_refunds_and_verifies_the_answer(gateway: tuple[AlipaySimulator, str]) -> None:
    simulator, url = gateway
    trade_no = _trade(url)

    answer: dict[str, Any] = _sdk(url).api_alipay_trade_refund(
        refund_amount="3.00", out_trade_no="P1", out_request_no="R1", refund_reason="退货"
    )

    assert (answer["code"], answer["fund_change"], answer["refund_fee"]) == ("10000", "Y", "3.00")
    assert answer["trade_no"] == trade_no
    [refund] = simulator.sim.ledger.refunds()
    assert (refund.refund_no, refund.amount) == ("R1", 300)


def test_the_sdk_replays_a_refund_without_moving_money(
    gateway: tuple[AlipaySimulator, str],
) -> None:
    simulator, url = gateway
    _trade(url)
    sdk = _sdk(url)
    sdk.api_alipay_trade_refund(refund_amount="3.00", out_trade_no="P1", out_request_no="R1")

    again = sdk.api_alipay_trade_refund(
        refund_amount="3.00", out_trade_no="P1", out_request_no="R1"
    )
    other = sdk.api_alipay_trade_refund(
        refund_amount="3.01", out_trade_no="P1", out_request_no="R1"
    )

    assert (again["code"], again["fund_change"], again["refund_fee"]) == ("10000", "N", "3.00")
    assert (other["code"], other["sub_code"]) == ("40004", "ACQ.DISCORDANT_REPEAT_REQUEST")
    assert len(simulator.sim.ledger.refunds()) == 1


def test_the_sdk_queries_a_refund_by_either_trade_number(
    gateway: tuple[AlipaySimulator, str],
) -> None:
    _, url = gateway
    trade_no = _trade(url, amount=5000)
    sdk = _sdk(url)
    sdk.api_alipay_trade_refund(refund_amount="12.30", trade_no=trade_no, out_request_no="R1")

    by_ours = sdk.api_alipay_trade_fastpay_refund_query("R1", out_trade_no="P1")
    by_theirs = sdk.api_alipay_trade_fastpay_refund_query("R1", trade_no=trade_no)
    missing = sdk.api_alipay_trade_fastpay_refund_query("R2", out_trade_no="P1")

    assert by_ours == by_theirs
    assert (by_ours["refund_status"], by_ours["refund_amount"]) == ("REFUND_SUCCESS", "12.30")
    assert missing == {"code": "10000", "msg": "Success"}


def test_a_business_refusal_comes_signed(gateway: tuple[AlipaySimulator, str]) -> None:
    _, url = gateway

    answer = _sdk(url).api_alipay_trade_refund(refund_amount="1.00", out_trade_no="NOPE")

    assert (answer["code"], answer["sub_code"]) == ("40004", "ACQ.TRADE_NOT_EXIST")


def test_a_request_signed_by_the_sdk_then_changed_in_one_byte_is_refused(
    gateway: tuple[AlipaySimulator, str],
) -> None:
    simulator, url = gateway
    _trade(url)
    sdk = _sdk(url)
    data = sdk.build_body(
        "alipay.trade.refund",
        {"out_trade_no": "P1", "refund_amount": "3.00", "out_request_no": "R1"},
    )
    signed = sdk.sign_data(data)
    tampered = signed.replace("3.00", "4.00", 1)
    assert tampered != signed

    raw = httpx.get(url + "/gateway.do?" + tampered).text

    assert '"sub_code":"isv.invalid-signature"' in raw
    with pytest.raises(AliPayException):  # unsigned: the SDK will not read it as an answer
        sdk._verify_and_return_sync_response(raw, REFUND)
    assert simulator.sim.ledger.refunds() == []
    assert '"code":"10000"' in httpx.get(url + "/gateway.do?" + signed).text


def test_the_sdk_refuses_an_answer_changed_in_one_byte(
    gateway: tuple[AlipaySimulator, str],
) -> None:
    _, url = gateway
    _trade(url)
    sdk = _sdk(url)
    data = sdk.build_body(
        "alipay.trade.refund",
        {"out_trade_no": "P1", "refund_amount": "3.00", "out_request_no": "R1"},
    )
    raw = httpx.get(url + "/gateway.do?" + sdk.sign_data(data)).text
    assert sdk._verify_and_return_sync_response(raw, REFUND)["fund_change"] == "Y"

    with pytest.raises(AliPayValidationError):
        sdk._verify_and_return_sync_response(raw.replace('"Y"', '"N"', 1), REFUND)


def test_the_sdk_with_another_app_key_is_refused(
    gateway: tuple[AlipaySimulator, str], stranger_keys: KeyPair
) -> None:
    simulator, url = gateway
    _trade(url)

    with pytest.raises(AliPayException, match=r"isv\.invalid-signature"):
        _sdk(url, private_pem=stranger_keys.private_pem).api_alipay_trade_refund(
            refund_amount="3.00", out_trade_no="P1", out_request_no="R1"
        )
    assert simulator.sim.ledger.refunds() == []
