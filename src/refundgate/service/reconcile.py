"""The reconciler: every refund not yet final is asked about until it is (G4).

``reconcile_due`` leases the refunds due now (no other worker handles them
meanwhile), then, for each:

* PROCESSING: ``query`` the channel with the same key and apply what it says
  through :func:`~refundgate.service.refunds.apply_outcome`; an answer we
  cannot trust changes nothing.
* PENDING (past its grace: never sent, sent without its outcome recorded, or
  a crash right after the reservation): send it again with the same key
  through :func:`~refundgate.service.refunds.submit_refund`. UnionPay has no
  idempotency key (its connector re-sends attempt 1 with the same ``orderId``
  and ``txnTime``), so a UnionPay refund is queried first and sent again only
  when the channel says it has no such refund (:class:`~refundgate.ports.NoSuchRefund`).

Still unsettled: the next check follows the family's schedule
(:mod:`refundgate.domain.reconcile`); past the settle limit the refund goes to
REVIEW, with an event and an error-level ``refund_needs_review`` log line.
"""

from __future__ import annotations

import asyncio

import structlog

from refundgate.domain.channels import ChannelFamily, family_of
from refundgate.domain.model import Refund, RefundStatus
from refundgate.domain.reconcile import (
    check_offsets,
    next_check_at,
    pending_grace_ms,
    resend_needs_proof,
    settle_limit_ms,
)
from refundgate.ports import ChannelOutcome, ChannelRefund, NoSuchRefund, Reservation, Transition
from refundgate.service import exchanges
from refundgate.service.deps import Deps
from refundgate.service.refunds import apply_outcome, connector_for, submit_refund

__all__ = ["reconcile_due"]

_log = structlog.get_logger("refundgate.reconcile")

#: Refunds handled side by side within one batch.
_CONCURRENCY = 8
_FIRST_CHECK_MS = min(check_offsets(family)[0] for family in ChannelFamily)


def _lease_ms(deps: Deps) -> int:
    # Long enough for a query and a resend, each bounded by the channel timeout;
    # a worker that dies holding a lease only delays that refund by this much.
    return max(60_000, int(4 * 1000 * deps.channel_timeout_s))


async def reconcile_due(deps: Deps, now: int, limit: int = 100) -> int:
    """Handle up to ``limit`` refunds due at ``now``; how many were leased."""
    leased = await deps.store.lease_due(
        now,
        limit=limit,
        lease_ms=_lease_ms(deps),
        pending_grace_ms=pending_grace_ms(int(deps.channel_timeout_s * 1000)),
        first_check_ms=_FIRST_CHECK_MS,
    )
    gate = asyncio.Semaphore(_CONCURRENCY)

    async def one(refund: Refund) -> None:
        async with gate:
            try:
                await _reconcile(deps, refund, now)
            except (
                Exception
            ):  # one refund's trouble is logged; its lease runs out and it is retried
                _log.exception("reconcile_failed", refund_order_id=refund.refund_order_id)

    await asyncio.gather(*(one(refund) for refund in leased))
    return len(leased)


async def _reconcile(deps: Deps, refund: Refund, now: int) -> None:
    family = family_of(refund.channel_id)
    order = await deps.store.get_order(refund.mch_id, refund.pay_order_id)
    if family is None or order is None:  # the reservation rules make this unreachable
        await _to_review(deps, refund, now, "refund without a refundable order or channel")
        return
    request = ChannelRefund(refund, order)
    if refund.status is RefundStatus.PENDING:
        refund = await _resend(deps, request, family)
    else:
        refund = await _ask(deps, request, family) or refund
    await _schedule(deps, refund, family, now)


async def _resend(deps: Deps, request: ChannelRefund, family: ChannelFamily) -> Refund:
    refund = request.refund
    if resend_needs_proof(family):
        try:
            outcome = await _query(deps, request, family)
        except NoSuchRefund:
            pass  # proven never received: attempt 1 may be sent again
        except Exception as exc:  # not proven: sending again could be refused or doubled
            _unsure(refund, exc)
            return refund
        else:
            return await apply_outcome(deps, refund.refund_order_id, outcome)
    _log.info("refund_resent", refund_order_id=refund.refund_order_id, family=family.value)
    return await submit_refund(deps, Reservation(refund, request.order, created=False))


async def _ask(deps: Deps, request: ChannelRefund, family: ChannelFamily) -> Refund | None:
    """What the channel says of the refund, applied; None when it said nothing sure."""
    try:
        outcome = await _query(deps, request, family)
    except Exception as exc:  # unknown is not failed (G4): ask again later
        _unsure(request.refund, exc)
        return None
    return await apply_outcome(deps, request.refund.refund_order_id, outcome)


async def _query(deps: Deps, request: ChannelRefund, family: ChannelFamily) -> ChannelOutcome:
    connector = await connector_for(deps, request.refund.mch_id, family)
    calls, recording = exchanges.start(deps.clock)
    try:
        async with asyncio.timeout(deps.channel_timeout_s):
            return await connector.query(request)
    finally:
        exchanges.stop(recording)
        await exchanges.keep(deps.store, request.refund.refund_order_id, calls)


def _unsure(refund: Refund, exc: BaseException) -> None:
    _log.warning(
        "reconcile_unsure",
        refund_order_id=refund.refund_order_id,
        error=f"{type(exc).__name__}: {exc}",
    )


async def _schedule(deps: Deps, refund: Refund, family: ChannelFamily, now: int) -> None:
    if refund.status not in (RefundStatus.PENDING, RefundStatus.PROCESSING):
        return  # final, or in review: nothing left for the reconciler
    # PROCESSING counts from when it became so (its last change); PENDING from creation.
    since = refund.created_at if refund.status is RefundStatus.PENDING else refund.updated_at
    due = next_check_at(family, since=since, now=now)
    if due is None:
        days = settle_limit_ms(family) // 86_400_000
        reason = f"no final answer from {family.value} within its settle time ({days} days)"
        await _to_review(deps, refund, now, reason)
        return
    await deps.store.schedule_check(refund.refund_order_id, refund.status, due)


async def _to_review(deps: Deps, refund: Refund, now: int, reason: str) -> None:
    reviewed = await deps.store.transition(
        refund.refund_order_id, Transition(RefundStatus.REVIEW, now, reason)
    )
    if reviewed.status is RefundStatus.REVIEW:
        _log.error(
            "refund_needs_review",
            refund_order_id=refund.refund_order_id,
            mch_id=refund.mch_id,
            amount=refund.amount,
            currency=refund.currency,
            reason=reason,
        )
