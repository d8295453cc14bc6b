"""A timeout is not a failure: retries with the same refund number make one refund.

Faults are injected between the client and the real app: the request reaches
the app, which refunds and answers, and then the answer is lost. The PHP
sample would now refund again under a new number; the SDK asks again under
the same one, and the gateway answers from the stored refund.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import pytest

from refundgate.client import (
    AuthenticationError,
    ConnectionFailed,
    GatewayUnavailable,
    OutcomeUnknown,
    RefundRefused,
    RefundStatus,
    RetryPolicy,
)
from refundgate.domain.model import SandboxOutcome
from tests.api.support import order_row, rows
from tests.client.conftest import MakeSdk
from tests.client.support import (
    CONNECT_REFUSED,
    GARBLED,
    HTTP_404,
    HTTP_502,
    RESET_AFTER,
    SIGN_ERROR,
    TIMEOUT_AFTER,
    Faults,
)
from tests.conftest import Gateway


def refund_count(gateway: Gateway) -> int:
    count: int = rows(gateway, "SELECT count(*) AS n FROM refunds")[0]["n"]
    return count


def refund_numbers(faults: Faults) -> list[str]:
    """The mchRefundNo of every request that reached the app."""
    return [
        json.loads(dict(parse_qsl(body.decode()))["params"])["mchRefundNo"]
        for body in faults.bodies
    ]


@pytest.mark.parametrize("fault", [TIMEOUT_AFTER, RESET_AFTER, HTTP_502, GARBLED])
async def test_a_lost_answer_is_asked_again_and_there_is_still_one_refund(
    gateway: Gateway, make: MakeSdk, fault: str
) -> None:
    faults = Faults(fault)
    sdk = make(faults)

    refund = await sdk.refund(pay_order_id="ALI-1", mch_refund_no="R-1001", amount="19.99")

    assert refund.status is RefundStatus.SUCCEEDED
    assert faults.forwarded == 2
    assert refund_numbers(faults) == ["R-1001", "R-1001"]
    assert faults.bodies[0] == faults.bodies[1]  # the very same signed request
    assert refund_count(gateway) == 1
    assert len(gateway.ledger.calls) == 1
    assert order_row(gateway, "ALI-1")["refunded_amount"] == 1999
    assert sdk.sleeps == [0.5]


async def test_two_timeouts_then_an_answer_is_one_refund(gateway: Gateway, make: MakeSdk) -> None:
    faults = Faults(TIMEOUT_AFTER, TIMEOUT_AFTER)
    sdk = make(faults)

    refund = await sdk.refund(pay_order_id="WX-1", mch_refund_no="R-1", amount_cents=500)

    assert refund.amount_cents == 500
    assert faults.forwarded == 3
    assert refund_count(gateway) == 1
    assert len(gateway.ledger.calls) == 1
    assert sdk.sleeps == [0.5, 1.0]


async def test_no_answer_at_all_is_outcome_unknown_with_the_number_to_query(
    gateway: Gateway, make: MakeSdk
) -> None:
    faults = Faults(TIMEOUT_AFTER, TIMEOUT_AFTER, TIMEOUT_AFTER)
    sdk = make(faults)

    with pytest.raises(OutcomeUnknown) as raised:
        await sdk.refund(pay_order_id="ALI-1", mch_refund_no="R-1001", amount="19.99")

    error = raised.value
    assert error.mch_refund_no == "R-1001"
    assert error.retry_safe is False
    assert "query later" in str(error)
    assert "3 attempts" in str(error)
    assert isinstance(error, GatewayUnavailable)
    assert refund_count(gateway) == 1  # it was made: the query says so
    assert faults.sent == 3

    found = await sdk.query(mch_refund_no=error.mch_refund_no)

    assert (found.status, found.amount_cents) == (RefundStatus.SUCCEEDED, 1999)


async def test_asking_again_after_outcome_unknown_returns_the_same_refund(
    gateway: Gateway, make: MakeSdk
) -> None:
    faults = Faults(TIMEOUT_AFTER)
    once = make(faults, retries=RetryPolicy(attempts=1))
    with pytest.raises(OutcomeUnknown):
        await once.refund(pay_order_id="ALI-1", mch_refund_no="R-1", amount_cents=700)

    again = await make().refund(pay_order_id="ALI-1", mch_refund_no="R-1", amount_cents=700)

    assert again.refund_order_id == gateway.ledger.calls[0].refund_order_id
    assert refund_count(gateway) == 1
    assert order_row(gateway, "ALI-1")["refunded_amount"] == 700


async def test_a_refused_connection_sent_nothing_and_is_safe_to_retry(
    gateway: Gateway, make: MakeSdk
) -> None:
    faults = Faults(CONNECT_REFUSED, CONNECT_REFUSED, CONNECT_REFUSED)
    sdk = make(faults)

    with pytest.raises(ConnectionFailed) as raised:
        await sdk.refund(pay_order_id="ALI-1", mch_refund_no="R-1", amount_cents=100)

    assert not isinstance(raised.value, OutcomeUnknown)
    assert raised.value.retry_safe is True
    assert "nothing was sent" in str(raised.value)
    assert faults.forwarded == 0
    assert refund_count(gateway) == 0
    assert sdk.sleeps == [0.5, 1.0]


async def test_a_refused_connection_then_an_answer_is_one_refund(
    gateway: Gateway, make: MakeSdk
) -> None:
    faults = Faults(CONNECT_REFUSED)
    sdk = make(faults)

    refund = await sdk.refund(pay_order_id="ALI-1", mch_refund_no="R-1", amount_cents=100)

    assert refund.status is RefundStatus.SUCCEEDED
    assert (faults.sent, faults.forwarded, refund_count(gateway)) == (2, 1, 1)


async def test_once_maybe_sent_the_outcome_stays_unknown_even_if_later_tries_never_left(
    gateway: Gateway, make: MakeSdk
) -> None:
    faults = Faults(TIMEOUT_AFTER, CONNECT_REFUSED, CONNECT_REFUSED)

    with pytest.raises(OutcomeUnknown) as raised:
        await make(faults).refund(pay_order_id="ALI-1", mch_refund_no="R-1", amount_cents=100)

    assert raised.value.mch_refund_no == "R-1"
    assert refund_count(gateway) == 1


@pytest.mark.parametrize("answer", [HTTP_404, SIGN_ERROR])
async def test_a_protocol_failure_after_a_lost_answer_leaves_the_outcome_unknown(
    gateway: Gateway, make: MakeSdk, answer: str
) -> None:
    # The second try's failure says nothing about the first, which refunded.
    faults = Faults(TIMEOUT_AFTER, answer)

    with pytest.raises(OutcomeUnknown) as raised:
        await make(faults).refund(pay_order_id="ALI-1", mch_refund_no="R-1", amount_cents=100)

    assert "2 attempts" in str(raised.value)
    assert raised.value.__cause__ is not None
    assert refund_count(gateway) == 1


async def test_the_same_failures_on_a_first_try_are_what_they_are(
    gateway: Gateway, make: MakeSdk
) -> None:
    with pytest.raises(GatewayUnavailable) as misrouted:
        await make(Faults(HTTP_404)).refund(
            pay_order_id="ALI-1", mch_refund_no="R-1", amount_cents=1
        )
    with pytest.raises(AuthenticationError):
        await make(Faults(SIGN_ERROR)).refund(
            pay_order_id="ALI-1", mch_refund_no="R-1", amount_cents=1
        )

    assert type(misrouted.value) is GatewayUnavailable
    assert misrouted.value.retry_safe is True
    assert "base_url" in str(misrouted.value)
    assert refund_count(gateway) == 0


async def test_a_business_refusal_after_a_lost_answer_is_definitive(
    gateway: Gateway, make: MakeSdk
) -> None:
    # Nothing was refunded before the answer was lost (the amount is too large),
    # and the gateway looks up the refund number before any rule.
    faults = Faults(TIMEOUT_AFTER)

    with pytest.raises(RefundRefused) as raised:
        await make(faults).refund(pay_order_id="ALI-1", mch_refund_no="R-1", amount_cents=10_001)

    assert raised.value.err_code == "REFUND_AMOUNT_EXCEEDED"
    assert faults.forwarded == 2


async def test_a_query_that_times_out_is_asked_again_and_is_always_safe_to_retry(
    gateway: Gateway, make: MakeSdk
) -> None:
    await make().refund(pay_order_id="ALI-1", mch_refund_no="R-1", amount_cents=100)
    faults = Faults(TIMEOUT_AFTER, TIMEOUT_AFTER, TIMEOUT_AFTER)
    sdk = make(faults)

    with pytest.raises(ConnectionFailed) as raised:
        await sdk.query(mch_refund_no="R-1")

    assert not isinstance(raised.value, OutcomeUnknown)
    assert raised.value.retry_safe is True
    assert (await make(Faults(TIMEOUT_AFTER)).query(mch_refund_no="R-1")).amount_cents == 100


async def test_a_refund_the_channel_is_still_working_on_is_answered_again_as_refunding(
    gateway: Gateway, make: MakeSdk
) -> None:
    await gateway.add_order("UPI-SLOW", "UPI_QR", 5_000, outcome=SandboxOutcome.TIMEOUT)
    faults = Faults(TIMEOUT_AFTER)

    refund = await make(faults).refund(
        pay_order_id="UPI-SLOW", mch_refund_no="R-1", amount_cents=5_000
    )

    assert refund.status is RefundStatus.REFUNDING
    assert len(gateway.ledger.calls) == 1
    assert refund_count(gateway) == 1


def test_the_backoff_doubles_up_to_its_cap_and_goes_through_the_jitter() -> None:
    halves = RetryPolicy(attempts=8, first_delay=0.5, max_delay=4.0, jitter=lambda d: d / 2)

    assert [halves.delay(retry) for retry in range(1, 7)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]


def test_the_default_jitter_waits_between_half_and_all_of_the_delay() -> None:
    policy = RetryPolicy(first_delay=2.0)

    waits = [policy.delay(1) for _ in range(200)]

    assert all(1.0 <= wait <= 2.0 for wait in waits)
    assert len(set(waits)) > 1


@pytest.mark.parametrize(
    "options",
    [{"attempts": 0}, {"attempts": True}, {"first_delay": -1.0}, {"max_delay": float("nan")}],
)
def test_a_retry_policy_refuses_nonsense(options: dict[str, object]) -> None:
    with pytest.raises((TypeError, ValueError)):
        RetryPolicy(**options)  # type: ignore[arg-type]
