"""Channel calls kept on record (G6).

A connector reports each call it makes through a hook (the registry wires it
to :func:`note`); the use case that makes the call opens a :class:`Recording`
around it, and the calls noted meanwhile, in that task only, are then kept
with the refund by :meth:`Recording.keep`. A connector that reports nothing
(the in-process sandbox) costs the refund path one context variable set and
reset.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from types import TracebackType

import structlog

from refundgate.ports import ChannelExchange, Clock, RefundStore

__all__ = ["Recording", "note"]

_log = structlog.get_logger("refundgate.service")

_current: ContextVar[Recording | None] = ContextVar("refundgate_channel_calls", default=None)


def note(
    family: str,
    operation: str,
    request: str,
    *,
    status_code: int | None = None,
    answer: str | None = None,
    error: str | None = None,
) -> None:
    """Add one call to the recording under way in this task, if any (else drop it:
    a connector used outside a refund's call, as by a test, has nothing to keep)."""
    recording = _current.get()
    if recording is not None:
        at = recording.clock.now_ms()
        recording.calls.append(
            ChannelExchange(family, operation, at, request, status_code, answer, error)
        )


class Recording:
    """The channel calls of one refund's call to its channel, noted as they are made."""

    __slots__ = ("_token", "calls", "clock")

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.calls: list[ChannelExchange] = []
        self._token: Token[Recording | None] | None = None

    def __enter__(self) -> Recording:
        self._token = _current.set(self)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._token is not None:
            _current.reset(self._token)

    async def keep(self, store: RefundStore, refund_order_id: str) -> None:
        """Store the calls noted. A failure is logged, not raised: the refund's outcome,
        written next, matters more than its record (whose gist its event keeps too)."""
        if not self.calls:
            return
        try:
            await store.record_exchanges(refund_order_id, self.calls)
        except Exception:
            _log.exception(
                "channel_calls_not_kept", refund_order_id=refund_order_id, calls=len(self.calls)
            )
