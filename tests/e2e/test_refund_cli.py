"""``refundgate refund list|show|resolve`` and ``refundgate worker --once``, as processes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from refundgate.domain import PayOrder, RefundDraft, RefundRequest, RefundStatus
from refundgate.domain.model import SandboxOutcome
from refundgate.ports import Transition
from refundgate.sandbox import SandboxLedger
from tests.backends import Backend
from tests.conftest import LOGIN, MCH_ID, seed_merchants
from tests.e2e.support import clean_env, one_line_error, run_cli

pytestmark = pytest.mark.slow


async def seed(backend: Backend, *, age_ms: int = 0) -> int:
    """Orders, R1 in review, R2 succeeded, R3 pending (made ``age_ms`` ago)."""
    now = int(time.time() * 1000)
    store = backend.open()
    try:
        await store.migrate()
        await seed_merchants(store, now=now)
        for order, outcome in (("P1", None), ("P2", SandboxOutcome.SUCCEED)):
            await store.add_order(
                PayOrder(MCH_ID, order, "ALIPAY_QR", "CAD", 10_000, now - 60_000,
                         sandbox_outcome=outcome)
            )  # fmt: skip
        for rid, order, at in (("R1", "P1", now), ("R2", "P1", now), ("R3", "P2", now - age_ms)):
            request = RefundRequest(MCH_ID, "N" + rid, order, 1_000, LOGIN, "127.0.0.1")
            await store.reserve(RefundDraft(request, rid, at))
        await store.transition("R1", Transition(RefundStatus.REVIEW, now, "settle time exhausted"))
        await store.transition("R2", Transition(RefundStatus.SUCCEEDED, now, "channel answered"))
    finally:
        await store.close()
    return now


def cli(backend: Backend, tmp_path: Path, *args: str, **env: str) -> tuple[int, str, str]:
    result = run_cli(*args, cwd=tmp_path, env=clean_env(REFUNDGATE_DATABASE_URL=backend.url, **env))
    return result.returncode, result.stdout, result.stderr


async def test_list_show_and_resolve_a_refund_in_review(tmp_path: Path, backend: Backend) -> None:
    await seed(backend)

    code, out, err = cli(backend, tmp_path, "refund", "list", "--status", "review")
    assert code == 0, err
    assert [line.split()[0] for line in out.splitlines()] == ["R1"]
    code, out, err = cli(backend, tmp_path, "refund", "list", "--mch-id", MCH_ID)
    assert sorted(line.split()[0] for line in out.splitlines()) == ["R1", "R2", "R3"]

    code, out, err = cli(backend, tmp_path, "refund", "show", "R1")
    assert code == 0, err
    assert "status          REVIEW" in out
    assert "PENDING -> REVIEW" in out
    assert "settle time exhausted" in out

    code, out, err = cli(
        backend, tmp_path, "refund", "resolve", "R1", "--succeeded",
        "--reason", "bank statement shows the refund", "--login-name", "auditor1",
    )  # fmt: skip
    assert code == 0, err
    assert out == "refund R1 is SUCCEEDED\n"
    assert await backend.balances("P1") == (2_000, 0, 2)  # R1 and R2 refunded
    events = await backend.fetch(
        "SELECT from_status, to_status, login_name, reason FROM refund_events"
        " WHERE refund_order_id = 'R1' ORDER BY event_id"
    )
    reason = "resolved by an operator: bank statement shows the refund"
    assert events[-1] == ("REVIEW", "SUCCEEDED", "auditor1", reason)
    code, out, err = cli(backend, tmp_path, "refund", "show", "R1")
    assert "by auditor1" in out


async def test_a_final_refund_cannot_be_resolved_again_and_nothing_changes(
    tmp_path: Path, backend: Backend
) -> None:
    await seed(backend)
    before = await backend.snapshot()
    for args in (
        ("R2", "--failed"),  # already SUCCEEDED
        ("NOPE", "--failed"),  # unknown
    ):
        result = run_cli(
            "refund", "resolve", *args, "--reason", "x", "--login-name", "ops",
            cwd=tmp_path, env=clean_env(REFUNDGATE_DATABASE_URL=backend.url),
        )  # fmt: skip
        line = one_line_error(result)
        assert args[0] in line
    assert "already SUCCEEDED" in line or "NOPE" in line
    missing = run_cli(
        "refund", "resolve", "R1", "--reason", "x", "--login-name", "ops",
        cwd=tmp_path, env=clean_env(REFUNDGATE_DATABASE_URL=backend.url),
    )  # fmt: skip
    assert missing.returncode == 2
    assert await backend.snapshot() == before


async def test_worker_once_sends_a_refund_left_pending_and_settles_it(
    tmp_path: Path, backend: Backend
) -> None:
    await seed(backend, age_ms=120_000)  # R3: reserved two minutes ago, never sent
    ledger = tmp_path / "ledger.jsonl"
    code, _, err = cli(backend, tmp_path, "worker", "--once", REFUNDGATE_SANDBOX_LEDGER=str(ledger))
    assert code == 0, err
    rows = await backend.fetch("SELECT status FROM refunds WHERE refund_order_id = 'R3'")
    assert rows == [("SUCCEEDED",)]
    calls = [call for call in SandboxLedger.read(ledger) if call.operation == "refund"]
    assert [call.refund_order_id for call in calls] == ["R3"]
    assert await backend.balances("P2") == (1_000, 0, 1)
    assert await backend.fetch("SELECT status FROM refunds WHERE refund_order_id = 'R1'") == [
        ("REVIEW",)
    ]
