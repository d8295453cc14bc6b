"""Channel families and the refund policy of each, in one table.

Policy sources (../shared/reference/channels.md):

* WeChat Pay (§A.8): at most 50 refunds per order, none after 365 days,
  refunds of one order at least one minute apart.
* Alipay (§C.8): the window is set by contract; we take 365 days. No count
  or spacing limit is published, so none is applied.
* UnionPay (§D.7): card refunds are accepted up to about 330 days; QR-code
  products (``UPI_QR``, ``UPI_MICROPAY``) only for 30 days. No count limit.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta

__all__ = [
    "ChannelFamily",
    "ChannelPolicy",
    "PolicyRule",
    "family_of",
    "policy_for",
    "policy_rules",
]


class ChannelFamily(enum.Enum):
    WECHAT = "wechat"
    ALIPAY = "alipay"
    UNIONPAY = "unionpay"


_PREFIXES = (
    ("WX_", ChannelFamily.WECHAT),
    ("ALIPAY_", ChannelFamily.ALIPAY),
    ("UPI_", ChannelFamily.UNIONPAY),
)

#: UnionPay ids that are card or ExpressPay products refunded elsewhere (v3).
_NOT_REFUNDABLE_HERE = frozenset({"UPI_EX"})


def family_of(channel_id: str) -> ChannelFamily | None:
    """The family that refunds ``channel_id`` here, or None (cards and others)."""
    if channel_id in _NOT_REFUNDABLE_HERE:
        return None
    for prefix, family in _PREFIXES:
        if channel_id.startswith(prefix) and len(channel_id) > len(prefix):
            return family
    return None


@dataclass(frozen=True, slots=True)
class ChannelPolicy:
    """Limits a channel puts on refunds of one order."""

    window: timedelta
    max_refunds: int | None = None
    min_spacing: timedelta = timedelta(0)


_POLICIES = {
    ChannelFamily.WECHAT: ChannelPolicy(timedelta(days=365), 50, timedelta(seconds=60)),
    ChannelFamily.ALIPAY: ChannelPolicy(timedelta(days=365)),
    ChannelFamily.UNIONPAY: ChannelPolicy(timedelta(days=330)),
}

_CHANNEL_POLICIES = {
    "UPI_QR": ChannelPolicy(timedelta(days=30)),
    "UPI_MICROPAY": ChannelPolicy(timedelta(days=30)),
}


def policy_for(channel_id: str, family: ChannelFamily) -> ChannelPolicy:
    """The refund policy for an order paid through ``channel_id``."""
    return _CHANNEL_POLICIES.get(channel_id, _POLICIES[family])


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """Orders paid through ids matching ``pattern`` are refunded under ``policy``.

    ``exact`` rules match the whole id, the others match ids that start with
    ``pattern`` and go on after it; ``policy`` None means "not refundable here".
    """

    pattern: str
    exact: bool
    policy: ChannelPolicy | None


def policy_rules() -> tuple[PolicyRule, ...]:
    """:func:`family_of` and :func:`policy_for` as one list, first match wins.

    A store that checks the rules in SQL compiles this list, so the policy table
    stays the single source of the limits.
    """
    refused = [PolicyRule(channel_id, True, None) for channel_id in sorted(_NOT_REFUNDABLE_HERE)]
    special = [
        PolicyRule(channel_id, True, policy)
        for channel_id, policy in _CHANNEL_POLICIES.items()
        if family_of(channel_id) is not None
    ]
    families = [PolicyRule(prefix, False, _POLICIES[family]) for prefix, family in _PREFIXES]
    return (*refused, *special, *families)
