"""Background jobs in a process: the SQLite jobs lock, the ASGI wrapper, REFUNDGATE_JOBS."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from refundgate.worker import (
    JobsLock,
    WithJobs,
    crash_checkpoint,
    jobs_enabled,
    jobs_gate,
)
from tests.conftest import FakeClock


def test_one_holder_of_the_jobs_lock_at_a_time_and_a_successor_after_release(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db.jobs.lock"
    first, second = JobsLock(path), JobsLock(path)
    assert first()
    assert first()  # held: stays held
    assert not second()
    first.release()
    assert second()
    assert not first()
    second.release()


def test_sqlite_needs_the_lock_and_postgresql_does_not(tmp_path: Path) -> None:
    assert isinstance(jobs_gate(f"sqlite:///{tmp_path}/x.db"), JobsLock)
    assert jobs_gate("postgresql://postgres@127.0.0.1/x") is None


def test_refundgate_jobs_off_turns_them_off() -> None:
    assert jobs_enabled({})
    assert jobs_enabled({"REFUNDGATE_JOBS": "on"})
    assert not jobs_enabled({"REFUNDGATE_JOBS": "off"})
    assert not jobs_enabled({"REFUNDGATE_JOBS": " OFF "})


def test_no_crash_checkpoint_unless_asked() -> None:
    assert crash_checkpoint({}) is None
    checkpoint = crash_checkpoint({"REFUNDGATE_TEST_CRASH_AT": "apply"})
    assert checkpoint is not None
    checkpoint("reserved")  # another step: nothing happens


class LifespanApp:
    """An app that records the lifespan messages (or RSGI hooks) it saw."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.deps = "the app's deps"

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        self.seen.append("rsgi")

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.seen.append("rsgi_del")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            self.seen.append(message["type"])
            if message["type"] == "lifespan.shutdown":
                return


async def test_the_jobs_run_from_startup_to_shutdown_beside_the_app(tmp_path: Path) -> None:
    runs: list[int] = []
    started = asyncio.Event()

    async def job(now: int) -> int:
        runs.append(now)
        started.set()
        return 0

    inner = LifespanApp()
    app = WithJobs(inner, [("job", job)], clock=FakeClock(), gate=None, interval_s=0.001)
    queue: asyncio.Queue[dict[str, str]] = asyncio.Queue()

    async def send(message: Any) -> None:
        pass

    serving = asyncio.create_task(app({"type": "lifespan"}, queue.get, send))
    await queue.put({"type": "lifespan.startup"})
    await asyncio.wait_for(started.wait(), 5)
    await queue.put({"type": "lifespan.shutdown"})
    await asyncio.wait_for(serving, 5)
    count = len(runs)
    await asyncio.sleep(0.01)
    assert len(runs) == count  # stopped before the app closed its store
    assert inner.seen == ["lifespan.startup", "lifespan.shutdown"]
    assert app.deps == "the app's deps"


def test_under_rsgi_the_jobs_run_from_the_init_hook_to_the_del_hook() -> None:
    runs: list[int] = []
    inner = LifespanApp()

    async def job(now: int) -> int:
        runs.append(now)
        return 0

    app = WithJobs(inner, [("job", job)], clock=FakeClock(), gate=None, interval_s=0.001)
    loop = asyncio.new_event_loop()
    try:
        app.__rsgi_init__(loop)  # as granian calls it: before its loop runs
        loop.run_until_complete(app.__rsgi__(object(), object()))
        loop.run_until_complete(asyncio.sleep(0.05))
        assert runs  # the jobs ran while the worker served
        app.__rsgi_del__(loop)  # as granian calls it: once serving has stopped
        count = len(runs)
        loop.run_until_complete(asyncio.sleep(0.01))
        assert len(runs) == count  # stopped before the app closed its store
    finally:
        loop.close()
    assert inner.seen == ["rsgi", "rsgi_del"]
