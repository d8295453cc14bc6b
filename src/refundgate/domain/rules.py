"""The business rules a refund must pass before its amount is reserved.

Both stores apply exactly these rules as one SQL condition in their
reservation statement (``store.refund_rules``), and call :func:`check_refund`
only to say why a refund was refused. A property test per store holds the SQL
to this function, and the store contract suite holds both stores' answers.
"""

from __future__ import annotations

from datetime import timedelta

from refundgate.domain.channels import ChannelFamily, family_of, policy_for
from refundgate.domain.errors import (
    ChannelMismatch,
    ChannelNotSupported,
    CurrencyMismatch,
    OrderNotFound,
    OrderNotRefundable,
    RefundAmountExceeded,
    RefundLimitExceeded,
)
from refundgate.domain.model import OrderStatus, PayOrder, RefundDraft, RefundRequest

__all__ = ["check_refund"]

_MS = timedelta(milliseconds=1)


def _check_matches(order: PayOrder, request: RefundRequest) -> None:
    if request.currency is not None and request.currency != order.currency:
        raise CurrencyMismatch(f"order is in {order.currency}")
    if request.channel_id is not None and request.channel_id != order.channel_id:
        raise ChannelMismatch(f"order was paid with {order.channel_id}")


def _check_policy(order: PayOrder, family: ChannelFamily, now: int) -> None:
    policy = policy_for(order.channel_id, family)
    if now - order.paid_at > policy.window // _MS:
        raise RefundLimitExceeded(f"refund window of {policy.window.days} days has passed")
    if policy.max_refunds is not None and order.refund_count >= policy.max_refunds:
        raise RefundLimitExceeded(f"at most {policy.max_refunds} refunds per order")
    spacing = policy.min_spacing // _MS
    if spacing and order.last_refund_at is not None and now - order.last_refund_at < spacing:
        raise RefundLimitExceeded(f"refunds of one order must be {spacing // 1000} s apart")


def check_refund(order: PayOrder | None, draft: RefundDraft) -> ChannelFamily:
    """Raise the first rule ``draft`` breaks against ``order``; else its family."""
    request = draft.request
    if order is None or order.mch_id != request.mch_id:
        raise OrderNotFound(request.pay_order_id)
    if order.status is not OrderStatus.PAID:
        raise OrderNotRefundable(f"order is {order.status.value.lower()}")
    family = family_of(order.channel_id)
    if family is None:
        raise ChannelNotSupported(order.channel_id)
    _check_matches(order, request)
    if request.amount > order.refundable_amount:
        raise RefundAmountExceeded(f"refundable amount is {order.refundable_amount}")
    _check_policy(order, family, draft.requested_at)
    return family
