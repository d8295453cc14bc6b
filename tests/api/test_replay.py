"""Replays and conflicts (G2): one refund per merchant refund number, forever."""

from __future__ import annotations

import asyncio

import pytest

from refundgate.domain.model import SandboxOutcome
from tests.api.support import assert_accepted, assert_refused, nothing_changes, order_row
from tests.conftest import Gateway


async def test_the_same_request_twice_is_one_refund(gateway: Gateway) -> None:
    first = await gateway.refund()

    with nothing_changes(gateway):
        second = await gateway.refund()

    assert_accepted(first, status=2)
    assert_accepted(second, status=2)
    assert second["refundOrderId"] == first["refundOrderId"]
    assert len(gateway.ledger.calls) == 1
    assert order_row(gateway, "ALI-1")["refunded_amount"] == 100


async def test_a_replay_answers_exactly_what_the_first_answer_said(gateway: Gateway) -> None:
    first = await gateway.refund()
    gateway.clock.advance(60_000)

    second = await gateway.refund()

    assert second == first


async def test_a_replay_from_another_operator_or_address_is_still_a_replay(
    gateway: Gateway,
) -> None:
    first = await gateway.refund()

    with nothing_changes(gateway):
        second = await gateway.refund(clientIp="10.0.0.9", device="till-2", memo="again")

    assert second["refundOrderId"] == first["refundOrderId"]
    assert len(gateway.ledger.calls) == 1


async def test_a_replay_naming_the_matching_currency_and_channel_is_a_replay(
    gateway: Gateway,
) -> None:
    first = await gateway.refund()

    with nothing_changes(gateway):
        second = await gateway.refund(currency="CAD", channelId="ALIPAY_QR")

    assert_accepted(second, status=2)
    assert second["refundOrderId"] == first["refundOrderId"]


async def test_an_amount_as_a_json_number_replays_the_same_amount_as_text(
    gateway: Gateway,
) -> None:
    first = await gateway.refund(refundAmount="100")

    with nothing_changes(gateway):
        second = await gateway.refund(refundAmount=100)

    assert second["refundOrderId"] == first["refundOrderId"]


@pytest.mark.parametrize(
    "changed",
    [
        {"refundAmount": "200"},
        {"payOrderId": "WX-1"},
        {"payOrderId": "NOPE-1"},
        {"currency": "USD"},
        {"channelId": "WX_NATIVE"},
    ],
    ids=["amount", "order", "unknown-order", "currency", "channel"],
)
async def test_the_same_number_with_other_parameters_is_a_conflict(
    gateway: Gateway, changed: dict[str, str]
) -> None:
    await gateway.refund()

    with nothing_changes(gateway):
        answer = await gateway.refund(**changed)

    assert_refused(
        answer, "MCH_REFUND_NO_CONFLICT", pay_order_id=changed.get("payOrderId", "ALI-1")
    )
    assert "refundOrderId" not in answer


async def test_a_conflict_does_not_spoil_the_original(gateway: Gateway) -> None:
    first = await gateway.refund()
    await gateway.refund(refundAmount="200")

    replay = await gateway.refund()

    assert replay == first


async def test_refund_numbers_are_per_merchant(gateway: Gateway) -> None:
    ours = await gateway.refund(mchRefundNo="SHARED-1")

    theirs = await gateway.refund(
        key="OTHERKEY456",
        mchId="20000001",
        loginName="olga",
        payOrderId="OTHER-1",
        mchRefundNo="SHARED-1",
    )

    assert_accepted(theirs, status=2, key="OTHERKEY456")
    assert theirs["refundOrderId"] != ours["refundOrderId"]
    assert len(gateway.ledger.calls) == 2


async def test_a_refused_request_does_not_claim_its_number(gateway: Gateway) -> None:
    await gateway.refund(refundAmount="10001")

    answer = await gateway.refund(refundAmount="100")

    assert_accepted(answer, status=2)


async def test_a_replay_of_a_rejected_refund_is_still_rejected_and_not_resent(
    gateway: Gateway,
) -> None:
    await gateway.add_order("ALI-NO", "ALIPAY_QR", 10_000, outcome=SandboxOutcome.FAIL)
    first = await gateway.refund(payOrderId="ALI-NO")

    with nothing_changes(gateway):
        second = await gateway.refund(payOrderId="ALI-NO")

    assert_refused(second, "CHANNEL_REJECTED", pay_order_id="ALI-NO")
    assert second == first
    assert len(gateway.ledger.calls) == 1


async def test_a_replay_of_an_unsettled_refund_shows_its_current_status(
    gateway: Gateway,
) -> None:
    await gateway.add_order("ALI-SLOW", "ALIPAY_QR", 10_000, outcome=SandboxOutcome.TIMEOUT)
    first = await gateway.refund(payOrderId="ALI-SLOW")

    with nothing_changes(gateway):
        second = await gateway.refund(payOrderId="ALI-SLOW")

    assert_accepted(second, status=1)
    assert second["refundOrderId"] == first["refundOrderId"]
    assert len(gateway.ledger.calls) == 1


async def test_a_replay_is_not_held_back_by_wechat_spacing(gateway: Gateway) -> None:
    first = await gateway.refund(payOrderId="WX-1")

    second = await gateway.refund(payOrderId="WX-1")

    assert_accepted(second, status=2)
    assert second["refundOrderId"] == first["refundOrderId"]


async def test_concurrent_twins_are_one_refund(gateway: Gateway) -> None:
    answers = await asyncio.gather(*(gateway.refund() for _ in range(8)))

    assert len({answer["refundOrderId"] for answer in answers}) == 1
    assert all(answer["resCode"] == "SUCCESS" for answer in answers)
    assert len(gateway.ledger.calls) == 1
    assert order_row(gateway, "ALI-1")["refunded_amount"] == 100
