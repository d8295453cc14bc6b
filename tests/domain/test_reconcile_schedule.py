"""The reconciliation schedule: offsets, settle limits, the pending grace."""

from __future__ import annotations

import itertools

import pytest

from refundgate.domain.channels import ChannelFamily
from refundgate.domain.reconcile import (
    PENDING_GRACE_MS,
    check_offsets,
    next_check_at,
    pending_grace_ms,
    resend_needs_proof,
    settle_limit_ms,
)

S, MIN, HOUR, DAY = 1000, 60_000, 3_600_000, 86_400_000


def test_the_first_checks_follow_the_short_intervals() -> None:
    offsets = check_offsets(ChannelFamily.WECHAT)
    assert offsets[:7] == (10 * S, 40 * S, 100 * S, 220 * S, 520 * S, 1120 * S, 2920 * S)


def test_then_hourly_for_a_day_then_daily() -> None:
    offsets = check_offsets(ChannelFamily.WECHAT)
    gaps = [b - a for a, b in itertools.pairwise(offsets)]
    assert gaps[6:29] == [HOUR] * 23
    assert gaps[29:-1] == [DAY] * 6
    assert 0 < gaps[-1] <= DAY  # the last look is exactly at the limit


@pytest.mark.parametrize(
    ("family", "days"),
    [(ChannelFamily.WECHAT, 7), (ChannelFamily.ALIPAY, 3), (ChannelFamily.UNIONPAY, 14)],
)
def test_the_schedule_ends_at_the_settle_limit(family: ChannelFamily, days: int) -> None:
    assert settle_limit_ms(family) == days * DAY
    offsets = check_offsets(family)
    assert offsets[-1] == days * DAY
    assert list(offsets) == sorted(set(offsets))


@pytest.mark.parametrize("family", list(ChannelFamily))
def test_next_check_is_the_first_offset_after_now(family: ChannelFamily) -> None:
    since = 1_000_000
    assert next_check_at(family, since=since, now=since) == since + 10 * S
    assert next_check_at(family, since=since, now=since + 10 * S) == since + 40 * S
    assert next_check_at(family, since=since, now=since + 39 * S) == since + 40 * S


@pytest.mark.parametrize("family", list(ChannelFamily))
def test_the_schedule_is_exhausted_at_the_limit(family: ChannelFamily) -> None:
    limit = settle_limit_ms(family)
    assert next_check_at(family, since=0, now=limit - 1) == limit
    assert next_check_at(family, since=0, now=limit) is None


def test_every_check_of_seven_days_is_visited_once_walking_the_schedule() -> None:
    visited, now = [], 0
    while (due := next_check_at(ChannelFamily.WECHAT, since=0, now=now)) is not None:
        assert due > now
        visited.append(due)
        now = due
    assert tuple(visited) == check_offsets(ChannelFamily.WECHAT)
    assert len(visited) < 50  # a week of checks is a few dozen queries, not thousands


def test_the_pending_grace_outlasts_the_channel_call() -> None:
    assert pending_grace_ms(10_000) == PENDING_GRACE_MS == 30 * S
    assert pending_grace_ms(300_000) == 600_000


def test_only_unionpay_is_queried_before_a_resend() -> None:
    assert resend_needs_proof(ChannelFamily.UNIONPAY)
    assert not resend_needs_proof(ChannelFamily.WECHAT)
    assert not resend_needs_proof(ChannelFamily.ALIPAY)
