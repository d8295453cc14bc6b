"""``refundgate client``'s rules that need no server: exit statuses and summaries.

The commands themselves run as processes against a live server in test_live.py.
"""

from __future__ import annotations

import pytest

from refundgate.cli_client import OUTCOME_UNKNOWN_EXIT, ClientFailure, _describe
from refundgate.client import (
    AuthenticationError,
    GatewayUnavailable,
    OutcomeUnknown,
    Refund,
    RefundGateError,
    RefundRefused,
    RefundStatus,
    SignatureError,
)


@pytest.mark.parametrize(
    ("error", "refunding", "exit_code"),
    [
        pytest.param(OutcomeUnknown("no answer", mch_refund_no="R-1"), True, 3, id="unknown"),
        pytest.param(SignatureError("bad sign", mch_refund_no="R-1"), True, 3, id="sign-refund"),
        pytest.param(SignatureError("bad sign"), False, 1, id="sign-query"),
        pytest.param(AuthenticationError("SIGN_ERROR: signature error"), True, 1, id="auth"),
        pytest.param(RefundRefused("ORDER_NOT_EXIST: no"), True, 1, id="refused"),
        pytest.param(GatewayUnavailable("HTTP 503", retry_safe=True), False, 1, id="down"),
    ],
)
def test_only_a_refund_that_may_have_been_made_exits_3(
    error: RefundGateError, refunding: bool, exit_code: int
) -> None:
    failure = ClientFailure.of(error, refunding=refunding)

    assert failure.exit_code == exit_code
    assert OUTCOME_UNKNOWN_EXIT == 3


def test_an_error_is_one_line_even_if_the_gateway_sent_several() -> None:
    failure = ClientFailure.of(RefundRefused("CHANNEL_REJECTED: a\r\nb\nc"), refunding=True)

    assert failure.format_message() == "refused: CHANNEL_REJECTED: a b c"


def test_a_failed_refund_shows_why_and_an_unknown_status_shows_what_was_sent() -> None:
    failed = Refund(
        refund_order_id="R1",
        mch_refund_no="N1",
        amount_cents=500,
        status=RefundStatus.FAILED,
        raw_status="3",
        currency="CAD",
        err_code="CHANNEL_REJECTED",
        err_code_des="NOTENOUGH: balance",
    )
    odd = Refund("R2", "N2", 7, RefundStatus.UNKNOWN, "9")

    assert _describe(failed) == [
        "refund R1: failed",
        "  mchRefundNo     N1",
        "  amount          5.00 CAD (500 cents)",
        "  failure         CHANNEL_REJECTED NOTENOUGH: balance",
    ]
    assert _describe(odd)[:3] == [
        "refund R2: unknown status '9'",
        "  mchRefundNo     N2",
        "  amount          0.07 (7 cents)",
    ]
