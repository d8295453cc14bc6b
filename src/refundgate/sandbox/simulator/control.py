"""The JSON control API every simulator serves under ``<prefix>/_control/``.

=======  ======================  ==================================================
POST     ``/_control/trades``    create a paid trade → 201 (409 duplicate, 400 bad);
                                 optional ``settle_delay``: its refunds settle that late
POST     ``/_control/faults``    file a fault → 201 (404 unknown trade, 400 bad)
GET      ``/_control/faults``    faults still filed
GET      ``/_control/refunds``   every refund recorded
POST     ``/_control/settle``    settle one step now (all, or ``{"refund_no": …}``)
GET      ``/_control/callbacks`` every callback delivery and its answer
GET      ``/_control/credentials``  what a client needs
=======  ======================  ==================================================

Bad input gets a 400 with ``{"error": …}`` and changes nothing.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from refundgate.sandbox.simulator.asgi import Handler, Request, Response, json_response
from refundgate.sandbox.simulator.faults import Fault, FaultEntry, Operation
from refundgate.sandbox.simulator.state import DuplicateTrade, Trade

if TYPE_CHECKING:
    from refundgate.sandbox.simulator.core import Simulator

__all__ = ["add_control_routes"]

_TRADE_NO = re.compile(r"[0-9A-Za-z_\-|*@.]{1,64}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_MAX_AMOUNT = 10**12
_MAX_TIMES = 10_000
#: A trade's own settle delay, at most about a year (seconds).
_MAX_DELAY = 31_536_000


class _BadInput(Exception):
    pass


def _json_object(request: Request, *, allow_empty: bool = False) -> dict[str, Any]:
    if allow_empty and not request.body.strip():
        return {}
    try:
        payload = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _BadInput("body is not JSON") from exc
    if not isinstance(payload, dict):
        raise _BadInput("body must be a JSON object")
    return payload


def _int_field(payload: dict[str, Any], name: str, low: int, high: int, default: int | None) -> int:
    value = payload.get(name, default)
    if value is None:
        raise _BadInput(f"{name} is required")
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _BadInput(f"{name} must be an integer from {low} to {high}")
    return value


def _delay_field(payload: dict[str, Any], name: str) -> float | None:
    value = payload.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _BadInput(f"{name} must be seconds from 0 to {_MAX_DELAY}")
    if not 0 <= value <= _MAX_DELAY:  # also refuses NaN
        raise _BadInput(f"{name} must be seconds from 0 to {_MAX_DELAY}")
    return float(value)


def _str_field(payload: dict[str, Any], name: str, pattern: re.Pattern[str]) -> str | None:
    value = payload.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise _BadInput(f"{name} is malformed")
    return value


def _paid_at(payload: dict[str, Any], sim: Simulator) -> datetime:
    value = payload.get("paid_at")
    if value is None:
        return sim.clock.now()
    try:
        paid_at = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        paid_at = None
    if paid_at is None or paid_at.tzinfo is None:
        raise _BadInput("paid_at must be an ISO 8601 time with a zone")
    return paid_at


def _trade_json(trade: Trade) -> dict[str, object]:
    return {
        "out_trade_no": trade.out_trade_no,
        "trade_no": trade.trade_no,
        "amount": trade.amount,
        "currency": trade.currency,
        "paid_at": trade.paid_at.isoformat(),
        "settle_delay": trade.settle_delay,
    }


def _fault_json(entry: FaultEntry) -> dict[str, object]:
    return {
        "fault": entry.fault.value,
        "times": entry.times,
        "out_trade_no": entry.out_trade_no,
        "operation": entry.operation.value,
        "code": entry.code,
    }


_E = TypeVar("_E", Fault, Operation)


def _enum_field(payload: dict[str, Any], name: str, kind: type[_E], default: _E | None) -> _E:
    value = payload.get(name)
    if value is None and default is not None:
        return default
    try:
        return kind(value)
    except ValueError as exc:
        names = "|".join(member.value for member in kind)
        raise _BadInput(f"{name} must be one of {names}") from exc


class _Control:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    async def create_trade(self, request: Request) -> Response:
        payload = _json_object(request)
        out_trade_no = _str_field(payload, "out_trade_no", _TRADE_NO)
        if out_trade_no is None:
            raise _BadInput("out_trade_no is required")
        amount = _int_field(payload, "amount", 1, _MAX_AMOUNT, None)
        currency = _str_field(payload, "currency", _CURRENCY) or "CNY"
        paid_at = _paid_at(payload, self.sim)
        settle_delay = _delay_field(payload, "settle_delay")
        ledger = self.sim.ledger
        with ledger.atomic():
            trade_no = self.sim.channel.trade_no(out_trade_no, ledger.trade_count() + 1)
            trade = Trade(out_trade_no, trade_no, amount, currency, paid_at, settle_delay)
            try:
                ledger.add_trade(trade)
            except DuplicateTrade:
                return json_response(409, {"error": f"trade {out_trade_no} exists"})
        return json_response(201, _trade_json(trade))

    async def file_fault(self, request: Request) -> Response:
        payload = _json_object(request)
        fault = _enum_field(payload, "fault", Fault, None)
        operation = _enum_field(payload, "operation", Operation, Operation.REFUND)
        times = _int_field(payload, "times", 1, _MAX_TIMES, 1)
        out_trade_no = _str_field(payload, "out_trade_no", _TRADE_NO)
        code = _str_field(payload, "code", _TRADE_NO)
        if out_trade_no is not None and self.sim.ledger.trade(out_trade_no) is None:
            return json_response(404, {"error": f"no trade {out_trade_no}"})
        entry = FaultEntry(fault, times, out_trade_no, operation, code)
        self.sim.faults.file(entry)
        return json_response(201, _fault_json(entry))

    async def list_faults(self, request: Request) -> Response:
        return json_response(200, [_fault_json(e) for e in self.sim.faults.pending()])

    async def list_refunds(self, request: Request) -> Response:
        return json_response(200, [r.as_json() for r in self.sim.ledger.refunds()])

    async def settle(self, request: Request) -> Response:
        payload = _json_object(request, allow_empty=True)
        refund_no = _str_field(payload, "refund_no", _TRADE_NO)
        settled = await self.sim.settle(refund_no)
        return json_response(200, [r.as_json() for r in settled])

    async def list_callbacks(self, request: Request) -> Response:
        return json_response(200, [d.as_json() for d in self.sim.callbacks.deliveries])

    async def credentials(self, request: Request) -> Response:
        return json_response(200, dict(self.sim.channel.credentials()))


def _guarded(handler: Handler) -> Handler:
    async def answer(request: Request) -> Response:
        try:
            return await handler(request)
        except _BadInput as exc:
            return json_response(400, {"error": str(exc)})

    return answer


def add_control_routes(sim: Simulator) -> None:
    """Register the control API on ``sim.router``."""
    control = _Control(sim)
    routes = (
        ("POST", "/_control/trades", control.create_trade),
        ("POST", "/_control/faults", control.file_fault),
        ("GET", "/_control/faults", control.list_faults),
        ("GET", "/_control/refunds", control.list_refunds),
        ("POST", "/_control/settle", control.settle),
        ("GET", "/_control/callbacks", control.list_callbacks),
        ("GET", "/_control/credentials", control.credentials),
    )
    for method, path, handler in routes:
        sim.router.add(method, path, _guarded(handler))
