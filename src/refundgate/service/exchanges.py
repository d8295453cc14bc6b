"""Channel calls kept on record (G6).

A connector reports each call it makes through a hook (the registry wires it
to :func:`note`). The use case that calls a channel for a refund brackets the
call with :func:`start` and :func:`stop`; the calls noted in between, in that
task only, are then stored with the refund by :func:`keep`. The bracket is a
context variable set and reset, so a connector that reports nothing (the
in-process sandbox) adds next to nothing to the refund path.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar, Token

import structlog

from refundgate.ports import ChannelExchange, Clock, RefundStore

__all__ = ["keep", "note", "start", "stop"]

_log = structlog.get_logger("refundgate.service")

_Recording = tuple[Clock, list[ChannelExchange]]
_current: ContextVar[_Recording | None] = ContextVar("refundgate_channel_calls", default=None)


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
        clock, calls = recording
        calls.append(
            ChannelExchange(family, operation, clock.now_ms(), request, status_code, answer, error)
        )


def start(clock: Clock) -> tuple[list[ChannelExchange], Token[_Recording | None]]:
    """Begin recording this task's channel calls: the list they go to, and the token
    to give :func:`stop`."""
    calls: list[ChannelExchange] = []
    return calls, _current.set((clock, calls))


def stop(token: Token[_Recording | None]) -> None:
    """End the recording :func:`start` began."""
    _current.reset(token)


async def keep(store: RefundStore, refund_order_id: str, calls: Sequence[ChannelExchange]) -> None:
    """Store the calls with the refund. A failure is logged, not raised: the refund's
    outcome, written next, matters more than its record (whose gist its event keeps)."""
    if not calls:
        return
    try:
        await store.record_exchanges(refund_order_id, calls)
    except Exception:
        _log.exception("channel_calls_not_kept", refund_order_id=refund_order_id, calls=len(calls))
