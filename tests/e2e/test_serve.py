"""``refundgate serve`` as a process: the zero-configuration demo, health, bad databases."""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from refundgate.protocol import verify
from tests.e2e.support import Servers, clean_env, free_port, one_line_error, rows, run_cli

pytestmark = pytest.mark.slow

#: How a server ends after SIGTERM: uvicorn shuts down, then re-raises the signal.
GRACEFUL = (0, -signal.SIGTERM)

DEMO_ORDERS = {
    "DEMO-WX-0001": ("WX_NATIVE", 10_000, "succeed"),
    "DEMO-ALI-0001": ("ALIPAY_QR", 10_000, "succeed"),
    "DEMO-UPI-0001": ("UPI_SEQ", 10_000, "succeed"),
    "DEMO-ALI-PROC": ("ALIPAY_QR", 5_000, "processing"),
    "DEMO-WX-FAIL": ("WX_NATIVE", 5_000, "fail"),
    "DEMO-UPI-TIMEOUT": ("UPI_QR", 5_000, "timeout"),
}


def printed(stdout: str) -> dict[str, Any]:
    """What the first start printed: mchId, key, loginName, orders and the curl command."""
    values: dict[str, Any] = {"orders": {}}
    curl = [line.strip() for line in stdout.splitlines() if line.strip().startswith("curl ")]
    values["curl"] = curl
    for line in stdout.splitlines():
        match = re.fullmatch(r"\s+(mchId|key|loginName)\s+(\S+)\s*", line)
        if match:
            values[match[1]] = match[2]
        match = re.fullmatch(r"\s+order\s+(\S+)\s+(\S+)\s+(\d+)\s+CAD\s+sandbox: (\w+)\s*", line)
        if match:
            values["orders"][match[1]] = (match[2], int(match[3]), match[4])
    return values


def run_printed_curl(command: str) -> dict[str, Any]:
    """Run the printed command exactly as printed, through bash; its JSON answer."""
    result = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=15, check=False
    )
    assert result.returncode == 0, result.stderr
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_first_start_seeds_the_demo_and_its_curl_refunds(tmp_path: Path, servers: Servers) -> None:
    port = free_port()
    server = servers.start(port=port, cwd=tmp_path)

    shown = printed(server.stdout())
    assert "Demo data seeded" in server.stdout()
    assert shown["mchId"] == "10000001"
    assert shown["loginName"] == "demo"
    assert re.fullmatch(r"[0-9A-F]{32}", shown["key"]), shown["key"]
    assert shown["orders"] == DEMO_ORDERS
    assert len(shown["curl"]) == 1
    curl = shown["curl"][0]
    assert f"http://127.0.0.1:{port}/v1/refund_order" in curl
    assert f"refundgate serving on http://127.0.0.1:{port} with 1 worker(s)" in server.stderr()
    assert shown["key"] not in server.stderr()

    answer = run_printed_curl(curl)

    assert answer["retCode"] == "SUCCESS", answer
    assert answer["resCode"] == "SUCCESS", answer
    assert answer["status"] == 2
    assert answer["mchId"] == "10000001"
    assert answer["payOrderId"] == "DEMO-ALI-0001"
    assert str(answer["refundAmount"]) == "100"
    assert answer["currency"] == "CAD"
    assert verify(answer, answer["sign"], [shown["key"]])
    assert not verify(answer, answer["sign"], ["WRONG" + shown["key"]])

    again = run_printed_curl(curl)  # the same request again: a replay, not a second refund

    assert again["refundOrderId"] == answer["refundOrderId"]
    assert again["status"] == 2
    assert verify(again, again["sign"], [shown["key"]])
    db = tmp_path / "refundgate.db"
    assert rows(db, "SELECT refund_order_id, status, amount FROM refunds") == [
        (answer["refundOrderId"], "SUCCEEDED", 100)
    ]
    assert rows(
        db,
        "SELECT refunded_amount, reserved_amount FROM pay_orders WHERE pay_order_id = ?",
        "DEMO-ALI-0001",
    ) == [(100, 0)]
    assert servers.stop(server) in GRACEFUL, server.stderr()
    assert "Traceback" not in server.stderr()


