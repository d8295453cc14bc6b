"""Partial refunds add up to exactly the paid amount, never more (G1)."""

from __future__ import annotations

import asyncio

from refundgate.domain.model import SandboxOutcome
from tests.api.support import assert_accepted, assert_refused, nothing_changes, order_row
from tests.conftest import Gateway


def balances(gateway: Gateway, pay_order_id: str) -> tuple[int, int, int]:
    """(refunded, reserved, refund count) of the order, read from the database."""
    order = order_row(gateway, pay_order_id)
    return order["refunded_amount"], order["reserved_amount"], order["refund_count"]


async def test_partial_refunds_add_up_to_the_paid_amount_and_no_further(
    gateway: Gateway,
) -> None:
    for number, amount in [("R-1", "3000"), ("R-2", "3000"), ("R-3", "4000")]:
        assert_accepted(await gateway.refund(mchRefundNo=number, refundAmount=amount), status=2)
    assert balances(gateway, "ALI-1") == (10_000, 0, 3)

    with nothing_changes(gateway):
        one_cent_more = await gateway.refund(mchRefundNo="R-4", refundAmount="1")

    assert_refused(one_cent_more, "REFUND_AMOUNT_EXCEEDED", mch_refund_no="R-4")


async def test_each_refund_moves_the_balance_by_its_amount(gateway: Gateway) -> None:
    await gateway.refund(mchRefundNo="R-1", refundAmount="3000")
    assert balances(gateway, "ALI-1") == (3000, 0, 1)

    await gateway.refund(mchRefundNo="R-2", refundAmount="2500")
    assert balances(gateway, "ALI-1") == (5500, 0, 2)


async def test_the_refusal_says_what_is_left(gateway: Gateway) -> None:
    await gateway.refund(mchRefundNo="R-1", refundAmount="9000")

    answer = await gateway.refund(mchRefundNo="R-2", refundAmount="1001")

    assert_refused(answer, "REFUND_AMOUNT_EXCEEDED", mch_refund_no="R-2")
    assert "1000" in answer["errCodeDes"]


async def test_an_unsettled_refund_holds_its_amount(gateway: Gateway) -> None:
    await gateway.add_order("ALI-SLOW", "ALIPAY_QR", 10_000, outcome=SandboxOutcome.PROCESSING)
    await gateway.refund(mchRefundNo="R-1", payOrderId="ALI-SLOW", refundAmount="6000")
    assert balances(gateway, "ALI-SLOW") == (0, 6000, 1)

    with nothing_changes(gateway):
        too_much = await gateway.refund(
            mchRefundNo="R-2", payOrderId="ALI-SLOW", refundAmount="4001"
        )
    rest = await gateway.refund(mchRefundNo="R-3", payOrderId="ALI-SLOW", refundAmount="4000")

    assert_refused(too_much, "REFUND_AMOUNT_EXCEEDED", mch_refund_no="R-2", pay_order_id="ALI-SLOW")
    assert_accepted(rest, status=1)
    assert balances(gateway, "ALI-SLOW") == (0, 10_000, 2)


async def test_a_rejected_refund_gives_its_amount_back(gateway: Gateway) -> None:
    await gateway.add_order("ALI-NO", "ALIPAY_QR", 10_000, outcome=SandboxOutcome.FAIL)

    await gateway.refund(payOrderId="ALI-NO", refundAmount="10000")

    assert balances(gateway, "ALI-NO") == (0, 0, 0)


async def test_refunds_of_one_order_leave_the_others_alone(gateway: Gateway) -> None:
    await gateway.refund(mchRefundNo="R-1", refundAmount="10000")

    answer = await gateway.refund(mchRefundNo="R-2", payOrderId="UPI-1", refundAmount="10000")

    assert_accepted(answer, status=2)
    assert balances(gateway, "UPI-1") == (10_000, 0, 1)
    assert balances(gateway, "WX-1") == (0, 0, 0)


async def test_concurrent_refunds_never_exceed_the_paid_amount(gateway: Gateway) -> None:
    answers = await asyncio.gather(
        *(gateway.refund(mchRefundNo=f"R-{n}", refundAmount="3000") for n in range(6))
    )

    accepted = [answer for answer in answers if answer["resCode"] == "SUCCESS"]
    refused = [answer for answer in answers if answer["resCode"] == "FAIL"]
    assert len(accepted) == 3
    assert {answer["errCode"] for answer in refused} == {"REFUND_AMOUNT_EXCEEDED"}
    assert balances(gateway, "ALI-1") == (9000, 0, 3)
    assert len(gateway.ledger.calls) == 3
