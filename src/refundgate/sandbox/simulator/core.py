"""The simulator every channel plugs into: books, faults, settling, callbacks, ASGI.

A channel supplies a :class:`Channel` (its name, credentials, trade numbers,
callback bodies) and registers its own endpoints on :attr:`Simulator.router`;
the simulator adds the JSON control API under ``/_control/`` and serves the
lot under ``/<name>``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import structlog

from refundgate.sandbox.simulator.asgi import (
    BodyTooLarge,
    Receive,
    Response,
    Router,
    Scope,
    Send,
    json_response,
    read_request,
    send_response,
)
from refundgate.sandbox.simulator.callbacks import CallbackPolicy, CallbackSender, Notice
from refundgate.sandbox.simulator.clock import SimClock, SystemClock
from refundgate.sandbox.simulator.control import add_control_routes
from refundgate.sandbox.simulator.faults import Fault, FaultBook, FaultEntry, Operation
from refundgate.sandbox.simulator.state import Ledger, RefundState, SimRefund

__all__ = ["GARBAGE", "Channel", "Simulator", "SimulatorConfig"]

_log = structlog.get_logger("refundgate.sandbox")

#: What a ``garbage`` fault answers: cut short and not even valid UTF-8.
GARBAGE = b"\xff\xfe<html><body>upstream proxy err"

_PLANS: Mapping[Fault, tuple[RefundState, ...]] = {
    Fault.SUCCEED_THEN_FAIL: (RefundState.SUCCEEDED, RefundState.FAILED),
    Fault.SETTLE_FAILED: (RefundState.FAILED,),
    Fault.SETTLE_ABNORMAL: (RefundState.ABNORMAL,),
}


class Channel(Protocol):
    """What a channel simulator tells the shared base."""

    @property
    def name(self) -> str:
        """The mount point without its slash: ``wechat``."""
        ...

    def credentials(self) -> Mapping[str, str]:
        """What a client needs to talk to this simulator (``GET /_control/credentials``)."""
        ...

    def trade_no(self, out_trade_no: str, sequence: int) -> str:
        """The channel's own id for the ``sequence``-th trade created."""
        ...

    def notice(self, refund: SimRefund) -> Notice | None:
        """The callback announcing the refund's current state, or None for no callback."""
        ...


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Timings and switches. Tests shorten the delays; ``settle_delay=None`` settles
    only when told (:meth:`Simulator.settle` or ``POST /_control/settle``)."""

    hold_seconds: float = 30.0
    settle_delay: float | None = 0.05
    late_callback_delay: float = 1.0
    callback_policy: CallbackPolicy = field(default_factory=CallbackPolicy)
    #: The server runs TLS with ``CERT_REQUIRED`` (see :func:`.asgi.read_request`).
    tls_requires_client_cert: bool = False


class Simulator:
    """One channel's simulator, and its ASGI app (call it like one)."""

    def __init__(
        self,
        channel: Channel,
        *,
        config: SimulatorConfig | None = None,
        clock: SimClock | None = None,
        callback_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.channel = channel
        self.config = config or SimulatorConfig()
        self.clock: SimClock = clock or SystemClock()
        self.ledger = Ledger()
        self.faults = FaultBook()
        self.callbacks = CallbackSender(self.config.callback_policy, client=callback_client)
        self.router = Router()
        self.prefix = "/" + channel.name
        self._tasks: set[asyncio.Task[None]] = set()
        add_control_routes(self)

    # -- faults and answers ------------------------------------------------

    def take_fault(self, out_trade_no: str | None, operation: Operation) -> FaultEntry | None:
        """Use up the fault for this request, if one is filed. Call it once the
        request has passed the channel's checks, just before committing."""
        entry = self.faults.take(out_trade_no, operation)
        if entry is not None:
            _log.info("fault", channel=self.channel.name, fault=entry.fault.value)
        return entry

    def shape(
        self,
        answer: Response,
        fault: FaultEntry | None,
        *,
        bad_signature: Callable[[Response], Response],
    ) -> Response:
        """The answer as the fault wants it sent, once the refund is committed.

        ``timeout`` holds it past the client's deadline; ``garbage`` replaces the
        body; ``bad_signature`` asks the channel to spoil its signature.
        """
        kind = fault.fault if fault else None
        if kind is Fault.TIMEOUT:
            return answer.held(self.config.hold_seconds)
        if kind is Fault.GARBAGE:
            return Response(200, GARBAGE, answer.content_type)
        if kind is Fault.BAD_SIGNATURE:
            return bad_signature(answer)
        return answer

    @staticmethod
    def server_error() -> Response:
        """The ``http_500`` answer: nothing was committed."""
        return Response(500, b"<html><body>500 Internal Server Error</body></html>", "text/html")

    # -- refunds ---------------------------------------------------------------

    def commit(self, refund: SimRefund, fault: FaultEntry | None) -> SimRefund:
        """Record a new refund, shaped by the fault taken for it, and start settling it."""
        kind = fault.fault if fault else None
        if kind is not None and kind in _PLANS:
            refund.plan = list(_PLANS[kind])
        refund.duplicate_callback = kind is Fault.DUPLICATE_CALLBACK
        refund.late_callback = kind is Fault.LATE_CALLBACK
        self.ledger.record(refund)
        delay = self.settle_delay_of(refund)
        if delay is not None:
            self.spawn(self._settle_later(refund, delay))
        return refund

    def settle_delay_of(self, refund: SimRefund) -> float | None:
        """How long after it is recorded the refund settles: its trade's own delay,
        else the configured one (None: only when told)."""
        trade = self.ledger.trade(refund.out_trade_no)
        if trade is not None and trade.settle_delay is not None:
            return trade.settle_delay
        return self.config.settle_delay

    def resume(self) -> None:
        """Restart the settle timers of refunds read back from a state file.

        Call it on the running event loop (the ASGI lifespan startup does); each
        timer starts afresh, so a refund settles at the earliest one delay after
        the restart.
        """
        for refund in self.ledger.unsettled():
            delay = self.settle_delay_of(refund)
            if delay is not None:
                self.spawn(self._settle_later(refund, delay))

    async def _settle_later(self, refund: SimRefund, delay: float) -> None:
        while refund.plan:
            await asyncio.sleep(delay)
            await self.settle_one(refund)

    async def settle(self, refund_no: str | None = None) -> list[SimRefund]:
        """Move every unsettled refund (or just ``refund_no``) one step, with callbacks."""
        chosen = [r for r in self.ledger.unsettled() if refund_no in (None, r.refund_no)]
        for refund in chosen:
            await self.settle_one(refund)
        return chosen

    async def settle_one(self, refund: SimRefund) -> None:
        if not self.ledger.advance(refund, self.clock.now()):
            return
        _log.info("settled", channel=self.channel.name, refund_no=refund.refund_no,
                  state=refund.state.value)  # fmt: skip
        notice = self.channel.notice(refund)
        if notice is None:
            return
        if refund.late_callback:
            self.spawn(self._deliver_late(notice))
            return
        await self.callbacks.deliver(notice)
        if refund.duplicate_callback:
            await self.callbacks.attempt(notice)

    async def _deliver_late(self, notice: Notice) -> None:
        await asyncio.sleep(self.config.late_callback_delay)
        await self.callbacks.deliver(notice)

    # -- background work ---------------------------------------------------------

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` in the background; :meth:`drain` waits for it."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for every background settle and callback (including late ones)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    async def aclose(self) -> None:
        """Cancel background work and close the callback client."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.callbacks.aclose()

    # -- ASGI ------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, self.aclose)
        elif scope["type"] == "http":
            await self.handle_http(scope, receive, send)

    async def handle_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if path != self.prefix and not path.startswith(self.prefix + "/"):
            await send_response(send, json_response(404, {"error": "not found"}))
            return
        try:
            request = await read_request(
                scope, receive, self.prefix,
                tls_requires_client_cert=self.config.tls_requires_client_cert,
            )  # fmt: skip
        except BodyTooLarge:
            await send_response(send, json_response(413, {"error": "body too large"}))
            return
        try:
            response = await self.router.dispatch(request)
        except Exception:
            _log.exception("simulator_error", channel=self.channel.name, path=path)
            response = self.server_error()
        await send_response(send, response)


async def _lifespan(receive: Receive, send: Send, close: Callable[[], Awaitable[None]]) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await close()
            await send({"type": "lifespan.shutdown.complete"})
            return
