"""The refund state machine: which changes are allowed and how balances move."""

from __future__ import annotations

import pytest

from refundgate.domain import BalanceChange, InvalidTransition, RefundStatus

S = RefundStatus
ALLOWED = {
    (S.PENDING, S.PROCESSING),
    (S.PENDING, S.SUCCEEDED),
    (S.PENDING, S.FAILED),
    (S.PENDING, S.REVIEW),
    (S.PROCESSING, S.SUCCEEDED),
    (S.PROCESSING, S.FAILED),
    (S.PROCESSING, S.REVIEW),
    (S.REVIEW, S.SUCCEEDED),
    (S.REVIEW, S.FAILED),
}


@pytest.mark.parametrize("source", list(S))
@pytest.mark.parametrize("target", list(S))
def test_only_listed_transitions_are_allowed(source: S, target: S) -> None:
    assert source.can_become(target) == ((source, target) in ALLOWED)
    if (source, target) not in ALLOWED:
        with pytest.raises(InvalidTransition):
            source.check_transition(target)


@pytest.mark.parametrize("final", [S.SUCCEEDED, S.FAILED])
def test_final_states_never_change_again(final: S) -> None:
    assert not any(final.can_become(target) for target in S)


def test_success_turns_the_reservation_into_a_refund() -> None:
    assert BalanceChange.of(S.PROCESSING, S.SUCCEEDED, 700) == BalanceChange(
        reserved=-700, refunded=700
    )


def test_failure_releases_the_reservation_and_the_refund_slot() -> None:
    assert BalanceChange.of(S.PENDING, S.FAILED, 700) == BalanceChange(
        reserved=-700, refund_count=-1
    )


@pytest.mark.parametrize(
    ("source", "target"), [(S.PENDING, S.PROCESSING), (S.PROCESSING, S.REVIEW)]
)
def test_in_flight_moves_keep_the_reservation(source: S, target: S) -> None:
    assert BalanceChange.of(source, target, 700) == BalanceChange()


def test_a_balance_change_for_a_forbidden_move_raises() -> None:
    with pytest.raises(InvalidTransition):
        BalanceChange.of(S.SUCCEEDED, S.FAILED, 700)


@pytest.mark.parametrize(
    ("status", "wire"),
    [(S.PENDING, 0), (S.PROCESSING, 1), (S.SUCCEEDED, 2), (S.FAILED, 3), (S.REVIEW, 1)],
)
def test_merchants_see_iotpay_status_numbers(status: S, wire: int) -> None:
    assert status.wire_status == wire
