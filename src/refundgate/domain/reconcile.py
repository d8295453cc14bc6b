"""When the reconciler asks a channel again, and when it gives up (G4).

A PROCESSING refund is queried at fixed offsets from the moment it became
PROCESSING: the intervals 10 s, 30 s, 1 min, 2 min, 5 min, 10 min, 30 min,
then hourly for the first day, then daily, up to the family's longest settle
time; a refund still unsettled after that goes to REVIEW. Offsets from a fixed
anchor (not "last check + interval") keep the schedule a pure function of the
row, so a crashed or restarted worker resumes it without any stored counter.

Longest settle times (../shared/reference/channels.md):

* WeChat Pay: bank-card refunds take up to 5 business days (§A, "card refunds
  1–3 working days, re-query after 3"): **7 days**.
* Alipay: refunds complete synchronously (§C: ``fund_change=Y``); PROCESSING
  only means an answer we could not trust, which a query settles within
  seconds once Alipay is reachable: **3 days**, so a long outage still ends in
  review instead of a silent refund.
* UnionPay: "Refunds reach the card in about 1–10 days" (§D.7): **14 days**.

A PENDING refund (never sent, sent without its outcome recorded, or a crash
right after the reservation) is taken up once it is :data:`PENDING_GRACE_MS`
old, then follows the same offsets from its creation.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from types import MappingProxyType

from refundgate.domain.channels import ChannelFamily

__all__ = [
    "PENDING_GRACE_MS",
    "check_offsets",
    "next_check_at",
    "pending_grace_ms",
    "resend_needs_proof",
    "settle_limit_ms",
]

_S = 1000
_MIN = 60 * _S
_HOUR = 60 * _MIN
_DAY = 24 * _HOUR

_FIRST_INTERVALS = (10 * _S, 30 * _S, 1 * _MIN, 2 * _MIN, 5 * _MIN, 10 * _MIN, 30 * _MIN)

#: A PENDING refund younger than this is left to the request that made it.
PENDING_GRACE_MS = 30 * _S

_SETTLE_LIMITS: Mapping[ChannelFamily, timedelta] = MappingProxyType(
    {
        ChannelFamily.WECHAT: timedelta(days=7),
        ChannelFamily.ALIPAY: timedelta(days=3),
        ChannelFamily.UNIONPAY: timedelta(days=14),
    }
)

#: Families without an idempotency key: a refund may be sent again only after a
#: query proves the previous attempt never arrived (channels.md §D.7).
_QUERY_BEFORE_RESEND = frozenset({ChannelFamily.UNIONPAY})


def settle_limit_ms(family: ChannelFamily) -> int:
    """How long a refund of ``family`` may stay unsettled before review."""
    return _SETTLE_LIMITS[family] // timedelta(milliseconds=1)


def _offsets(limit: int) -> tuple[int, ...]:
    offsets: list[int] = []
    at = 0
    for interval in _FIRST_INTERVALS:
        at += interval
        offsets.append(at)
    while at + _HOUR <= _DAY:
        at += _HOUR
        offsets.append(at)
    while at + _DAY <= limit:
        at += _DAY
        offsets.append(at)
    if offsets[-1] < limit:
        offsets.append(limit)  # one last look exactly at the limit
    return tuple(offset for offset in offsets if offset <= limit)


_OFFSETS = MappingProxyType({family: _offsets(settle_limit_ms(family)) for family in ChannelFamily})


def check_offsets(family: ChannelFamily) -> tuple[int, ...]:
    """Milliseconds after the anchor at which a refund of ``family`` is queried."""
    return _OFFSETS[family]


def next_check_at(family: ChannelFamily, *, since: int, now: int) -> int | None:
    """The first scheduled check after ``now`` of a refund anchored at ``since``;
    None once the schedule is exhausted (the refund goes to REVIEW)."""
    for offset in _OFFSETS[family]:
        if since + offset > now:
            return since + offset
    return None


def pending_grace_ms(channel_timeout_ms: int) -> int:
    """The grace of a PENDING refund: never shorter than the call that may still
    be sending it, so a refund is not re-sent while its first call is in flight."""
    return max(PENDING_GRACE_MS, 2 * channel_timeout_ms)


def resend_needs_proof(family: ChannelFamily) -> bool:
    """Whether a PENDING refund of ``family`` is queried before being sent again."""
    return family in _QUERY_BEFORE_RESEND
