"""Background jobs wired to a process: which jobs, who may run them, and in serve.

* :func:`background_jobs`: the reconciler and the notifier over one ``Deps``.
  This is the single registration point of background jobs.
* :class:`JobsLock`: on SQLite only one process runs the jobs (its single
  writer would otherwise be shared by two reconcilers for nothing); it is the
  one holding ``fcntl.flock`` on ``<database>.jobs.lock``. A process that dies
  drops the lock and another takes over at its next round. On PostgreSQL every
  process runs them: leases (``FOR UPDATE SKIP LOCKED``) keep them apart.
* :class:`WithJobs`: an ASGI wrapper that runs the jobs beside the gateway
  for the lifetime of a server process (``refundgate serve`` without ``--no-jobs``).
* :func:`crash_checkpoint`: fault injection for the crash-recovery tests only.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from pathlib import Path
from typing import Any, Protocol

from refundgate.api import GatewayApp
from refundgate.ports import Clock
from refundgate.service.deps import Deps
from refundgate.service.jobs import Job, run_jobs
from refundgate.service.notifications import deliver_due
from refundgate.service.reconcile import reconcile_due
from refundgate.store.sqlite import sqlite_path

__all__ = [
    "JobsLock",
    "WithJobs",
    "background_jobs",
    "crash_checkpoint",
    "jobs_enabled",
    "jobs_gate",
    "with_background_jobs",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class App(Protocol):
    """An app both servers can run: ASGI (uvicorn) and RSGI (granian)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...

    async def __rsgi__(self, scope: Any, protocol: Any) -> None: ...

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None: ...


def background_jobs(deps: Deps) -> list[Job]:
    """The jobs every worker runs: reconcile refunds, deliver notifications."""

    async def reconcile(now: int) -> int:
        return await reconcile_due(deps, now)

    async def notify(now: int) -> int:
        return await deliver_due(deps, now)

    return [("reconcile", reconcile), ("notify", notify)]


def jobs_enabled(environ: Mapping[str, str]) -> bool:
    """False when ``REFUNDGATE_JOBS=off`` (dedicated workers run them instead)."""
    return environ.get("REFUNDGATE_JOBS", "on").strip().lower() not in ("off", "0", "false", "no")


class JobsLock:
    """An exclusive, non-blocking ``flock`` on a file, held once taken."""

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._descriptor: int | None = None

    def __call__(self) -> bool:
        """Whether this process holds the lock (trying to take it if not)."""
        if self._descriptor is not None:
            return True
        descriptor = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(descriptor)
            return False
        self._descriptor = descriptor
        return True

    def release(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)  # closing drops the flock
            self._descriptor = None


def jobs_gate(database_url: str) -> JobsLock | None:
    """The lock a process must hold to run jobs on this database (None: no lock needed)."""
    if database_url.startswith("sqlite:"):
        return JobsLock(sqlite_path(database_url) + ".jobs.lock")
    return None


class WithJobs:
    """``app``, plus the background jobs running from its startup to its shutdown."""

    def __init__(
        self,
        app: App,
        jobs: list[Job],
        *,
        clock: Clock,
        gate: JobsLock | None,
        interval_s: float = 1.0,
    ) -> None:
        self.app = app
        self._jobs = jobs
        self._clock = clock
        self._gate = gate
        self._interval_s = interval_s
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)  # ``deps`` and the like, as the app has them

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def relay() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._start()
            elif message["type"] == "lifespan.shutdown":
                await self._finish()  # before the app closes the store the jobs use
            return message

        await self.app(scope, relay, send)

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        await self.app.__rsgi__(scope, protocol)

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        """RSGI start hook: the jobs begin with the worker's loop."""
        self._start(loop)

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        """RSGI stop hook: the jobs end before the app closes the store they use."""
        loop.run_until_complete(self._finish())
        self.app.__rsgi_del__(loop)

    def _start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._task = (loop or asyncio.get_running_loop()).create_task(
            run_jobs(
                self._jobs,
                clock=self._clock,
                stop=self._stop,
                interval_s=self._interval_s,
                gate=self._gate,
            )
        )

    async def _finish(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._gate is not None:
            self._gate.release()


def crash_checkpoint(environ: Mapping[str, str]) -> Callable[[str], None] | None:
    """Test-only fault injection: with ``REFUNDGATE_TEST_CRASH_AT=<step>`` (reserved,
    channel or apply) the process SIGKILLs itself when the ``N``-th refund
    (``REFUNDGATE_TEST_CRASH_AFTER``, default 1) reaches that step. None otherwise."""
    step = environ.get("REFUNDGATE_TEST_CRASH_AT")
    if not step:
        return None
    after = int(environ.get("REFUNDGATE_TEST_CRASH_AFTER", "1"))
    reached = 0

    def checkpoint(name: str) -> None:
        nonlocal reached
        if name != step:
            return
        reached += 1
        if reached >= after:
            os.kill(os.getpid(), signal.SIGKILL)

    return checkpoint


def with_background_jobs(
    app: GatewayApp, database_url: str, environ: Mapping[str, str]
) -> GatewayApp | WithJobs:
    """``app`` running the background jobs beside it, unless ``REFUNDGATE_JOBS=off``."""
    if not jobs_enabled(environ):
        return app
    deps = app.deps
    return WithJobs(app, background_jobs(deps), clock=deps.clock, gate=jobs_gate(database_url))
