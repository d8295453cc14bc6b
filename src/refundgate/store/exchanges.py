"""The record of channel calls (G6): SQL and row mapping shared by both stores.

One row per call a connector made for a refund: what was sent and what came
back, secrets masked by the connector, each text cut at the port's limit.
Statements use ``?`` placeholders (:func:`~refundgate.store.outbox.numbered`
renders them for asyncpg).
"""

from __future__ import annotations

from collections.abc import Sequence

from refundgate.ports import EXCHANGE_TEXT_LIMIT, ChannelExchange
from refundgate.store.rows import Row

__all__ = ["EXCHANGES", "INSERT_EXCHANGE", "exchange_from_row", "exchange_values"]

_COLUMNS = "family, operation, at, request, status_code, answer, error"
INSERT_EXCHANGE = (
    f"INSERT INTO channel_exchanges (refund_order_id, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
EXCHANGES = (
    f"SELECT {_COLUMNS} FROM channel_exchanges WHERE refund_order_id = ? ORDER BY exchange_id"
)


def _cut(text: str | None) -> str | None:
    return text if text is None or len(text) <= EXCHANGE_TEXT_LIMIT else text[:EXCHANGE_TEXT_LIMIT]


def exchange_values(
    refund_order_id: str, exchanges: Sequence[ChannelExchange]
) -> list[tuple[object, ...]]:
    """One row of :data:`INSERT_EXCHANGE` per exchange, its texts cut to the limit."""
    return [_values(refund_order_id, exchange) for exchange in exchanges]


def _values(refund_order_id: str, exchange: ChannelExchange) -> tuple[object, ...]:
    return (
        refund_order_id, exchange.family, exchange.operation, exchange.at,
        _cut(exchange.request), exchange.status_code, _cut(exchange.answer),
        _cut(exchange.error),
    )  # fmt: skip


def exchange_from_row(row: Row) -> ChannelExchange:
    """A row of :data:`EXCHANGES` as the port's record."""
    status_code = row[4]
    return ChannelExchange(
        family=str(row[0]),
        operation=str(row[1]),
        at=int(row[2]),
        request=str(row[3]),
        status_code=None if status_code is None else int(status_code),
        answer=None if row[5] is None else str(row[5]),
        error=None if row[6] is None else str(row[6]),
    )
