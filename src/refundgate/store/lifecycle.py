"""SQL of the refund lifecycle (reconciler leases, review reads), for both stores.

A refund's next check is ``next_check_at`` when set; when it was never set,
it follows from the row itself: a PENDING refund is due a grace after its
creation, a PROCESSING one a first interval after its last change. So the
refund path writes nothing extra, and a crash at any point leaves a row that
the reconciler finds.
"""

from __future__ import annotations

from refundgate.ports import RefundEvent
from refundgate.store.rows import REFUND_COLUMNS, Row

__all__ = [
    "EVENTS",
    "RefundEvent",
    "event_from_row",
    "lease_statement",
    "list_statement",
    "qualified_refund_columns",
]

EVENT_COLUMNS = "at, kind, from_status, to_status, login_name, client_ip, reason, detail"


def qualified_refund_columns(alias: str) -> str:
    return ", ".join(f"{alias}.{column.strip()}" for column in REFUND_COLUMNS.split(","))


def _due_at(grace: str, first: str) -> str:
    return (
        "COALESCE(next_check_at, CASE status"
        f" WHEN 'PENDING' THEN created_at + {grace} ELSE updated_at + {first} END)"
    )


def _due_in_order(now: str, grace: str, first: str) -> str:
    """Due, and in due order: a backlog larger than one lease is worked oldest first,
    so a refund checked often cannot keep one waiting longer out of the leases."""
    due_at = _due_at(grace, first)
    return (
        f"status IN ('PENDING', 'PROCESSING') AND {due_at} <= {now}"
        f" ORDER BY {due_at}, refund_order_id"
    )


def lease_statement(dialect: str) -> str:
    """SQLite: the ids due (``grace, first, now, limit``), leased by the caller in the
    same transaction. PostgreSQL: one statement that locks, skipping rows other
    workers hold, leases and returns them (``$1`` now, ``$2`` grace, ``$3`` first,
    ``$4`` limit, ``$5`` lease)."""
    if dialect == "sqlite":
        return (
            f"SELECT refund_order_id FROM refunds WHERE {_due_in_order('?3', '?1', '?2')} LIMIT ?4"
        )
    return f"""
WITH due AS (
    SELECT refund_order_id FROM refunds WHERE {_due_in_order("$1", "$2", "$3")}
    LIMIT $4 FOR UPDATE SKIP LOCKED
)
UPDATE refunds AS r SET next_check_at = $1 + $5 FROM due
WHERE r.refund_order_id = due.refund_order_id
RETURNING {qualified_refund_columns("r")}
"""


def list_statement(dialect: str) -> str:
    """Refunds newest first; arguments: status, status, mch_id, mch_id, limit."""
    if dialect == "sqlite":
        status, mch, limit = "?", "?", "?"
        conditions = "(? IS NULL OR status = ?) AND (? IS NULL OR mch_id = ?)"
    else:
        status, mch, limit = "$1::text", "$2::text", "$3"
        conditions = (
            f"({status} IS NULL OR status = {status}) AND ({mch} IS NULL OR mch_id = {mch})"
        )
    return (
        f"SELECT {REFUND_COLUMNS} FROM refunds WHERE {conditions}"
        f" ORDER BY created_at DESC, refund_order_id DESC LIMIT {limit}"
    )


EVENTS = f"SELECT {EVENT_COLUMNS} FROM refund_events WHERE refund_order_id = ? ORDER BY event_id"


def event_from_row(row: Row) -> RefundEvent:
    return RefundEvent(
        at=row[0],
        kind=row[1],
        from_status=row[2],
        to_status=row[3],
        login_name=row[4],
        client_ip=row[5],
        reason=row[6],
        detail=row[7],
    )
