"""The base every channel simulator is built on.

It holds what the three simulators share: a raw-ASGI app with a tiny router,
the JSON control API (``<prefix>/_control/trades|faults|refunds|settle|
callbacks|credentials``, see :mod:`.control`), the books (:class:`Ledger` of
:class:`Trade` and :class:`SimRefund`, amounts in ``int`` minor units, states
as :class:`RefundState`), the :class:`FaultBook`, settling, and the callback
sender. The wire format, signing, codes and credentials stay in the channel.

How a channel plugs in (``tests/sandbox/simulator/toy.py`` is a complete one):

1. Write a class that satisfies :class:`Channel`: ``name`` (the mount point,
   ``"wechat"``), ``credentials()`` (the JSON ``GET _control/credentials``
   returns), ``trade_no(out_trade_no, sequence)`` (the channel's own trade id)
   and ``notice(refund)`` (the callback announcing ``refund.state``, a
   :class:`Notice`, or None when the refund named no callback URL).
2. In its constructor build ``self.sim = Simulator(self, config=…, clock=…,
   callback_client=…)`` and register endpoints with
   ``self.sim.router.add("POST", "/secapi/pay/refund", handler)``. A handler
   takes a :class:`Request` (``path`` is relative to ``/wechat``) and returns a
   :class:`Response`. ``self.sim`` is the ASGI app, serving ``/<name>/…``;
   :class:`Mounted` serves several simulators side by side.
3. In a refund handler: check the request the channel's way (signature,
   fields, ``sim.ledger.trade(…)``); then ``fault = sim.take_fault(out_trade_no,
   Operation.REFUND)`` (only once the checks pass, so refused requests do not
   use faults up). ``Fault.HTTP_500`` → return ``sim.server_error()``;
   ``Fault.REJECT`` → the channel's definitive refusal (``fault.code`` if the
   test named one). Otherwise, inside ``with sim.ledger.atomic():`` (no
   ``await`` inside) check the amount against ``sim.ledger.remaining(…)``,
   handle a replayed refund number (``sim.ledger.refund(no)`` then
   ``sim.ledger.seen_again(refund)``) and ``sim.commit(SimRefund(…), fault)``.
   Build the signed answer and return ``sim.shape(answer, fault,
   bad_signature=spoil)``: it holds the answer for ``timeout``, swaps in
   :data:`GARBAGE`, or calls ``spoil`` for ``bad_signature``.
   ``take_fault(…, Operation.QUERY)`` + ``shape`` give queries the same faults.
4. ``commit`` sets the refund's plan from the fault (``succeed_then_fail`` →
   SUCCEEDED then FAILED; ``settle_failed``; ``settle_abnormal``) and the
   callback flags (``duplicate_callback``, ``late_callback``). Each settle step
   moves ``refund.state`` one entry along and sends ``channel.notice(refund)``
   (twice, or after ``late_callback_delay``). A synchronous channel (Alipay)
   can ``await sim.settle_one(refund)`` itself before answering.
5. Time: ``SimulatorConfig(settle_delay=None)`` settles only on
   ``await sim.settle()`` or ``POST …/_control/settle`` (use the latter when the
   simulator runs under uvicorn in another thread); ``hold_seconds`` is how
   long a ``timeout`` answer is held; ``sim.clock`` (a :class:`SimClock`,
   :class:`ManualClock` in tests) is the time written into answers;
   ``await sim.drain()`` waits for background settles and late callbacks;
   ``await sim.aclose()`` (also run at ASGI lifespan shutdown) stops them.
6. Callbacks: ``SimulatorConfig(callback_policy=CallbackPolicy(is_acknowledged,
   retry_delays))`` says what the channel accepts as an ack and how it
   retries; every attempt is in ``sim.callbacks.deliveries``.
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
