"""Refunds and queries through both clients, against the real app in-process."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qsl

import pytest

from refundgate.client import Refund, RefundStatus
from refundgate.domain.model import SandboxOutcome
from refundgate.protocol import decode_request, verify
from tests.api.support import order_row, refund_row, rows
from tests.client.conftest import MakeSdk
from tests.client.support import Faults, Sdk
from tests.conftest import KEY, LOGIN, MCH_ID, NOW_MS, Gateway


async def test_a_decimal_amount_refunds_exactly_that_many_cents(gateway: Gateway, sdk: Sdk) -> None:
    refund = await sdk.refund(pay_order_id="ALI-1", mch_refund_no="R-1001", amount=Decimal("19.99"))

    assert refund.amount_cents == 1999
    assert refund.amount == Decimal("19.99")
    [call] = gateway.ledger.calls
    assert call.refund_order_id == refund.refund_order_id
    assert refund_row(gateway, refund.refund_order_id)["amount"] == 1999


async def test_a_refund_answer_is_read_into_a_typed_refund(gateway: Gateway, sdk: Sdk) -> None:
    refund = await sdk.refund(pay_order_id="ALI-1", mch_refund_no="R-1001", amount="0.29")

    assert refund == Refund(
        refund_order_id="R0000000001",
        mch_refund_no="R-1001",
        amount_cents=29,
        status=RefundStatus.SUCCEEDED,
        raw_status="2",
        pay_order_id="ALI-1",
        currency="CAD",
        mch_id=MCH_ID,
        channel_id="ALIPAY_QR",
        channel_order_no=refund.channel_order_no,
        succeeded_at=datetime.fromtimestamp(NOW_MS / 1000, tz=UTC),
    )
    assert refund.channel_order_no
    assert refund.is_final


async def test_amount_cents_refunds_those_cents(gateway: Gateway, sdk: Sdk) -> None:
    refund = await sdk.refund(pay_order_id="WX-1", mch_refund_no="R-1", amount_cents=1)

    assert (refund.amount_cents, refund.status) == (1, RefundStatus.SUCCEEDED)
    assert order_row(gateway, "WX-1")["refunded_amount"] == 1


async def test_the_request_is_signed_params_json_with_the_papers_the_gateway_asks_for(
    gateway: Gateway, make: MakeSdk
) -> None:
    faults = Faults()
    sdk = make(faults)

    await sdk.refund(
        pay_order_id="ALI-1",
        mch_refund_no="R-1",
        amount="1.00",
        currency="CAD",
        notify_url="https://shop.example/refunds",
    )

    [body] = faults.bodies
    [(name, params)] = parse_qsl(body.decode())
    sent = json.loads(params)
    assert name == "params"
    assert sent == {
        "mchId": MCH_ID,
        "mchRefundNo": "R-1",
        "payOrderId": "ALI-1",
        "refundAmount": "100",
        "loginName": LOGIN,
        "clientIp": "127.0.0.1",
        "device": sent["device"],
        "currency": "CAD",
        "notifyUrl": "https://shop.example/refunds",
        "sign": sent["sign"],
    }
    assert sent["device"].startswith("refundgate-python/")
    assert verify(decode_request(body, "application/x-www-form-urlencoded"), sent["sign"], [KEY])


async def test_client_ip_and_device_default_per_client_and_are_overridden_per_call(
    gateway: Gateway, make: MakeSdk
) -> None:
    sdk = make(client_ip="203.0.113.7", device="back-office")

    first = await sdk.refund(pay_order_id="ALI-1", mch_refund_no="R-1", amount_cents=100)
    second = await sdk.refund(
        pay_order_id="ALI-1",
        mch_refund_no="R-2",
        amount_cents=100,
        client_ip="2001:db8::1",
        device="till-4",
        login_name="vincent",
    )

    stored = [refund_row(gateway, refund.refund_order_id) for refund in (first, second)]
    assert [(row["client_ip"], row["device"]) for row in stored] == [
        ("203.0.113.7", "back-office"),
        ("2001:db8::1", "till-4"),
    ]


async def test_the_same_refund_number_again_is_the_same_refund(gateway: Gateway, sdk: Sdk) -> None:
    first = await sdk.refund(pay_order_id="ALI-1", mch_refund_no="R-1", amount="1.00")
    again = await sdk.refund(pay_order_id="ALI-1", mch_refund_no="R-1", amount="1.00")

    assert again == first
    assert len(gateway.ledger.calls) == 1
    assert rows(gateway, "SELECT count(*) AS n FROM refunds")[0]["n"] == 1


async def test_a_query_finds_a_refund_by_either_id(gateway: Gateway, sdk: Sdk) -> None:
    made = await sdk.refund(pay_order_id="UPI-1", mch_refund_no="R-7", amount_cents=250)

    by_number = await sdk.query(mch_refund_no="R-7")
    by_id = await sdk.query(refund_order_id=made.refund_order_id)

    assert by_number == by_id == made


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        pytest.param(SandboxOutcome.PROCESSING, RefundStatus.REFUNDING, id="processing"),
        pytest.param(SandboxOutcome.TIMEOUT, RefundStatus.REFUNDING, id="channel-timeout"),
    ],
)
async def test_a_refund_whose_outcome_is_not_known_yet_is_accepted_and_not_final(
    gateway: Gateway, sdk: Sdk, outcome: SandboxOutcome, status: RefundStatus
) -> None:
    await gateway.add_order("ALI-LATER", "ALIPAY_QR", 10_000, outcome=outcome)

    refund = await sdk.refund(pay_order_id="ALI-LATER", mch_refund_no="R-1", amount_cents=500)

    assert (refund.status, refund.raw_status, refund.is_final) == (status, "1", False)
    assert refund.succeeded_at is None
    assert (await sdk.query(mch_refund_no="R-1")).status is status


async def test_a_query_of_a_failed_refund_returns_it_as_failed_with_the_reason(
    gateway: Gateway, sdk: Sdk
) -> None:
    await gateway.add_order("ALI-NO", "ALIPAY_QR", 10_000, outcome=SandboxOutcome.FAIL)
    with pytest.raises(Exception, match="CHANNEL_REJECTED"):
        await sdk.refund(pay_order_id="ALI-NO", mch_refund_no="R-1", amount_cents=500)

    refund = await sdk.query(mch_refund_no="R-1")

    assert (refund.status, refund.is_final) == (RefundStatus.FAILED, True)
    assert refund.err_code == "CHANNEL_REJECTED"
    assert refund.err_code_des
    assert refund.err_code_des.startswith("ACQ.SELLER_BALANCE_NOT_ENOUGH")
