"""The base every channel simulator is built on.

Usage note follows once the API settles.
"""

from refundgate.sandbox.simulator.asgi import Handler, Request, Response, Router, json_response
from refundgate.sandbox.simulator.callbacks import CallbackPolicy, CallbackSender, Delivery, Notice
from refundgate.sandbox.simulator.clock import ManualClock, SimClock, SystemClock
from refundgate.sandbox.simulator.core import GARBAGE, Channel, Simulator, SimulatorConfig
from refundgate.sandbox.simulator.faults import Fault, FaultBook, FaultEntry, Operation
from refundgate.sandbox.simulator.mount import Mounted
from refundgate.sandbox.simulator.state import (
    DuplicateTrade,
    Ledger,
    RefundState,
    SimRefund,
    Trade,
)

__all__ = [
    "GARBAGE",
    "CallbackPolicy",
    "CallbackSender",
    "Channel",
    "Delivery",
    "DuplicateTrade",
    "Fault",
    "FaultBook",
    "FaultEntry",
    "Handler",
    "Ledger",
    "ManualClock",
    "Mounted",
    "Notice",
    "Operation",
    "RefundState",
    "Request",
    "Response",
    "Router",
    "SimClock",
    "SimRefund",
    "Simulator",
    "SimulatorConfig",
    "SystemClock",
    "Trade",
    "json_response",
]
