"""Delivering the notification outbox to merchants (PROTOCOL.md, "Refund notification").

A final refund state writes an outbox row in the same transaction (G7); these
use cases deliver it: lease the due rows, POST each one's signed form, record
the attempt in the delivery log, and schedule the next one. The merchant
acknowledges with the body ``success``; anything else is retried on
:data:`RETRY_DELAYS_MS`, then given up with an alert. An operator can resend.

Delivery is at least once: a merchant may hear of one refund twice (a lost
acknowledgement, a resend) and must record it idempotently.
"""

from __future__ import annotations

import asyncio

import structlog

from refundgate.domain.model import Refund, RefundStatus
from refundgate.ports import (
    DeliveryAttempt,
    DeliveryResult,
    LeasedNotification,
    NotificationSender,
    NotificationState,
)
from refundgate.protocol import sign
from refundgate.protocol.signing import SignedValue
from refundgate.service.deps import Deps

__all__ = [
    "DEFAULT_BATCH",
    "LEASE_MS",
    "RETRY_DELAYS_MS",
    "NotificationNotFound",
    "deliver_due",
    "notification_form",
    "resend",
]

_log = structlog.get_logger("refundgate.notifications")

_S, _MIN, _H = 1_000, 60_000, 3_600_000

#: The wait after each failed attempt: 15 s, 15 s, 30 s, 3 min, 10 min, 20 min,
#: 30 min ×3, 1 h, 3 h ×3, 6 h ×2 (about 24 h). A failure after the last one gives up.
RETRY_DELAYS_MS: tuple[int, ...] = (
    15 * _S, 15 * _S, 30 * _S, 3 * _MIN, 10 * _MIN, 20 * _MIN,
    30 * _MIN, 30 * _MIN, 30 * _MIN, 1 * _H, 3 * _H, 3 * _H, 3 * _H, 6 * _H, 6 * _H,
)  # fmt: skip

#: How long a worker holds the rows it took; far above any send's deadline.
LEASE_MS = 5 * _MIN

#: Rows taken per call; their sends run side by side.
DEFAULT_BATCH = 50


class NotificationNotFound(LookupError):
    """No notification exists for that refund (not final yet, or no notifyUrl known)."""


class _BadRow(Exception):
    """An outbox row that cannot be turned into a notification."""


def notification_form(refund: Refund, status: RefundStatus, key: str) -> dict[str, str]:
    """The signed form fields of ``refund`` ending in ``status``; empty fields left out
    (they take no part in the signature either)."""
    fields: dict[str, SignedValue] = {
        "refundOrderId": refund.refund_order_id,
        "mchId": refund.mch_id,
        "mchRefundNo": refund.mch_refund_no,
        "payOrderId": refund.pay_order_id,
        "channelId": refund.channel_id,
        "refundAmount": refund.amount,
        "currency": refund.currency,
        "status": status.wire_status,
        "channelOrderNo": refund.channel_refund_id,
        "refundSuccTime": refund.succeeded_at if status is RefundStatus.SUCCEEDED else None,
        "backType": 2,
    }
    form = {name: str(value) for name, value in fields.items() if value not in (None, "")}
    form["sign"] = sign(form, key)
    return form


async def deliver_due(deps: Deps, now: int | None = None, limit: int = DEFAULT_BATCH) -> int:
    """Deliver up to ``limit`` due notifications; how many were attempted.

    The job the worker runs: call it again at once while it returns ``limit``.
    """
    if deps.notifier is None:
        return 0
    at = deps.clock.now_ms() if now is None else now
    leased = await deps.store.lease_notifications(at, limit=limit, lease_ms=LEASE_MS)
    await _deliver_all(deps, deps.notifier, leased, at)
    return len(leased)


