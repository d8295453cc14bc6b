"""The job loop: every job each round, failures logged and survived, stop honoured."""

from __future__ import annotations

import asyncio

from structlog.testing import capture_logs

from refundgate.service.jobs import Job, run_jobs, run_round
from tests.conftest import NOW_MS, FakeClock


async def test_a_round_runs_every_job_with_the_clock_time() -> None:
    seen: list[tuple[str, int]] = []

    def job(name: str, handled: int) -> Job:
        async def run(now: int) -> int:
            seen.append((name, now))
            return handled

        return name, run

    assert await run_round([job("a", 2), job("b", 3)], FakeClock()) == 5
    assert seen == [("a", NOW_MS), ("b", NOW_MS)]


async def test_a_failing_job_is_logged_and_the_others_still_run() -> None:
    ran: list[str] = []

    async def broken(now: int) -> int:
        raise RuntimeError("boom")

    async def fine(now: int) -> int:
        ran.append("fine")
        return 1

    with capture_logs() as logs:
        assert await run_round([("broken", broken), ("fine", fine)], FakeClock()) == 1
    assert ran == ["fine"]
    assert [(line["event"], line["job"]) for line in logs] == [("job_failed", "broken")]


async def test_the_loop_goes_on_after_failures_and_stops_when_told() -> None:
    stop = asyncio.Event()
    rounds = 0

    async def flaky(now: int) -> int:
        nonlocal rounds
        rounds += 1
        if rounds == 3:
            stop.set()
        raise RuntimeError("every time")

    with capture_logs():
        await asyncio.wait_for(
            run_jobs([("flaky", flaky)], clock=FakeClock(), stop=stop, interval_s=0.001), 5
        )
    assert rounds == 3


async def test_a_busy_job_runs_again_at_once_and_a_closed_gate_runs_nothing() -> None:
    stop = asyncio.Event()
    backlog = [5, 5, 0]
    calls = 0

    async def drain(now: int) -> int:
        nonlocal calls
        calls += 1
        if not backlog:
            stop.set()
            return 0
        return backlog.pop(0)

    await asyncio.wait_for(
        run_jobs([("drain", drain)], clock=FakeClock(), stop=stop, interval_s=0.001), 5
    )
    assert calls == 4

    stop = asyncio.Event()
    asked = 0

    def closed() -> bool:
        nonlocal asked
        asked += 1
        if asked == 3:
            stop.set()
        return False

    await asyncio.wait_for(
        run_jobs([("drain", drain)], clock=FakeClock(), stop=stop, interval_s=0.001, gate=closed),
        5,
    )
    assert calls == 4
