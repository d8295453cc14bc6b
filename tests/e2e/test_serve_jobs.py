"""``refundgate serve`` runs the background jobs in-process (one runner per SQLite file)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from refundgate.sandbox import SandboxLedger
from tests.backends import Backend
from tests.e2e.support import Servers, clean_env
from tests.e2e.test_refund_cli import seed

pytestmark = pytest.mark.slow


async def wait_for_status(backend: Backend, rid: str, wanted: str, within_s: float = 60) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        rows = await backend.fetch("SELECT status FROM refunds WHERE refund_order_id = ?", rid)
        if rows == [(wanted,)]:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{rid} is {rows}, not {wanted}")


@pytest.mark.parametrize("server", ["uvicorn", "granian"])
@pytest.mark.parametrize("workers", ["1", "2"])
async def test_serve_settles_a_refund_left_pending_without_anyone_acting(
    tmp_path: Path, servers: Servers, backend: Backend, workers: str, server: str
) -> None:
    await seed(backend, age_ms=120_000)  # R3: reserved two minutes ago, never sent
    ledger = tmp_path / "ledger.jsonl"
    env = clean_env(
        REFUNDGATE_DATABASE_URL=backend.url,
        REFUNDGATE_SANDBOX_LEDGER=str(ledger),
        REFUNDGATE_JOBS="on",
    )
    serving = servers.start("--workers", workers, "--server", server, cwd=tmp_path, env=env)

    await wait_for_status(backend, "R3", "SUCCEEDED")

    servers.stop(serving)
    sent = [
        call.refund_order_id for call in SandboxLedger.read(ledger) if call.operation == "refund"
    ]
    assert sent == ["R3"]  # one worker process sent it, once
    assert serving.stderr().count("event='refund_resent'") == 1
    assert "Traceback" not in serving.stderr()