async def resend(deps: Deps, refund_order_id: str, now: int | None = None) -> list[DeliveryAttempt]:
    """Send the refund's notifications again now, with a fresh retry schedule.

    Raises :class:`NotificationNotFound` when there is none; returns the attempts made.
    """
    if deps.notifier is None:
        raise RuntimeError("no notification sender is configured")
    at = deps.clock.now_ms() if now is None else now
    if not await deps.store.reopen_notifications(refund_order_id, at):
        raise NotificationNotFound(refund_order_id)
    leased = await deps.store.lease_notifications(
        at, limit=DEFAULT_BATCH, lease_ms=LEASE_MS, refund_order_id=refund_order_id
    )
    return await _deliver_all(deps, deps.notifier, leased, at)


async def _deliver_all(
    deps: Deps, sender: NotificationSender, leased: list[LeasedNotification], now: int
) -> list[DeliveryAttempt]:
    # Side by side: one slow merchant must not hold up the others' notifications.
    attempts = await asyncio.gather(*(_deliver(deps, sender, row, now) for row in leased))
    return [attempt for attempt in attempts if attempt is not None]


async def _deliver(
    deps: Deps, sender: NotificationSender, row: LeasedNotification, now: int
) -> DeliveryAttempt | None:
    """One attempt, recorded; a bad row or a failing store is logged, never raised."""
    try:
        result = await _send(deps, sender, row)
        return await _record(deps, row, result, now)
    except Exception:  # the loop goes on; the lease expires and the row comes back
        _log.exception(
            "notification_failed",
            notification_id=row.notification_id,
            refund_order_id=row.refund_order_id,
        )
        return None


async def _send(deps: Deps, sender: NotificationSender, row: LeasedNotification) -> DeliveryResult:
    try:
        form = await _form_of(deps, row)
    except _BadRow as exc:
        return DeliveryResult(status_code=None, error=f"not sent: {exc}")
    return await sender.send(row.notify_url, form)


async def _form_of(deps: Deps, row: LeasedNotification) -> dict[str, str]:
    try:
        status = RefundStatus[row.refund_status]
    except KeyError:
        raise _BadRow(f"unknown refund status {row.refund_status!r}") from None
    if not status.is_final:
        raise _BadRow(f"refund status {status.name} is not final")
    refund = await deps.store.find_refund(row.mch_id, refund_order_id=row.refund_order_id)
    access = await deps.store.access(row.mch_id, None)
    if refund is None or access is None:
        raise _BadRow("the refund or its merchant no longer exists")
    return notification_form(refund, status, access.merchant.key.reveal())


async def _record(
    deps: Deps, row: LeasedNotification, result: DeliveryResult, now: int
) -> DeliveryAttempt:
    number = row.attempts + 1
    state, next_at = _next_step(result, number, now)
    attempt = DeliveryAttempt(
        notification_id=row.notification_id,
        attempt=number,
        at=now,
        url=row.notify_url,
        http_status=result.status_code,
        response_excerpt=result.body or None,
        error=result.error,
        outcome=state,
    )
    await deps.store.record_delivery(attempt, lease=row.lease, next_attempt_at=next_at)
    _log_attempt(row, attempt)
    return attempt


def _next_step(result: DeliveryResult, number: int, now: int) -> tuple[NotificationState, int]:
    """The row's state after attempt ``number`` and when the next one is due."""
    if result.acknowledged:
        return NotificationState.DELIVERED, now
    if number > len(RETRY_DELAYS_MS):
        return NotificationState.GAVE_UP, now
    return NotificationState.PENDING, now + RETRY_DELAYS_MS[number - 1]


def _log_attempt(row: LeasedNotification, attempt: DeliveryAttempt) -> None:
    # The URL is the merchant's; the form (with its sign) is never logged.
    context = {
        "notification_id": row.notification_id,
        "refund_order_id": row.refund_order_id,
        "mch_id": row.mch_id,
        "attempt": attempt.attempt,
        "http_status": attempt.http_status,
        "error": attempt.error,
    }
    if attempt.outcome is NotificationState.GAVE_UP:
        _log.error("notification_given_up", state=attempt.outcome.value, **context)
    elif attempt.outcome is NotificationState.DELIVERED:
        _log.info("notification_delivered", **context)
    else:
        _log.warning("notification_retry_scheduled", **context)
