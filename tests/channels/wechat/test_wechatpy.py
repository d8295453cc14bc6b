"""wechatpy, a client nobody here wrote, refunds and queries against the simulator.

wechatpy is synchronous (requests), so these tests are too, with the
simulator served by uvicorn on loopback.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from wechatpy.exceptions import WeChatPayException
from wechatpy.pay import WeChatPay

from refundgate.sandbox.simulator import SimulatorConfig
from refundgate.sandbox.wechat import SandboxMerchant, WeChatSimulator
from tests.channels.wechat.support import lifespan
from tests.sandbox.simulator.server import serve


class Inbox:
    """Receives notifies and answers SUCCESS, keeping the bodies for wechatpy to read."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        self.bodies.append((await receive()).get("body", b""))
        body = b"<xml><return_code><![CDATA[SUCCESS]]></return_code></xml>"
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})


@dataclass
class Setup:
    merchant: SandboxMerchant
    control: httpx.Client
    inbox: Inbox
    notify_url: str
    base_url: str

    def client(self, api_key: str | None = None) -> WeChatPay:
        merchant = self.merchant
        client = WeChatPay(merchant.appid, api_key or merchant.api_key.reveal(), merchant.mch_id)
        client.API_BASE_URL = self.base_url
        return client

    def refunds(self) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = self.control.get("_control/refunds").json()
        return answer


@pytest.fixture
def setup(merchant: SandboxMerchant) -> Iterator[Setup]:
    simulator = WeChatSimulator(
        config=SimulatorConfig(settle_delay=None), merchant=merchant, notify_retries=()
    )
    inbox = Inbox()
    with serve(simulator.app) as base, serve(inbox) as inbox_base:
        base_url = base + "/wechat/"
        with httpx.Client(base_url=base_url) as control:
            control.post("_control/trades", json={"out_trade_no": "T1", "amount": 1000})
            yield Setup(merchant, control, inbox, inbox_base + "/notify", base_url)


def test_wechatpy_refunds_queries_and_reads_the_notify(setup: Setup) -> None:
    client = setup.client()

    applied = client.refund.apply(
        total_fee=1000, refund_fee=300, out_refund_no="WP1", out_trade_no="T1",
        notify_url=setup.notify_url,
    )  # fmt: skip
    before = client.refund.query(out_refund_no="WP1")
    setup.control.post("_control/settle")
    after = client.refund.query(out_refund_no="WP1")

    assert applied["result_code"] == "SUCCESS"
    assert client.check_signature(applied), "the simulator signs as wechatpy expects"
    assert client.check_signature(after)
    assert (before["refund_status_0"], after["refund_status_0"]) == ("PROCESSING", "SUCCESS")
    (body,) = setup.inbox.bodies
    notify = client.parse_refund_notify_result(body)
    assert (notify["out_refund_no"], notify["refund_status"], notify["refund_fee"]) == (
        "WP1",
        "SUCCESS",
        300,
    )


def test_wechatpy_retrying_a_refund_gets_the_same_refund(setup: Setup) -> None:
    client = setup.client()

    first = client.refund.apply(1000, 300, "WP1", out_trade_no="T1")
    again = client.refund.apply(1000, 300, "WP1", out_trade_no="T1")

    assert first["refund_id"] == again["refund_id"]
    assert [(r["refund_no"], r["requests"]) for r in setup.refunds()] == [("WP1", 2)]


def test_wechatpy_is_told_when_a_refund_number_is_reused_for_another_amount(
    setup: Setup,
) -> None:
    client = setup.client()
    client.refund.apply(1000, 300, "WP1", out_trade_no="T1")

    with pytest.raises(WeChatPayException) as caught:
        client.refund.apply(1000, 400, "WP1", out_trade_no="T1")

    assert caught.value.errcode == "INVALID_REQUEST"


def test_a_tampered_wechatpy_request_is_refused(setup: Setup) -> None:
    client = setup.client()
    send = client._http.request

    def tampering(method: str, url: str, **kwargs: Any) -> Any:
        kwargs["data"] = kwargs["data"].replace(b"<refund_fee>300<", b"<refund_fee>900<")
        return send(method, url, **kwargs)

    client._http.request = tampering

    with pytest.raises(WeChatPayException) as caught:
        client.refund.apply(1000, 300, "WP1", out_trade_no="T1")

    assert (caught.value.return_code, caught.value.return_msg) == ("FAIL", "签名错误")
    assert setup.refunds() == []


def test_wechatpy_with_the_wrong_key_is_refused(setup: Setup) -> None:
    client = setup.client(api_key="0" * 32)

    with pytest.raises(WeChatPayException) as caught:
        client.refund.apply(1000, 300, "WP1", out_trade_no="T1")

    assert caught.value.return_msg == "签名错误"
    assert setup.refunds() == []


def test_a_tampered_answer_fails_wechatpys_signature_check(setup: Setup) -> None:
    setup.control.post("_control/faults", json={"out_trade_no": "T1", "fault": "bad_signature"})
    client = setup.client()

    answer = client.refund.apply(1000, 300, "WP1", out_trade_no="T1")

    assert not client.check_signature(answer)
