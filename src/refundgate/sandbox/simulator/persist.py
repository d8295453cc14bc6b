"""An optional state file, so that simulators keep their books across a restart.

The embedded default run stops its simulators with the gateway; the paid
trades and the refunds already recorded must still be there at the next start
(a refund the gateway left processing is asked about again, and a trade must
not be refundable twice over). :class:`StateFile` writes every simulator's
books (trades and refunds; not faults, keys or callbacks) as one JSON document
after each change, atomically (a temporary file renamed over the old one), and
reads them back at start. Demo-sized books make a whole rewrite cheap.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from refundgate.sandbox.simulator.core import Simulator
from refundgate.sandbox.simulator.state import RefundState, SimRefund, Trade

__all__ = ["StateFile"]

_VERSION = 1


def _trade_json(trade: Trade) -> dict[str, Any]:
    return {
        "out_trade_no": trade.out_trade_no,
        "trade_no": trade.trade_no,
        "amount": trade.amount,
        "currency": trade.currency,
        "paid_at": trade.paid_at.isoformat(),
        "settle_delay": trade.settle_delay,
    }


def _trade(data: Mapping[str, Any]) -> Trade:
    return Trade(
        data["out_trade_no"], data["trade_no"], int(data["amount"]), data["currency"],
        datetime.fromisoformat(data["paid_at"]), data.get("settle_delay"),
    )  # fmt: skip


def _refund_json(refund: SimRefund) -> dict[str, Any]:
    settled = refund.settled_at.isoformat() if refund.settled_at else None
    return {
        "refund_no": refund.refund_no,
        "out_trade_no": refund.out_trade_no,
        "trade_no": refund.trade_no,
        "amount": refund.amount,
        "currency": refund.currency,
        "channel_refund_id": refund.channel_refund_id,
        "created_at": refund.created_at.isoformat(),
        "notify_url": refund.notify_url,
        "state": refund.state.value,
        "plan": [step.value for step in refund.plan],
        "settled_at": settled,
        "requests": refund.requests,
        "duplicate_callback": refund.duplicate_callback,
        "late_callback": refund.late_callback,
        "extra": dict(refund.extra),
    }


def _refund(data: Mapping[str, Any]) -> SimRefund:
    settled = data.get("settled_at")
    return SimRefund(
        refund_no=data["refund_no"],
        out_trade_no=data["out_trade_no"],
        trade_no=data["trade_no"],
        amount=int(data["amount"]),
        currency=data["currency"],
        channel_refund_id=data["channel_refund_id"],
        created_at=datetime.fromisoformat(data["created_at"]),
        notify_url=data.get("notify_url"),
        state=RefundState(data["state"]),
        plan=[RefundState(step) for step in data.get("plan", [])],
        settled_at=datetime.fromisoformat(settled) if settled else None,
        requests=int(data.get("requests", 1)),
        duplicate_callback=bool(data.get("duplicate_callback", False)),
        late_callback=bool(data.get("late_callback", False)),
        extra=dict(data.get("extra", {})),
    )


class StateFile:
    """The books of several simulators in one JSON file at ``path``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._sections: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def attach(self, *simulators: Simulator) -> None:
        """Load each simulator's books from the file (if it exists), then keep the
        file up to date with every change. ValueError if the file is unreadable."""
        saved = self._read()
        for sim in simulators:
            name = sim.channel.name
            books = saved.get(name, {})
            try:
                trades = [_trade(t) for t in books.get("trades", [])]
                refunds = [_refund(r) for r in books.get("refunds", [])]
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"sandbox state file {self.path}: bad {name} entry") from exc
            sim.ledger.load(trades, refunds)
            self._sections[name] = _section(sim)
            sim.ledger.observe(lambda sim=sim: self.save(sim))  # type: ignore[misc]

    def _read(self) -> dict[str, Any]:
        try:
            text = self.path.read_text("utf-8")
        except FileNotFoundError:
            return {}
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"sandbox state file {self.path} is not JSON") from exc
        if not isinstance(data, dict) or data.get("version") != _VERSION:
            raise ValueError(f"sandbox state file {self.path} has an unknown layout")
        simulators: dict[str, Any] = data.get("simulators", {})
        return simulators

    def save(self, sim: Simulator) -> None:
        """Write the file with ``sim``'s books as they are now, atomically.

        Runs under ``sim``'s ledger lock; the other simulators' sections are the
        ones kept from their last change, so no second ledger lock is taken.
        """
        section = _section(sim)
        with self._lock:
            self._sections[sim.channel.name] = section
            document = {"version": _VERSION, "simulators": self._sections}
            temporary = self.path.with_name(self.path.name + ".tmp")
            temporary.write_text(json.dumps(document, indent=1), "utf-8")
            os.replace(temporary, self.path)


def _section(sim: Simulator) -> dict[str, Any]:
    trades, refunds = sim.ledger.contents()
    return {
        "trades": [_trade_json(t) for t in trades],
        "refunds": [_refund_json(r) for r in refunds],
    }
