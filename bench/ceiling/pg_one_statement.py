"""PostgreSQL ceiling: one statement per step, on asyncpg.

The reservation (balance move under the rule, refund row, event) is one
data-modifying CTE on a durable pool; the outcome (status, balances, event) is
one more on a pool whose sessions run ``synchronous_commit = off``. Two round
trips per refund, nothing else.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from bench.ceiling.sqlite_group import Refused

_RESERVE = """
WITH o AS (
    UPDATE pay_orders SET reserved_amount = reserved_amount + $4,
        refund_count = refund_count + 1, last_refund_at = $5
    WHERE mch_id = $1 AND pay_order_id = $3 AND status = 'PAID'
      AND refunded_amount + reserved_amount + $4 <= amount
    RETURNING channel_id, currency
), r AS (
    INSERT INTO refunds (refund_order_id, mch_id, mch_refund_no, pay_order_id, channel_id,
        amount, currency, status, login_name, client_ip, created_at, updated_at)
    SELECT $6, $1, $2, $3, o.channel_id, $4, o.currency, 'PENDING', $7, $8, $5, $5 FROM o
    RETURNING refund_order_id
), e AS (
    INSERT INTO refund_events (refund_order_id, mch_id, at, kind, from_status, to_status,
        login_name, client_ip, reason)
    SELECT r.refund_order_id, $1, $5, 'requested', NULL, 'PENDING', $7, $8, 'reserved' FROM r
)
SELECT channel_id, currency FROM o
"""
_SUCCEED = """
WITH r AS (
    UPDATE refunds SET status = 'SUCCEEDED', updated_at = $2, channel_refund_id = $3,
        succeeded_at = $2, attempts = attempts + 1
    WHERE refund_order_id = $1 AND status = 'PENDING'
    RETURNING mch_id, pay_order_id, amount
), o AS (
    UPDATE pay_orders AS p SET reserved_amount = p.reserved_amount - r.amount,
        refunded_amount = p.refunded_amount + r.amount
    FROM r WHERE p.mch_id = r.mch_id AND p.pay_order_id = r.pay_order_id
)
INSERT INTO refund_events (refund_order_id, mch_id, at, kind, from_status, to_status, reason)
SELECT $1, r.mch_id, $2, 'status', 'PENDING', 'SUCCEEDED', 'ok' FROM r
"""


async def _keep_session(connection: asyncpg.Connection) -> None:
    """No reset query on release (a round trip each): nothing here changes a session.
    The product's pool does the same; the ceiling must not be slower than a known step."""


class PostgresCeiling:
    def __init__(self, dsn: str, *, pool_size: int = 16) -> None:
        self._dsn = dsn
        self._size = pool_size
        self._pools: tuple[asyncpg.Pool, asyncpg.Pool] | None = None
        self._lock = asyncio.Lock()

    async def _get(self) -> tuple[asyncpg.Pool, asyncpg.Pool]:
        if self._pools is None:
            async with self._lock:
                if self._pools is None:
                    durable = await asyncpg.create_pool(
                        self._dsn, min_size=self._size, max_size=self._size, reset=_keep_session
                    )
                    relaxed = await asyncpg.create_pool(
                        self._dsn,
                        min_size=self._size,
                        max_size=self._size,
                        server_settings={"synchronous_commit": "off"},
                        reset=_keep_session,
                    )
                    self._pools = (durable, relaxed)
        return self._pools

    async def refund(self, r: dict[str, Any]) -> tuple[str, str]:
        durable, relaxed = await self._get()
        row = await durable.fetchrow(
            _RESERVE,
            r["mch_id"], r["refund_no"], r["order"], r["amount"], r["now"], r["id"],
            r["login"], r["ip"],
        )  # fmt: skip
        if row is None:
            raise Refused(r["order"])
        await relaxed.execute(_SUCCEED, r["id"], r["now"], "AP" + r["id"])
        return row[0], row[1]
