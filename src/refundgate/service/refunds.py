"""The refund use cases (DESIGN.md, "One refund, end to end").

Persist, then call, then apply: the reservation is committed before the
channel hears of the refund, no transaction is held across the call, and an
answer we cannot trust leaves the refund processing (G3, G4).
"""

from __future__ import annotations

import asyncio

from refundgate.domain.channels import family_of
from refundgate.domain.errors import ChannelNotSupported, MerchantNotFound, OperatorNotAllowed
from refundgate.domain.merchant import Operator
from refundgate.domain.model import Refund, RefundDraft, RefundRequest, RefundStatus
from refundgate.ports import (
    Access,
    ChannelOutcome,
    ChannelRefund,
    NotSent,
    OutcomeUnknown,
    Reservation,
    Transition,
)
from refundgate.service.deps import Deps

__all__ = [
    "apply_outcome",
    "authorize",
    "find_merchant",
    "query_refund",
    "request_refund",
    "submit_refund",
]


async def find_merchant(deps: Deps, mch_id: str, login_name: str | None = None) -> Access:
    """The enabled merchant ``mch_id`` and the operator ``login_name``, if any."""
    access = await deps.store.access(mch_id, login_name)
    if access is None:
        raise MerchantNotFound(mch_id)
    access.merchant.check_enabled()
    return access


def authorize(access: Access, login_name: str) -> Operator:
    """The operator ``login_name`` if it may refund, else OperatorNotAllowed."""
    if access.operator is None:
        raise OperatorNotAllowed(login_name)
    access.operator.check_may_refund()
    return access.operator


async def request_refund(deps: Deps, request: RefundRequest) -> Refund:
    """Reserve a refund (or replay the stored one) and, if new, send it."""
    now = deps.clock.now_ms()
    draft = RefundDraft(request, deps.ids.refund_order_id(now), now)
    reservation = await deps.store.reserve(draft)
    if not reservation.created:
        return reservation.refund
    # The reservation is committed: finish the call and its commit even if the
    # client goes away, so a sent refund is never left without its outcome.
    return await asyncio.shield(submit_refund(deps, reservation))


async def submit_refund(deps: Deps, reservation: Reservation) -> Refund:
    """Call the order's channel with our refund id as the key; apply what it says."""
    refund = reservation.refund
    family = family_of(refund.channel_id)
    if family is None:  # the reservation rules make this unreachable
        raise ChannelNotSupported(refund.channel_id)
    connector = deps.channels[family]
    try:
        async with asyncio.timeout(deps.channel_timeout_s):
            outcome = await connector.refund(ChannelRefund(refund, reservation.order))
    except NotSent:
        return refund  # still PENDING: the reconciler sends it again with the same key
    except Exception as exc:  # timeout, unknown answer, even a connector bug: maybe sent (G4)
        return await _mark_unknown(deps, refund, exc)
    return await apply_outcome(deps, refund.refund_order_id, outcome)


async def _mark_unknown(deps: Deps, refund: Refund, exc: BaseException) -> Refund:
    if isinstance(exc, TimeoutError):
        reason = "channel call timed out"
    elif isinstance(exc, OutcomeUnknown):
        reason = str(exc)
    else:
        reason = f"connector error {type(exc).__name__}"
    change = Transition(RefundStatus.PROCESSING, deps.clock.now_ms(), f"outcome unknown: {reason}")
    return await deps.store.transition(refund.refund_order_id, change)


async def apply_outcome(deps: Deps, refund_order_id: str, outcome: ChannelOutcome) -> Refund:
    """Move the refund to what the channel said; applying it twice is a no-op."""
    change = Transition(
        outcome.result.status,
        deps.clock.now_ms(),
        f"channel answered {outcome.code or outcome.result.value}",
        channel_refund_id=outcome.channel_refund_id,
        err_code=outcome.code if outcome.result.status is RefundStatus.FAILED else None,
        err_msg=outcome.message if outcome.result.status is RefundStatus.FAILED else None,
    )
    return await deps.store.transition(refund_order_id, change)


async def query_refund(
    deps: Deps, mch_id: str, *, mch_refund_no: str | None, refund_order_id: str | None
) -> Refund | None:
    """The merchant's refund by its number or our id (the number wins if both)."""
    if mch_refund_no is not None:
        return await deps.store.find_refund(mch_id, mch_refund_no=mch_refund_no)
    return await deps.store.find_refund(mch_id, refund_order_id=refund_order_id)
