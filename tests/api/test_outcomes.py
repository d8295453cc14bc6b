"""What each sandbox outcome answers, and what a query then says (G4).

succeed → status 2; processing → status 1; fail → CHANNEL_REJECTED, status 3;
timeout → status 1, the refund processing and its amount still reserved.
"""

from __future__ import annotations

from typing import Any

import pytest

from refundgate.domain.model import SandboxOutcome
from tests.api.support import (
    assert_accepted,
    assert_refused,
    assert_signed,
    order_row,
    refund_row,
)
from tests.conftest import MCH_ID, NOW_MS, Gateway


async def refund_with(gateway: Gateway, outcome: SandboxOutcome) -> dict[str, Any]:
    await gateway.add_order("ORD-1", "WX_NATIVE", 10_000, outcome=outcome)
    return await gateway.refund(payOrderId="ORD-1", refundAmount="2500")


async def test_a_confirmed_refund_is_status_2_with_its_time_and_channel_id(
    gateway: Gateway,
) -> None:
    gateway.clock.advance(1234)

    answer = await refund_with(gateway, SandboxOutcome.SUCCEED)

    assert_accepted(answer, status=2)
    assert answer["refundSuccTime"] == NOW_MS + 1234
    assert answer["channelOrderNo"] == "50" + answer["refundOrderId"]
    assert answer["mchId"] == MCH_ID
    assert answer["mchRefundNo"] == "R-1"
    assert answer["payOrderId"] == "ORD-1"
    assert answer["refundAmount"] == 2500
    assert answer["currency"] == "CAD"
    assert answer["channelId"] == "WX_NATIVE"
    assert refund_row(gateway, answer["refundOrderId"])["status"] == "SUCCEEDED"


async def test_a_refund_the_channel_is_still_processing_is_status_1(gateway: Gateway) -> None:
    answer = await refund_with(gateway, SandboxOutcome.PROCESSING)

    assert_accepted(answer, status=1)
    assert "refundSuccTime" not in answer
    assert answer["channelOrderNo"] == "50" + answer["refundOrderId"]
    assert refund_row(gateway, answer["refundOrderId"])["status"] == "PROCESSING"
    assert order_row(gateway, "ORD-1")["reserved_amount"] == 2500


async def test_a_refund_the_channel_refuses_is_channel_rejected_status_3(
    gateway: Gateway,
) -> None:
    answer = await refund_with(gateway, SandboxOutcome.FAIL)

    assert_refused(answer, "CHANNEL_REJECTED", pay_order_id="ORD-1")
    assert answer["status"] == 3
    assert "refundSuccTime" not in answer
    stored = refund_row(gateway, answer["refundOrderId"])
    assert (stored["status"], stored["err_code"]) == ("FAILED", "NOTENOUGH")
    assert order_row(gateway, "ORD-1")["reserved_amount"] == 0


async def test_a_timed_out_refund_is_status_1_and_keeps_its_reservation(
    gateway: Gateway,
) -> None:
    answer = await refund_with(gateway, SandboxOutcome.TIMEOUT)

    assert_accepted(answer, status=1)
    assert "refundSuccTime" not in answer
    assert "channelOrderNo" not in answer
    assert refund_row(gateway, answer["refundOrderId"])["status"] == "PROCESSING"
    order = order_row(gateway, "ORD-1")
    assert (order["reserved_amount"], order["refunded_amount"]) == (2500, 0)


@pytest.mark.parametrize("outcome", list(SandboxOutcome), ids=lambda outcome: outcome.value)
async def test_a_query_by_either_id_says_what_the_refund_answer_said(
    gateway: Gateway, outcome: SandboxOutcome
) -> None:
    answer = await refund_with(gateway, outcome)

    by_number = await gateway.query(mchRefundNo="R-1")
    by_id = await gateway.query(refundOrderId=answer["refundOrderId"])

    assert by_number == by_id == answer
    assert_signed(by_number)


async def test_a_query_with_both_ids_finds_the_refund(gateway: Gateway) -> None:
    answer = await gateway.refund()

    both = await gateway.query(mchRefundNo="R-1", refundOrderId=answer["refundOrderId"])

    assert both == answer


async def test_each_refund_reaches_its_channel_once_with_our_id(gateway: Gateway) -> None:
    answer = await refund_with(gateway, SandboxOutcome.SUCCEED)
    await gateway.query(mchRefundNo="R-1")

    [call] = gateway.ledger.calls
    assert (call.family, call.operation) == ("wechat", "refund")
    assert call.refund_order_id == answer["refundOrderId"]
    assert (call.pay_order_id, call.amount, call.currency) == ("ORD-1", 2500, "CAD")


async def test_a_query_whose_two_ids_disagree_finds_nothing(gateway: Gateway) -> None:
    first = await gateway.refund()
    await gateway.refund(mchRefundNo="R-2")
    answer = await gateway.query(mchRefundNo="R-2", refundOrderId=first["refundOrderId"])
    assert answer["resCode"] == "FAIL"
    assert answer["errCode"] == "REFUND_NOT_EXIST"
