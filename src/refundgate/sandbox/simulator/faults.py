"""The fault book: misbehaviour a test or an operator asked for, consumed in order.

A fault is filed either for one trade (``out_trade_no``) or for "the next N
requests" of an operation. Each matching request takes one use (``times``
counts down); a trade's own faults are taken before request-wide ones. A
channel simulator takes a fault only once a request has passed its checks,
so a refused request does not use one up.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass

__all__ = ["Fault", "FaultBook", "FaultEntry", "Operation"]


class Fault(enum.Enum):
    """What a simulator can be told to do wrong.

    ``timeout``: commit, then hold the answer past the client's deadline.
    ``http_500``: answer 500 and commit nothing.
    ``garbage``: commit, answer a body nobody can parse.
    ``bad_signature``: commit, answer with a signature that does not verify.
    ``reject``: a definitive refusal in the channel's own code (or the ``code`` given).
    ``succeed_then_fail``: report success, then a later query or callback says failed.
    ``settle_failed`` / ``settle_abnormal``: accepted, then ends failed / abnormal.
    ``duplicate_callback``: the asynchronous callback is sent twice.
    ``late_callback``: the callback is sent only after a delay.
    """

    TIMEOUT = "timeout"
    HTTP_500 = "http_500"
    GARBAGE = "garbage"
    BAD_SIGNATURE = "bad_signature"
    REJECT = "reject"
    SUCCEED_THEN_FAIL = "succeed_then_fail"
    SETTLE_FAILED = "settle_failed"
    SETTLE_ABNORMAL = "settle_abnormal"
    DUPLICATE_CALLBACK = "duplicate_callback"
    LATE_CALLBACK = "late_callback"


class Operation(enum.Enum):
    """Which requests a fault applies to."""

    REFUND = "refund"
    QUERY = "query"
    ANY = "any"

    def covers(self, operation: Operation) -> bool:
        return self is Operation.ANY or self is operation


@dataclass(slots=True)
class FaultEntry:
    """One filed fault and the uses it has left."""

    fault: Fault
    times: int
    out_trade_no: str | None = None
    operation: Operation = Operation.REFUND
    code: str | None = None

    def matches(self, out_trade_no: str | None, operation: Operation) -> bool:
        return self.operation.covers(operation) and self.out_trade_no in (None, out_trade_no)


class FaultBook:
    """Filed faults, safe to use from any task or thread (no await inside the lock)."""

    def __init__(self) -> None:
        self._entries: list[FaultEntry] = []
        self._lock = threading.Lock()

    def file(self, entry: FaultEntry) -> None:
        if entry.times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._entries.append(entry)

    def take(self, out_trade_no: str | None, operation: Operation) -> FaultEntry | None:
        """Use up one matching fault: the trade's own first, then request-wide ones."""
        with self._lock:
            entry = self._first(out_trade_no, operation, per_trade=True) or self._first(
                out_trade_no, operation, per_trade=False
            )
            if entry is None:
                return None
            entry.times -= 1
            if entry.times == 0:
                self._entries.remove(entry)
            return FaultEntry(entry.fault, 1, entry.out_trade_no, entry.operation, entry.code)

    def _first(
        self, out_trade_no: str | None, operation: Operation, *, per_trade: bool
    ) -> FaultEntry | None:
        for entry in self._entries:
            if (entry.out_trade_no is not None) is per_trade and entry.matches(
                out_trade_no, operation
            ):
                return entry
        return None

    def pending(self) -> list[FaultEntry]:
        """What is still filed, oldest first (a copy)."""
        with self._lock:
            return [
                FaultEntry(e.fault, e.times, e.out_trade_no, e.operation, e.code)
                for e in self._entries
            ]
