"""``refundgate serve --server granian``: the same gateway over RSGI, real HTTP on loopback."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from refundgate.client import RefundClient, RefundRefused
from refundgate.protocol import BODY_LIMIT, verify
from tests.e2e.support import Servers, clean_env, rows
from tests.e2e.test_serve import GRACEFUL, printed

pytestmark = pytest.mark.slow


def _gone(pid: int) -> bool:
    """Ended: no such process, or a zombie nobody has reaped yet."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def _worker_pids(supervisor: int) -> list[int]:
    """The supervisor's child processes that serve (multiprocessing's tracker aside)."""
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    return [
        int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def test_the_demo_refunds_replays_and_refuses_over_granian(
    tmp_path: Path, servers: Servers
) -> None:
    server = servers.start("--server", "granian", cwd=tmp_path)
    shown = printed(server.stdout())
    assert "with 1 worker(s) (granian)" in server.stderr()
    client = RefundClient(
        base_url=server.base_url,
        mch_id=shown["mchId"],
        key=shown["key"],
        login_name=shown["loginName"],
    )
    with client:
        first = client.refund(pay_order_id="DEMO-ALI-0001", mch_refund_no="G-1", amount_cents=150)
        again = client.refund(pay_order_id="DEMO-ALI-0001", mch_refund_no="G-1", amount_cents=150)
        with pytest.raises(RefundRefused, match="REFUND_AMOUNT_EXCEEDED"):
            client.refund(pay_order_id="DEMO-ALI-0001", mch_refund_no="G-2", amount_cents=10_000)

    assert first.refund_order_id == again.refund_order_id
    db = tmp_path / "refundgate.db"
    assert rows(db, "SELECT count(*), sum(amount) FROM refunds") == [(1, 150)]
    assert rows(db, "SELECT refunded_amount FROM pay_orders WHERE pay_order_id = ?",
                "DEMO-ALI-0001") == [(150,)]  # fmt: skip

    with httpx.Client(base_url=server.base_url, timeout=5) as http:
        health = http.get("/healthz")
        missing = http.post("/nowhere")
        wrong_method = http.get("/v1/refund_order")
        declared = http.post("/v1/refund_order", content=b"x" * (BODY_LIMIT + 1))
        chunked = http.post(
            "/v1/refund_order", content=iter([b"params=", b"x" * BODY_LIMIT])
        )  # no length given: read as it comes, up to the limit
        garbage = http.post(
            "/v1/refund_order",
            content=b"params=%7B%22mchId",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    assert missing.status_code == 404
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "POST"
    assert declared.status_code == 413
    assert chunked.status_code == 413
    assert garbage.status_code == 200
    assert garbage.json()["retCode"] == "FAIL"
    assert garbage.json()["errCode"] == "PARAM_ERROR"
    assert rows(db, "SELECT count(*) FROM refunds") == [(1,)]  # bad input changed nothing

    assert servers.stop(server) in GRACEFUL
    assert "Traceback" not in server.stderr()
    assert shown["key"] not in server.stderr()


def test_answers_are_signed_as_over_uvicorn(tmp_path: Path, servers: Servers) -> None:
    server = servers.start("--server", "granian", cwd=tmp_path)
    shown = printed(server.stdout())
    with httpx.Client(timeout=5) as http:
        answer = http.post(server.base_url + "/v1/refund_order", data=_curl_form(shown)).json()
    assert answer["resCode"] == "SUCCESS", answer
    assert verify(answer, answer["sign"], [shown["key"]])


def _curl_form(shown: dict[str, object]) -> dict[str, str]:
    """The printed curl command's form field, sent by httpx instead."""
    curl = str(shown["curl"][0])  # type: ignore[index]
    params = curl.split("--data-urlencode 'params=", 1)[1].rsplit("'", 1)[0]
    return {"params": params}


def test_killing_the_supervisor_outright_stops_its_workers(
    tmp_path: Path, servers: Servers
) -> None:
    env = clean_env(REFUNDGATE_JOBS="off")
    server = servers.start("--server", "granian", "--workers", "2", cwd=tmp_path, env=env)
    workers = _worker_pids(server.process.pid)
    assert len(workers) == 2

    os.kill(server.process.pid, signal.SIGKILL)

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(_gone(pid) for pid in workers):
        time.sleep(0.05)
    assert all(_gone(pid) for pid in workers), "workers outlived their supervisor"
    with pytest.raises(httpx.TransportError):
        httpx.get(server.base_url + "/healthz", timeout=1)
