"""A simulator's books: paid trades and the refunds recorded against them.

Channel-neutral: amounts are ``int`` minor units, statuses are
:class:`RefundState`, and each channel maps them to its own words. Every
method runs under one lock with no ``await`` inside, so a check and the
commit that depends on it (see :meth:`Ledger.atomic`) cannot interleave with
another request, whether the app runs on one event loop or several threads.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["DuplicateTrade", "Ledger", "RefundState", "SimRefund", "Trade"]


class RefundState(enum.Enum):
    PROCESSING = "PROCESSING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    #: The channel's "needs a human" state (WeChat ``CHANGE``).
    ABNORMAL = "ABNORMAL"

    @property
    def is_final(self) -> bool:
        return self is not RefundState.PROCESSING

    @property
    def holds_money(self) -> bool:
        """Whether the refund counts against what remains of its trade."""
        return self is not RefundState.FAILED


class DuplicateTrade(Exception):
    """A trade with this ``out_trade_no`` exists already."""


@dataclass(frozen=True, slots=True)
class Trade:
    """A paid trade: the merchant's number, the channel's number, the amount paid.

    ``settle_delay`` (seconds), when set, replaces the simulator's own delay for
    this trade's refunds: they are accepted now and settled that much later.
    """

    out_trade_no: str
    trade_no: str
    amount: int
    currency: str
    paid_at: datetime
    settle_delay: float | None = None


@dataclass(slots=True)
class SimRefund:
    """A refund the simulator recorded, and the states it is still to pass through.

    ``plan`` is consumed by settling: each step moves ``state`` to the next entry.
    ``extra`` holds channel-specific facts (the sign type asked for, a description).
    """

    refund_no: str
    out_trade_no: str
    trade_no: str
    amount: int
    currency: str
    channel_refund_id: str
    created_at: datetime
    notify_url: str | None = None
    state: RefundState = RefundState.PROCESSING
    plan: list[RefundState] = field(default_factory=lambda: [RefundState.SUCCEEDED])
    settled_at: datetime | None = None
    requests: int = 1
    duplicate_callback: bool = False
    late_callback: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {
            "refund_no": self.refund_no,
            "out_trade_no": self.out_trade_no,
            "trade_no": self.trade_no,
            "amount": self.amount,
            "currency": self.currency,
            "status": self.state.value,
            "channel_refund_id": self.channel_refund_id,
            "requests": self.requests,
            "notify_url": self.notify_url,
        }


class Ledger:
    """Trades and refunds, in memory."""

    def __init__(self) -> None:
        self._trades: dict[str, Trade] = {}
        self._refunds: dict[tuple[str, str], SimRefund] = {}
        self._lock = threading.RLock()
        self._observers: list[Callable[[], None]] = []

    def observe(self, changed: Callable[[], None]) -> None:
        """Call ``changed`` (under the lock, no ``await``) after every change of the books:
        how a state file keeps up (see :mod:`.persist`)."""
        self._observers.append(changed)

    def _changed(self) -> None:
        for changed in self._observers:
            changed()

    def contents(self) -> tuple[list[Trade], list[SimRefund]]:
        """Every trade and refund, in the order recorded (the objects themselves)."""
        with self._lock:
            return list(self._trades.values()), list(self._refunds.values())

    def load(self, trades: list[Trade], refunds: list[SimRefund]) -> None:
        """Replace the books with ``trades`` and ``refunds`` (a state file read back)."""
        with self._lock:
            self._trades = {t.out_trade_no: t for t in trades}
            self._refunds = {(r.out_trade_no, r.refund_no): r for r in refunds}

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Hold the books still while a channel checks a request and commits it.

        Re-entrant; never ``await`` inside it.
        """
        with self._lock:
            yield

    def add_trade(self, trade: Trade) -> None:
        with self._lock:
            if trade.out_trade_no in self._trades:
                raise DuplicateTrade(trade.out_trade_no)
            self._trades[trade.out_trade_no] = trade
            self._changed()

    def trade(self, out_trade_no: str) -> Trade | None:
        with self._lock:
            return self._trades.get(out_trade_no)

    def trade_by_no(self, trade_no: str) -> Trade | None:
        with self._lock:
            return next((t for t in self._trades.values() if t.trade_no == trade_no), None)

    def trade_count(self) -> int:
        with self._lock:
            return len(self._trades)

    def refund(self, refund_no: str, *, out_trade_no: str | None = None) -> SimRefund | None:
        """The refund under ``refund_no`` (within ``out_trade_no`` for channels whose
        refund numbers are unique per trade only, such as Alipay's ``out_request_no``)."""
        with self._lock:
            if out_trade_no is not None:
                return self._refunds.get((out_trade_no, refund_no))
            return next((r for r in self._refunds.values() if r.refund_no == refund_no), None)

    def refund_by_channel_id(self, channel_refund_id: str) -> SimRefund | None:
        with self._lock:
            return next(
                (r for r in self._refunds.values() if r.channel_refund_id == channel_refund_id),
                None,
            )

    def refunds(self, out_trade_no: str | None = None) -> list[SimRefund]:
        """Refunds in the order they were recorded, optionally of one trade."""
        with self._lock:
            return [r for r in self._refunds.values() if out_trade_no in (None, r.out_trade_no)]

    def remaining(self, out_trade_no: str) -> int:
        """What can still be refunded of the trade (failed refunds give theirs back)."""
        with self._lock:
            trade = self._trades[out_trade_no]
            held = sum(r.amount for r in self.refunds(out_trade_no) if r.state.holds_money)
            return trade.amount - held

    def record(self, refund: SimRefund) -> SimRefund:
        """Record a new refund; a refund number already recorded is a programming error."""
        with self._lock:
            key = (refund.out_trade_no, refund.refund_no)
            if key in self._refunds:
                raise ValueError(f"refund {refund.refund_no} is recorded already")
            self._refunds[key] = refund
            self._changed()
            return refund

    def seen_again(self, refund: SimRefund) -> SimRefund:
        """Count one more request for a recorded refund (a replay)."""
        with self._lock:
            refund.requests += 1
            self._changed()
            return refund

    def advance(self, refund: SimRefund, now: datetime) -> bool:
        """Move the refund one step along its plan; False when it had no step left."""
        with self._lock:
            if not refund.plan:
                return False
            refund.state = refund.plan.pop(0)
            refund.settled_at = now
            self._changed()
            return True

    def unsettled(self) -> list[SimRefund]:
        """Refunds that still have a step to take."""
        with self._lock:
            return [r for r in self._refunds.values() if r.plan]
