"""Answers are believed only when both codes say SUCCESS and the signature holds.

IOTPay's PHP sample reports success when *either* code says SUCCESS
(iotpay-v1-research.md §9, pitfall 4); here every answer is altered on its way
back from the real app to show what the SDK makes of it.
"""

from __future__ import annotations

from typing import Any

import pytest

from refundgate.client import (
    AuthenticationError,
    OutcomeUnknown,
    RefundRefused,
    RefundStatus,
    SignatureError,
)
from refundgate.protocol import sign
from tests.client.conftest import MakeSdk
from tests.client.support import AnswerRewrite
from tests.conftest import KEY, Gateway

REFUND = {"pay_order_id": "ALI-1", "mch_refund_no": "R-1", "amount_cents": 100}


def resigned(answer: dict[str, Any]) -> dict[str, Any]:
    return {**answer, "sign": sign(answer, KEY)}


async def test_an_altered_answer_is_a_signature_error_that_says_to_query(
    gateway: Gateway, make: MakeSdk
) -> None:
    sdk = make(lambda app: AnswerRewrite(app, lambda answer: {**answer, "status": 3}))

    with pytest.raises(SignatureError) as raised:
        await sdk.refund(**REFUND)

    assert isinstance(raised.value, AuthenticationError)
    assert raised.value.mch_refund_no == "R-1"
    assert "query" in str(raised.value)
    assert (await make().query(mch_refund_no="R-1")).status is RefundStatus.SUCCEEDED


async def test_an_answer_signed_with_another_key_is_a_signature_error(make: MakeSdk) -> None:
    sdk = make(
        lambda app: AnswerRewrite(app, lambda answer: {**answer, "sign": sign(answer, "OTHER")})
    )

    with pytest.raises(SignatureError):
        await sdk.query(mch_refund_no="R-1")


async def test_an_unsigned_success_is_accepted_unless_strict(make: MakeSdk) -> None:
    def unsigned(answer: dict[str, Any]) -> dict[str, Any]:
        return {name: value for name, value in answer.items() if name != "sign"}

    lenient = make(lambda app: AnswerRewrite(app, unsigned))
    strict = make(lambda app: AnswerRewrite(app, unsigned), strict=True)

    refund = await lenient.refund(**REFUND)
    with pytest.raises(SignatureError, match="strict"):
        await strict.query(mch_refund_no="R-1")

    assert refund.status is RefundStatus.SUCCEEDED


async def test_strict_mode_accepts_signed_answers_and_unsigned_protocol_failures(
    make: MakeSdk,
) -> None:
    strict = make(strict=True)

    refund = await strict.refund(**REFUND)
    with pytest.raises(AuthenticationError) as raised:
        await make(strict=True, key="NOT-THE-KEY").query(mch_refund_no="R-1")

    assert refund.status is RefundStatus.SUCCEEDED
    assert type(raised.value) is AuthenticationError  # unsigned by design, not a SignatureError


async def test_res_code_success_under_ret_code_fail_is_not_a_success(make: MakeSdk) -> None:
    sdk = make(
        lambda app: AnswerRewrite(app, lambda answer: {**answer, "resCode": "SUCCESS"}),
        key="NOT-THE-KEY",
    )

    with pytest.raises(AuthenticationError):
        await sdk.refund(**REFUND)


async def test_ret_code_success_over_res_code_fail_is_not_a_success(make: MakeSdk) -> None:
    with pytest.raises(RefundRefused):
        await make().refund(**{**REFUND, "pay_order_id": "NOPE-1"})


async def test_ret_code_success_without_res_code_leaves_the_refund_unknown(
    gateway: Gateway, make: MakeSdk
) -> None:
    def no_res_code(answer: dict[str, Any]) -> dict[str, Any]:
        return resigned({name: value for name, value in answer.items() if name != "resCode"})

    sdk = make(lambda app: AnswerRewrite(app, no_res_code))

    with pytest.raises(OutcomeUnknown) as raised:
        await sdk.refund(**REFUND)

    assert "resCode" in str(raised.value)
    assert len(gateway.ledger.calls) == 1


async def test_an_answer_about_another_refund_is_not_taken_for_this_one(
    gateway: Gateway, make: MakeSdk
) -> None:
    sdk = make(
        lambda app: AnswerRewrite(app, lambda answer: resigned({**answer, "refundAmount": 1}))
    )

    with pytest.raises(OutcomeUnknown, match="refundAmount"):
        await sdk.refund(**REFUND)

    assert sdk.sleeps == []  # asking again would not change the answer