def test_second_start_on_the_same_database_does_not_show_the_key(
    tmp_path: Path, servers: Servers
) -> None:
    first = servers.start(cwd=tmp_path)
    key = printed(first.stdout())["key"]
    assert servers.stop(first) in GRACEFUL, first.stderr()

    second = servers.start(cwd=tmp_path)
    response = httpx.get(f"{second.base_url}/healthz", timeout=5)

    assert response.status_code == 200
    assert key not in second.stdout()
    assert key not in second.stderr()
    assert "Demo data seeded" not in second.stdout()
    assert "curl" not in second.stdout()
    db = tmp_path / "refundgate.db"
    assert rows(db, "SELECT mch_id FROM merchants") == [("10000001",)]
    assert len(rows(db, "SELECT * FROM pay_orders")) == len(DEMO_ORDERS)


def test_serve_does_not_seed_a_database_that_has_merchants(
    tmp_path: Path, servers: Servers
) -> None:
    url = f"sqlite:///{tmp_path / 'own.db'}"
    added = run_cli("merchant", "add", "--mch-id", "M1", "--key", "MYKEY-123", cwd=tmp_path,
                    env=clean_env(REFUNDGATE_DATABASE_URL=url))  # fmt: skip
    assert added.returncode == 0, added.stderr

    server = servers.start(cwd=tmp_path, env=clean_env(REFUNDGATE_DATABASE_URL=url))

    assert server.stdout() == ""
    assert rows(tmp_path / "own.db", "SELECT mch_id FROM merchants") == [("M1",)]
    assert not (tmp_path / "refundgate.db").exists()


def test_healthz(tmp_path: Path, servers: Servers) -> None:
    server = servers.start(cwd=tmp_path)

    with httpx.Client(base_url=server.base_url, timeout=5) as client:
        ok = client.get("/healthz")
        head = client.head("/healthz")

    assert ok.status_code == 200
    assert ok.json() == {"status": "ok"}
    assert ok.headers["content-type"].startswith("application/json")
    assert head.status_code == 200


UNUSABLE = {
    "postgresql scheme": "postgresql://user@localhost/refundgate",
    "sqlite without a file": "sqlite://",
    "missing folder": "sqlite:///{tmp}/no/such/folder/refundgate.db",
    "file is a folder": "sqlite:///{tmp}",
}


@pytest.mark.parametrize("url", UNUSABLE.values(), ids=UNUSABLE.keys())
def test_serve_with_an_unusable_database_exits_with_one_line(tmp_path: Path, url: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    port = free_port()

    result = run_cli(
        "serve", "--port", str(port), "--database-url", url.format(tmp=tmp_path), cwd=work,
        timeout=15,
    )  # fmt: skip

    one_line_error(result)
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert list(work.iterdir()) == []


def test_a_start_that_cannot_listen_does_not_use_up_the_one_time_key(
    tmp_path: Path, servers: Servers
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        failed = run_cli("serve", "--port", str(port), cwd=tmp_path, timeout=15)

    assert failed.returncode != 0
    assert "address already in use" in failed.stderr.lower()
    # The key is shown only once: a start that never served must not have spent it.
    server = servers.start(cwd=tmp_path)
    shown = printed(server.stdout())
    assert "key" in shown, f"the demo key is lost; the failed start printed:\n{failed.stdout}"
    assert rows(tmp_path / "refundgate.db", "SELECT sign_key FROM merchants") == [(shown["key"],)]


@pytest.mark.parametrize("timeout", ["abc", "-1", "0", "nan", "inf"])
def test_serve_refuses_a_channel_timeout_that_is_not_a_positive_number(
    tmp_path: Path, servers: Servers, timeout: str
) -> None:
    server = servers.start(
        cwd=tmp_path, env=clean_env(REFUNDGATE_CHANNEL_TIMEOUT=timeout), ready=False
    )

    served = server.wait_ready_or_exit()

    assert not served, f"serving with REFUNDGATE_CHANNEL_TIMEOUT={timeout}"
    assert server.process.wait(timeout=5) != 0
    lines = server.stderr().splitlines()
    assert len(lines) == 1, lines
    assert "REFUNDGATE_CHANNEL_TIMEOUT" in lines[0]
    assert not (tmp_path / "refundgate.db").exists()
