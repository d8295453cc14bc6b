"""The background job loop: reconciler and notifier, every few hundred milliseconds.

A job is ``async job(now) -> int`` (how much it handled). Each round runs every
job once; a job that handled something runs again at once (a backlog drains
without waiting), otherwise the loop waits ``interval_s`` or until stopped. A
job's exception is logged and the loop goes on: one bad round must not stop
refunds from being reconciled. ``gate`` (when given) is asked before each round:
on SQLite only the process that holds the jobs lock runs them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence

import structlog

from refundgate.ports import Clock

__all__ = ["Job", "run_jobs", "run_round"]

_log = structlog.get_logger("refundgate.jobs")

#: A named job: ``(name, async job(now) -> how many handled)``.
Job = tuple[str, Callable[[int], Awaitable[int]]]


async def run_round(jobs: Sequence[Job], clock: Clock) -> int:
    """Run every job once; the total handled. Exceptions are logged, not raised."""
    total = 0
    for name, job in jobs:
        try:
            total += await job(clock.now_ms())
        except Exception:
            _log.exception("job_failed", job=name)
    return total


async def run_jobs(
    jobs: Sequence[Job],
    *,
    clock: Clock,
    stop: asyncio.Event,
    interval_s: float = 1.0,
    gate: Callable[[], bool] | None = None,
) -> None:
    """Run ``jobs`` in rounds until ``stop`` is set."""
    while not stop.is_set():
        busy = False
        if gate is None or gate():
            busy = await run_round(jobs, clock) > 0
        if busy:
            await asyncio.sleep(0)  # let the server breathe between full batches
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
