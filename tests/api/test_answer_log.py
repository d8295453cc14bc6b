"""What the app logs of each answer: refusals and failures at info, successes at debug."""

from __future__ import annotations

from tests.conftest import Gateway, log_lines


async def test_at_info_a_refund_that_went_through_is_not_logged_and_a_refusal_is(
    gateway: Gateway,
) -> None:
    with log_lines("info") as info_lines:
        done = await gateway.refund()
        refused = await gateway.refund(mchRefundNo="R-2", key="WRONGKEY")
    assert done["resCode"] == "SUCCESS"
    assert refused["retCode"] == "FAIL"
    answered = [line for line in info_lines.getvalue().splitlines() if "answered" in line]
    assert len(answered) == 1
    assert "SIGN_ERROR" in answered[0]
    assert "level='info'" in answered[0]
