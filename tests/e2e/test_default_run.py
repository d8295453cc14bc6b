"""The README's default run: ``refundgate serve`` on an empty folder refunds the demo
orders through the real connectors to the channel simulators it runs itself.

Each demo order's sandbox outcome is its trade's script at the simulator:
``succeed`` none, ``processing`` a settle delay, ``fail`` the ``reject`` fault,
``timeout`` the ``timeout`` fault. The simulators' books survive a restart.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from refundgate.protocol.signing import sign
from tests.e2e.support import Server, Servers, clean_env, rows
from tests.e2e.test_serve import printed

pytestmark = pytest.mark.slow

FAMILY = {"WX": "wechat", "ALI": "alipay", "UPI": "unionpay"}
#: The gateway gives up on a channel after 1 s, so the ``timeout`` order costs 1 s.
ENV = {"REFUNDGATE_CHANNEL_TIMEOUT": "1"}


def simulators(server: Server) -> str:
    match = re.search(r"channel simulators on (http://127\.0\.0\.1:\d+)/", server.stderr())
    assert match, server.stderr()
    return match[1]


def refund(server: Server, key: str, order: str, number: str, amount: int = 100) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "mchId": "10000001", "mchRefundNo": number, "payOrderId": order,
        "refundAmount": str(amount), "loginName": "demo", "clientIp": "127.0.0.1",
    }  # fmt: skip
    fields["sign"] = sign(fields, key)
    answer = httpx.post(
        f"{server.base_url}/v1/refund_order",
        data={"params": json.dumps(fields, separators=(",", ":"))},
        timeout=30,
    )
    result: dict[str, Any] = answer.json()
    return result


def at_simulator(sims: str, order: str) -> list[dict[str, Any]]:
    """Every refund the order's simulator recorded against the order's trade."""
    family = FAMILY[order.split("-")[1]]
    recorded = httpx.get(f"{sims}/{family}/_control/refunds", timeout=10).json()
    return [r for r in recorded if r["out_trade_no"] == order]


def status(folder: Path, refund_order_id: str) -> str:
    found = rows(
        folder / "refundgate.db", "SELECT status FROM refunds WHERE refund_order_id = ?",
        refund_order_id,
    )  # fmt: skip
    return str(found[0][0])


def eventually(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.05)


def assert_reached_once(sims: str, order: str, answer: dict[str, Any], amount: int) -> None:
    recorded = at_simulator(sims, order)
    assert [(r["refund_no"], r["amount"]) for r in recorded] == [
        (answer["refundOrderId"], amount)
    ], recorded


@pytest.mark.parametrize("order", ["DEMO-WX-0001", "DEMO-ALI-0001", "DEMO-UPI-0001"])
def test_a_demo_refund_reaches_its_simulator_once_and_succeeds(
    tmp_path: Path, servers: Servers, order: str
) -> None:
    server = servers.start(cwd=tmp_path, env=clean_env(**ENV))
    key, sims = printed(server.stdout())["key"], simulators(server)

    answer = refund(server, key, order, f"R-{order}", amount=250)

    assert answer["retCode"] == "SUCCESS", answer
    assert answer["resCode"] == "SUCCESS", answer
    assert answer["status"] in (1, 2), answer  # WeChat and UnionPay settle a moment later
    assert_reached_once(sims, order, answer, 250)
    # Settled by the simulator, then learned from its callback (WeChat, UnionPay).
    eventually(lambda: status(tmp_path, answer["refundOrderId"]) == "SUCCEEDED")
    assert at_simulator(sims, order)[0]["status"] == "SUCCEEDED"


def test_scripted_outcomes_fail_and_time_out_the_channel_way(
    tmp_path: Path, servers: Servers
) -> None:
    server = servers.start(cwd=tmp_path, env=clean_env(**ENV))
    key, sims = printed(server.stdout())["key"], simulators(server)

    failed = refund(server, key, "DEMO-WX-FAIL", "R-FAIL")
    timed_out = refund(server, key, "DEMO-UPI-TIMEOUT", "R-TIMEOUT")
    processing = refund(server, key, "DEMO-ALI-PROC", "R-PROC")

    assert failed["status"] == 3, failed
    assert failed["errCode"] == "CHANNEL_REJECTED", failed
    assert failed["errCodeDes"], failed  # the channel's own code
    assert at_simulator(sims, "DEMO-WX-FAIL") == []  # a refusal commits nothing
    assert timed_out["status"] == 1, timed_out
    assert_reached_once(sims, "DEMO-UPI-TIMEOUT", timed_out, 100)
    assert processing["status"] == 1, processing
    assert_reached_once(sims, "DEMO-ALI-PROC", processing, 100)
    # The processing refund settles at the channel on the simulator's own timer.
    eventually(lambda: at_simulator(sims, "DEMO-ALI-PROC")[0]["status"] == "SUCCEEDED")
    assert status(tmp_path, timed_out["refundOrderId"]) == "PROCESSING"


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_after_a_restart_replays_answer_the_same_and_new_refunds_work(
    tmp_path: Path, servers: Servers
) -> None:
    first = servers.start(cwd=tmp_path, env=clean_env(**ENV))
    shown = printed(first.stdout())
    key = shown["key"]
    by_curl = json.loads(
        subprocess.run(["bash", "-c", shown["curl"][0]], capture_output=True, text=True,
                       timeout=30, check=True).stdout
    )  # fmt: skip
    upi = refund(first, key, "DEMO-UPI-0001", "R-UPI-1")
    timed_out = refund(first, key, "DEMO-UPI-TIMEOUT", "R-TIMEOUT")
    assert by_curl["status"] == 2, by_curl
    eventually(lambda: status(tmp_path, upi["refundOrderId"]) == "SUCCEEDED")
    servers.stop(first)

    second = servers.start(cwd=tmp_path, env=clean_env(**ENV))
    sims = simulators(second)
    replayed = json.loads(
        subprocess.run(["bash", "-c", shown["curl"][0].replace(str(first.port), str(second.port))],
                       capture_output=True, text=True, timeout=30, check=True).stdout
    )  # fmt: skip
    upi_again = refund(second, key, "DEMO-UPI-0001", "R-UPI-1")
    more_ali = refund(second, key, "DEMO-ALI-0001", "R-ALI-2", amount=300)
    more_upi = refund(second, key, "DEMO-UPI-0001", "R-UPI-2", amount=300)

    assert "Demo data seeded" not in second.stdout()
    assert {k: replayed[k] for k in ("refundOrderId", "status", "sign")} == {
        k: by_curl[k] for k in ("refundOrderId", "status", "sign")
    }
    assert upi_again["refundOrderId"] == upi["refundOrderId"]
    assert upi_again["status"] == 2
    assert more_ali["status"] == 2, more_ali
    assert more_upi["resCode"] == "SUCCESS", more_upi
    # The books came back: the earlier refunds are there, each new one reached it once.
    assert [r["amount"] for r in at_simulator(sims, "DEMO-ALI-0001")] == [100, 300]
    assert [r["amount"] for r in at_simulator(sims, "DEMO-UPI-0001")] == [100, 300]
    eventually(lambda: status(tmp_path, more_upi["refundOrderId"]) == "SUCCEEDED")
    assert status(tmp_path, timed_out["refundOrderId"]) == "PROCESSING"


def test_two_workers_share_one_set_of_simulators(tmp_path: Path, servers: Servers) -> None:
    server = servers.start("--workers", "2", cwd=tmp_path, env=clean_env(**ENV))
    key, sims = printed(server.stdout())["key"], simulators(server)

    answers = {
        order: refund(server, key, order, f"R-{order}", amount=100)
        for order in ("DEMO-WX-0001", "DEMO-ALI-0001", "DEMO-UPI-0001")
    }

    for order, answer in answers.items():
        assert answer["resCode"] == "SUCCESS", answer
        assert_reached_once(sims, order, answer, 100)
        eventually(lambda answer=answer: status(tmp_path, answer["refundOrderId"]) == "SUCCEEDED")
