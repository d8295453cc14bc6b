"""The refund use cases (DESIGN.md, "One refund, end to end").

Persist, then call, then apply: the reservation is committed before the
channel hears of the refund, no transaction is held across the call, and an
answer we cannot trust leaves the refund processing (G3, G4).
"""

from __future__ import annotations

import asyncio

import structlog

from refundgate.domain.channels import ChannelFamily, family_of
from refundgate.domain.errors import ChannelNotSupported, MerchantNotFound, OperatorNotAllowed
from refundgate.domain.merchant import Operator
from refundgate.domain.model import Refund, RefundDraft, RefundRequest, RefundStatus
from refundgate.ports import (
    Access,
    ChannelConnector,
    ChannelOutcome,
    ChannelRefund,
    ChannelResult,
    NotSent,
    OutcomeUnknown,
    Reservation,
    StoreError,
    Transition,
)
from refundgate.service import exchanges
from refundgate.service.deps import Deps

_log = structlog.get_logger("refundgate.service")

__all__ = [
    "apply_outcome",
    "authorize",
    "connector_for",
    "find_merchant",
    "query_refund",
    "request_refund",
    "submit_refund",
]


async def find_merchant(deps: Deps, mch_id: str, login_name: str | None = None) -> Access:
    """The merchant ``mch_id`` and the operator ``login_name``, if any.

    Whether the merchant is enabled is checked by :func:`authorize`, after the
    signature, so that nobody without the key learns a merchant's status.
    """
    access = await deps.store.access(mch_id, login_name)
    if access is None:
        raise MerchantNotFound(mch_id)
    return access


def authorize(access: Access, login_name: str | None = None) -> Operator | None:
    """Check that the merchant is enabled and ``login_name`` (if asked) may refund."""
    access.merchant.check_enabled()
    if login_name is None:
        return None
    if access.operator is None:
        raise OperatorNotAllowed(login_name)
    access.operator.check_may_refund()
    return access.operator


async def request_refund(
    deps: Deps, request: RefundRequest, authority: Access | None = None
) -> Refund:
    """Reserve a refund (or replay the stored one) and, if new, send it.

    With ``authority``, only while it still holds (else AccessChanged, nothing done).
    """
    now = deps.clock.now_ms()
    draft = RefundDraft(request, deps.ids.refund_order_id(now), now, authority)
    reservation = await deps.store.reserve(draft)
    if not reservation.created:
        return reservation.refund
    _checkpoint(deps, "reserved")
    # The reservation is committed: finish the call and its commit even if the
    # client goes away, so a sent refund is never left without its outcome.
    return await asyncio.shield(submit_refund(deps, reservation))


async def submit_refund(deps: Deps, reservation: Reservation) -> Refund:
    """Call the order's channel with our refund id as the key; apply what it says."""
    refund = reservation.refund
    change = await _ask_channel(deps, reservation)
    if change is None:
        return refund  # never sent: still PENDING, sent again later with the same key
    _checkpoint(deps, "apply")
    try:
        return await deps.store.transition(refund.refund_order_id, change, known=refund)
    except StoreError as exc:
        # The channel may have the refund but its answer is not recorded: the
        # refund stays PENDING here, which is true, and is reconciled later.
        _log.error("outcome_not_recorded", refund_order_id=refund.refund_order_id, error=str(exc))
        return refund


async def _ask_channel(deps: Deps, reservation: Reservation) -> Transition | None:
    refund = reservation.refund
    family = family_of(refund.channel_id)
    if family is None:  # the reservation rules make this unreachable
        raise ChannelNotSupported(refund.channel_id)
    try:
        connector = await connector_for(deps, refund.mch_id, family)
    except ValueError as exc:  # an unusable account: nothing was sent
        _log.error(
            "channel_account_unusable", refund_order_id=refund.refund_order_id, error=str(exc)
        )
        return None
    calls, recording = exchanges.start(deps.clock)
    try:
        async with asyncio.timeout(deps.channel_timeout_s):
            outcome = await connector.refund(ChannelRefund(refund, reservation.order))
            _checkpoint(deps, "channel")  # the channel has it; its answer is not read yet
    except NotSent:
        change = None
    except Exception as exc:  # timeout, unknown answer, even a connector bug: maybe sent (G4)
        change = _unknown(exc, deps.clock.now_ms())
    else:
        change = _outcome_change(outcome, deps.clock.now_ms())
    finally:
        exchanges.stop(recording)
    if calls:  # the sandbox makes none: no await on the hot path
        await exchanges.keep(deps.store, refund.refund_order_id, calls)
    return change


def _checkpoint(deps: Deps, step: str) -> None:
    if deps.checkpoint is not None:  # crash-recovery tests only (Deps.checkpoint)
        deps.checkpoint(step)


async def connector_for(deps: Deps, mch_id: str, family: ChannelFamily) -> ChannelConnector:
    """The connector for ``mch_id``'s orders of ``family`` (its account's, or a default)."""
    if deps.resolver is None:
        return deps.channels[family]
    return await deps.resolver.connector(mch_id, family)


def _unknown(exc: BaseException, now: int) -> Transition:
    if isinstance(exc, TimeoutError):
        reason = "channel call timed out"
    elif isinstance(exc, OutcomeUnknown):
        reason = str(exc)
    else:
        reason = f"connector error {type(exc).__name__}"
    return Transition(RefundStatus.PROCESSING, now, f"outcome unknown: {reason}")


def _outcome_change(outcome: ChannelOutcome, now: int) -> Transition:
    failed = outcome.result is ChannelResult.FAILED
    return Transition(
        outcome.result.status,
        now,
        f"channel answered {outcome.code or outcome.result.value}",
        channel_refund_id=outcome.channel_refund_id,
        err_code=outcome.code if failed else None,
        err_msg=outcome.message if failed else None,
        detail=_answer_record(outcome),
    )


def _answer_record(outcome: ChannelOutcome) -> dict[str, str]:
    """The channel's answer as kept in the event (G6); it holds no secret."""
    record = {
        "result": outcome.result.value,
        "code": outcome.code,
        "message": outcome.message,
        "channel_refund_id": outcome.channel_refund_id,
    }
    return {name: value for name, value in record.items() if value is not None}


async def apply_outcome(deps: Deps, refund_order_id: str, outcome: ChannelOutcome) -> Refund:
    """Move the refund to what the channel said; applying it twice is a no-op."""
    change = _outcome_change(outcome, deps.clock.now_ms())
    return await deps.store.transition(refund_order_id, change)


async def query_refund(
    deps: Deps, mch_id: str, *, mch_refund_no: str | None, refund_order_id: str | None
) -> Refund | None:
    """The merchant's refund by its number or our id; given both, both must match."""
    if mch_refund_no is None:
        return await deps.store.find_refund(mch_id, refund_order_id=refund_order_id)
    refund = await deps.store.find_refund(mch_id, mch_refund_no=mch_refund_no)
    if refund is None or refund_order_id not in (None, refund.refund_order_id):
        return None
    return refund
