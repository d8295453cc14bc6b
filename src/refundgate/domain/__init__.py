"""The refund domain: plain Python, no I/O."""

from refundgate.domain.channels import ChannelFamily, ChannelPolicy, family_of, policy_for
from refundgate.domain.errors import *  # noqa: F403
from refundgate.domain.errors import __all__ as _errors
from refundgate.domain.model import (
    BalanceChange,
    OrderStatus,
    PayOrder,
    Refund,
    RefundDraft,
    RefundStatus,
    SandboxOutcome,
)
from refundgate.domain.money import Money
from refundgate.domain.rules import check_refund

__all__ = [
    "BalanceChange",
    "ChannelFamily",
    "ChannelPolicy",
    "Money",
    "OrderStatus",
    "PayOrder",
    "Refund",
    "RefundDraft",
    "RefundStatus",
    "SandboxOutcome",
    "check_refund",
    "family_of",
    "policy_for",
    *_errors,
]
