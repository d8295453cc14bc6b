"""The sandbox channels' record of every call they receive.

Kept in memory (the latest :data:`KEPT_IN_MEMORY` calls, so that a gateway
serving sandbox refunds for days does not grow without bound) and, when a
path is given, appended to a JSON-lines file, whole, so that tests and
operators can check from outside the gateway processes that each refund
reached its channel exactly once. Each record is one ``write`` of one line to
a file opened for appending, so processes sharing the file do not interleave
their lines.
"""

from __future__ import annotations

import json
import os
import threading
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["KEPT_IN_MEMORY", "SandboxCall", "SandboxLedger"]

#: Calls a ledger keeps in memory, the latest; its file keeps them all.
KEPT_IN_MEMORY = 10_000


@dataclass(frozen=True, slots=True)
class SandboxCall:
    """One call a sandbox channel received."""

    family: str
    operation: str
    refund_order_id: str
    pay_order_id: str
    amount: int
    currency: str
    answer: str


class SandboxLedger:
    """Every call received, in order; optionally mirrored to a file."""

    def __init__(self, path: str | Path | None = None) -> None:
        self._path = Path(path) if path else None
        self._calls: deque[SandboxCall] = deque(maxlen=KEPT_IN_MEMORY)
        self._lock = threading.Lock()

    def record(self, call: SandboxCall) -> None:
        with self._lock:
            self._calls.append(call)
        if self._path is not None:
            line = (json.dumps(asdict(call), sort_keys=True) + "\n").encode("utf-8")
            descriptor = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(descriptor, line)
            finally:
                os.close(descriptor)

    @property
    def calls(self) -> list[SandboxCall]:
        """The latest calls received (at most :data:`KEPT_IN_MEMORY`), oldest first."""
        with self._lock:
            return list(self._calls)

    def first_refund(self, refund_order_id: str) -> SandboxCall | None:
        """The first refund call received for ``refund_order_id``, by this or any
        process sharing the file: a channel keeps its refunds across our restarts.
        Without a file, among the calls still in memory."""
        calls = self.read(self._path) if self._path is not None else self.calls
        for call in calls:
            if call.operation == "refund" and call.refund_order_id == refund_order_id:
                return call
        return None

    @staticmethod
    def read(path: str | Path) -> list[SandboxCall]:
        """Every call recorded in the file at ``path``, by any process."""
        file = Path(path)
        if not file.exists():
            return []
        return [
            SandboxCall(**json.loads(line)) for line in file.read_text("utf-8").splitlines() if line
        ]
