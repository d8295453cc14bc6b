"""The notification outbox and its delivery log: SQL and row mapping shared by both stores.

Statements use ``?`` placeholders; :func:`numbered` renders them for asyncpg.
A lease is a random token written on the rows a worker takes, with their next
attempt pushed past the lease: nobody else takes them meanwhile, and an
attempt is recorded on a row only while its token still holds (a worker that
overran its lease does not overwrite the next worker's state).
"""

from __future__ import annotations

import secrets

from refundgate.ports import DeliveryAttempt, DeliveryRecord, LeasedNotification, NotificationState
from refundgate.store.rows import Row

__all__ = [
    "DELIVERY_COLUMNS",
    "INSERT_DELIVERY",
    "LEASED_COLUMNS",
    "REOPEN",
    "SET_DELIVERY_STATE",
    "delivery_from_row",
    "delivery_values",
    "leased_from_row",
    "new_lease",
    "numbered",
]

LEASED_COLUMNS = (
    "notification_id, refund_order_id, mch_id, notify_url, refund_status, attempts, lease_token"
)
DELIVERY_COLUMNS = (
    "refund_order_id, mch_id, notification_id, attempt, at, url, http_status,"
    " response_excerpt, error, outcome"
)
INSERT_DELIVERY = (
    "INSERT INTO notification_deliveries (refund_order_id, mch_id, notification_id, attempt,"
    " at, url, http_status, response_excerpt, error, outcome)"
    " SELECT refund_order_id, mch_id, CAST(? AS INTEGER), CAST(? AS INTEGER), CAST(? AS BIGINT),"
    " CAST(? AS TEXT), CAST(? AS INTEGER), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT)"
    " FROM notifications WHERE notification_id = ?"
)  # the casts type the parameters for PostgreSQL (a SELECT list does not infer them)
SET_DELIVERY_STATE = (
    "UPDATE notifications SET state = ?, attempts = ?, next_attempt_at = ?, lease_token = NULL"
    " WHERE notification_id = ? AND lease_token = ?"
)
REOPEN = (
    "UPDATE notifications SET state = 'PENDING', attempts = 0, next_attempt_at = ?,"
    " lease_token = NULL WHERE refund_order_id = ?"
)

#: Bounds of the log's text columns (schema: String(256)).
_TEXT_LIMIT = 256


def new_lease() -> str:
    """A token no other lease will carry."""
    return secrets.token_hex(16)


def numbered(sql: str) -> str:
    """``?`` placeholders as PostgreSQL's ``$1, $2, …``."""
    parts = sql.split("?")
    return "".join(part + (f"${i}" if i < len(parts) else "") for i, part in enumerate(parts, 1))


def _bounded(text: str | None) -> str | None:
    return None if text is None else text[:_TEXT_LIMIT]


def delivery_values(attempt: DeliveryAttempt) -> tuple[object, ...]:
    """The parameters of :data:`INSERT_DELIVERY` for ``attempt``."""
    return (
        attempt.notification_id, attempt.attempt, attempt.at, attempt.url[:200],
        attempt.http_status, _bounded(attempt.response_excerpt), _bounded(attempt.error),
        attempt.outcome.value, attempt.notification_id,
    )  # fmt: skip


def leased_from_row(row: Row) -> LeasedNotification:
    return LeasedNotification(
        notification_id=int(row[0]),
        refund_order_id=row[1],
        mch_id=row[2],
        notify_url=row[3],
        refund_status=row[4],
        attempts=int(row[5]),
        lease=row[6],
    )


def delivery_from_row(row: Row) -> DeliveryRecord:
    attempt = DeliveryAttempt(
        notification_id=int(row[2]),
        attempt=int(row[3]),
        at=int(row[4]),
        url=row[5],
        http_status=row[6],
        response_excerpt=row[7],
        error=row[8],
        outcome=NotificationState(row[9]),
    )
    return DeliveryRecord(refund_order_id=row[0], mch_id=row[1], attempt=attempt)
