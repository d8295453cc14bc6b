"""Review and manual resolution: an operator decides what became of a refund.

A decision is a :class:`~refundgate.ports.Transition` like any other, recorded
as an event with the operator's login name (G6); balances follow it, and a
final status writes its outbox row (G7). Only the state machine's transitions
are allowed: a refund already final cannot be resolved again, and nothing changes.
"""

from __future__ import annotations

from types import MappingProxyType

from refundgate.domain.errors import InvalidTransition, RefundNotFound
from refundgate.domain.model import Refund, RefundStatus
from refundgate.ports import Transition
from refundgate.service.deps import Deps

__all__ = ["resolve_refund"]


async def resolve_refund(
    deps: Deps, refund_order_id: str, *, succeeded: bool, reason: str, login_name: str
) -> Refund:
    """Make the refund SUCCEEDED or FAILED by an operator's decision."""
    target = RefundStatus.SUCCEEDED if succeeded else RefundStatus.FAILED
    refund = await deps.store.get_refund(refund_order_id)
    if refund is None:
        raise RefundNotFound(f"no refund {refund_order_id}")
    _check(refund, target)
    change = Transition(
        target,
        deps.clock.now_ms(),
        f"resolved by an operator: {reason}",
        login_name=login_name,
        detail=MappingProxyType({"resolution": "manual"}),
    )
    resolved = await deps.store.transition(refund_order_id, change)
    if resolved.status is not target:  # changed by someone else since we read it
        raise InvalidTransition(
            f"refund {refund_order_id} became {resolved.status.name} meanwhile; nothing changed"
        )
    return resolved


def _check(refund: Refund, target: RefundStatus) -> None:
    if refund.status.is_final:
        raise InvalidTransition(
            f"refund {refund.refund_order_id} is already {refund.status.name};"
            " a final refund cannot be resolved again"
        )
    refund.status.check_transition(target)
