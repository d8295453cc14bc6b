"""Refunds through the real connectors to the simulators, all over loopback HTTP.

``refundgate sandbox serve`` runs the three simulators; channel accounts are
set with ``refundgate channel-account set`` from their ``_control/credentials``;
``refundgate serve`` refunds WX_*, ALIPAY_* and UPI_* orders through them and
takes their callbacks. A timeout, a 5xx, garbage or a bad signature leaves the
refund processing (status 1); only a definitive refusal fails it (status 3).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from refundgate.domain.model import PayOrder
from refundgate.store.sqlite import SqliteStore
from tests.conftest import params_body, refund_fields, seed_merchants, signed_fields
from tests.e2e.support import REFUNDGATE, Server, Servers, clean_env, free_port, rows, run_cli

pytestmark = pytest.mark.slow

FAMILIES = {"wechat": "WX_NATIVE", "alipay": "ALIPAY_QR", "unionpay": "UPI_SEQ"}
FAULTS = ("timeout", "http_500", "garbage", "bad_signature")


@pytest.fixture(scope="module")
def simulators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``refundgate sandbox serve`` on a free port; its base URL."""
    port = free_port()
    logs = tmp_path_factory.mktemp("sandbox")
    with (logs / "out").open("wb") as out, (logs / "err").open("wb") as err:
        process = subprocess.Popen(
            [str(REFUNDGATE), "sandbox", "serve", "--port", str(port)],
            env=clean_env(), stdin=subprocess.DEVNULL, stdout=out, stderr=err,
            start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(
            lambda: httpx.get(f"{base}/wechat/_control/credentials", timeout=1).status_code == 200
        )
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait(ready: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("not ready in time")


def _files(folder: Path, family: str, creds: dict[str, str]) -> list[str]:
    def file(name: str, text: str) -> str:
        (folder / f"{family}-{name}").write_text(text)
        return f"{family}-{name}"

    if family == "wechat":
        return [
            "--appid", creds["appid"], "--wechat-mch-id", creds["mch_id"],
            "--api-key-file", file("api.key", creds["api_key"]),
            "--cert-file", file("cert.pem", creds["cert_pem"]),
            "--key-file", file("key.pem", creds["key_pem"]),
        ]  # fmt: skip
    if family == "alipay":
        return [
            "--app-id", creds["app_id"],
            "--private-key-file", file("app.pem", creds["app_private_key_pem"]),
            "--public-key-file", file("alipay.pem", creds["alipay_public_key_pem"]),
        ]  # fmt: skip
    return [
        "--mer-id", creds["mer_id"], "--verify-identity", creds["verify_identity"],
        "--key-file", file("key.pem", creds["sign_key_pem"]),
        "--cert-file", file("cert.pem", creds["sign_cert_pem"]),
        "--verify-cert-file", file("verify.pem", creds["verify_cert_pem"]),
    ]  # fmt: skip


@dataclass
class Setup:
    folder: Path
    sims: str
    gateway: Server

    def trade(self, family: str, number: str, fault: str | None = None) -> None:
        answer = httpx.post(
            f"{self.sims}/{family}/_control/trades",
            json={"out_trade_no": number, "amount": 1000, "currency": "CNY"},
        )
        assert answer.status_code == 201, answer.text
        order = PayOrder(
            "10000576", number, FAMILIES[family], "CNY", 1000, int(time.time() * 1000),
            channel_order_no=answer.json()["trade_no"],
        )  # fmt: skip
        asyncio.run(_add_order(self.folder, order))
        if fault:
            filed = httpx.post(
                f"{self.sims}/{family}/_control/faults",
                json={"out_trade_no": number, "fault": fault, "times": 1},
            )
            assert filed.status_code in (200, 201), filed.text

    def refund(self, number: str) -> dict[str, Any]:
        fields = signed_fields(refund_fields(mchRefundNo=f"R-{number}", payOrderId=number))
        answer = httpx.post(
            f"{self.gateway.base_url}/v1/refund_order",
            content=params_body(fields),
            headers={"content-type": "application/x-www-form-urlencoded"},
            timeout=30,
        )
        result: dict[str, Any] = answer.json()
        return result

    def stored_status(self, number: str) -> str:
        found = rows(
            self.folder / "refundgate.db",
            "SELECT status FROM refunds WHERE pay_order_id = ?",
            number,
        )
        return str(found[0][0])


async def _add_order(folder: Path, order: PayOrder) -> None:
    store = SqliteStore(f"sqlite:///{folder / 'refundgate.db'}")
    try:
        await store.add_order(order)
    finally:
        await store.close()


async def _seed(folder: Path) -> None:
    store = SqliteStore(f"sqlite:///{folder / 'refundgate.db'}")
    try:
        await store.migrate()
        await seed_merchants(store)
    finally:
        await store.close()


@pytest.fixture(scope="module")
def setup(simulators: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    folder = tmp_path_factory.mktemp("gateway")
    asyncio.run(_seed(folder))
    port = free_port()
    notify = {
        "wechat": f"http://127.0.0.1:{port}/v1/channels/wechat/notify",
        "unionpay": f"http://127.0.0.1:{port}/v1/channels/unionpay/notify",
    }
    for family in FAMILIES:
        creds = httpx.get(f"{simulators}/{family}/_control/credentials").json()
        base = f"{simulators}/{family}" + ("/gateway.do" if family == "alipay" else "/")
        extra = ["--notify-url", notify[family]] if family in notify else []
        result = run_cli(
            "channel-account", "set", "--default", "--channel", family, "--base-url", base,
            *extra, *_files(folder, family, creds), cwd=folder,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
    servers = Servers(folder / "logs")
    try:
        env = clean_env(REFUNDGATE_CHANNEL_TIMEOUT="2")
        yield Setup(folder, simulators, servers.start(cwd=folder, env=env, port=port))
    finally:
        servers.close()


@pytest.mark.parametrize("family", list(FAMILIES))
def test_a_refund_goes_through_the_real_connector(setup: Setup, family: str) -> None:
    number = f"OK{family[:3].upper()}1"
    setup.trade(family, number)

    answer = setup.refund(number)

    assert answer["retCode"] == "SUCCESS", answer
    recorded = httpx.get(f"{setup.sims}/{family}/_control/refunds").json()
    assert number in str(recorded)  # the simulator, not the sandbox, got the refund
    # WeChat and UnionPay settle later and call us back; Alipay answers at once.
    _wait(lambda: setup.stored_status(number) == "SUCCEEDED", timeout=15)


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("family", list(FAMILIES))
def test_an_unknown_answer_leaves_the_refund_processing(
    setup: Setup, family: str, fault: str
) -> None:
    number = f"F{family[:3].upper()}{fault[:4].upper()}"
    setup.trade(family, number, fault)

    answer = setup.refund(number)

    if fault == "timeout" and family != "alipay":
        # The simulator committed the refund, settled it and called us back while
        # our call was still waiting: the callback's success is the truth.
        assert answer.get("status") in (1, 2), answer
        assert setup.stored_status(number) in ("PROCESSING", "SUCCEEDED")
    else:
        assert answer.get("status") == 1, answer
        assert setup.stored_status(number) == "PROCESSING"


@pytest.mark.parametrize("family", list(FAMILIES))
def test_a_definitive_refusal_fails_the_refund(setup: Setup, family: str) -> None:
    number = f"REJ{family[:3].upper()}"
    setup.trade(family, number, "reject")

    answer = setup.refund(number)

    assert answer.get("status") == 3, answer
    assert setup.stored_status(number) == "FAILED"


#: What each simulator's credentials hold that must never be kept on record.
_SECRETS = {
    "wechat": ("api_key", "key_pem"),
    "alipay": ("app_private_key_pem",),
    "unionpay": ("sign_key_pem",),
}


def _pem_body(text: str) -> list[str]:
    """A key's text, or the base64 lines of a PEM, any of which would give it away."""
    lines = [line for line in text.splitlines() if line and not line.startswith("-----")]
    return lines or [text]


@pytest.mark.parametrize("family", list(FAMILIES))
def test_each_channel_call_is_kept_with_the_refund_and_no_secret(setup: Setup, family: str) -> None:
    number, broken = f"CALL{family[:3].upper()}", f"CALL{family[:3].upper()}500"
    setup.trade(family, number)
    setup.trade(family, broken, "http_500")
    assert setup.refund(number)["retCode"] == "SUCCESS"
    assert setup.refund(broken).get("status") == 1
    # WeChat and UnionPay settle later and call us back; the callback is kept too.
    _wait(lambda: setup.stored_status(number) == "SUCCEEDED", timeout=15)

    kept = {
        order: rows(
            setup.folder / "refundgate.db",
            "SELECT x.refund_order_id, x.family, x.operation, x.status_code, x.request,"
            " x.answer, x.error FROM channel_exchanges AS x"
            " JOIN refunds AS r USING (refund_order_id)"
            " WHERE r.pay_order_id = ? ORDER BY x.exchange_id",
            order,
        )
        for order in (number, broken)
    }
    refund_id, kept_family, _, status, sent, answer, error = kept[number][0]
    assert kept_family == family
    assert refund_id in sent  # our refund id is the channel's key (G3)
    assert answer
    assert error is None
    assert status == (None if family == "unionpay" else 200)  # UnionPay's reply is its record
    _, _, _, status, _, answer, error = kept[broken][0]
    assert status == 500 or "500" in (error or "")
    operations = [row[2] for row in kept[number]]
    if family == "alipay":
        assert operations == ["alipay.trade.refund"]  # answered at once: no callback
    else:
        # The channel's callback as received, and our answer to it.
        assert operations[-1] == "notify"
        _, _, _, status, received, answer, _ = kept[number][-1]
        assert status == 200
        assert received
        assert answer

    creds = httpx.get(f"{setup.sims}/{family}/_control/credentials").json()
    stored = repr(kept)
    for name in _SECRETS[family]:
        for piece in _pem_body(creds[name]):
            assert piece not in stored, name

    shown = run_cli("refund", "show", refund_id, "--calls", cwd=setup.folder)
    assert shown.returncode == 0, shown.stderr
    calls = shown.stdout.split("channel calls:")[1].splitlines()[1:]
    assert family in calls[0]
    assert "HTTP" in calls[0]
    assert calls[1].strip().startswith("sent:")
    assert refund_id in calls[1]


@pytest.mark.parametrize("family", list(FAMILIES))
def test_a_call_that_times_out_is_kept_with_its_error(setup: Setup, family: str) -> None:
    number = f"SLOW{family[:3].upper()}"
    setup.trade(family, number, "timeout")
    setup.refund(number)
    kept = rows(
        setup.folder / "refundgate.db",
        "SELECT x.operation, x.request, x.status_code, x.error FROM channel_exchanges AS x"
        " JOIN refunds AS r USING (refund_order_id) WHERE r.pay_order_id = ?"
        " ORDER BY x.exchange_id",
        number,
    )
    # WeChat's and UnionPay's simulators settle and call us back meanwhile, so the
    # callback may be kept before the call it answered.
    calls = [row for row in kept if row[0] != "notify"]
    assert len(calls) == 1
    operation, request, status, error = calls[0]  # sent, and no answer read in time
    assert "refund" in operation
    assert request
    assert status is None
    # The kept error says no answer was read in time: the gateway's deadline cut
    # the call off, or (the connector's own deadline is the same) the connector's.
    assert error is not None
    assert re.search(r"no answer|did not answer in time|cut off before an answer", error), error
