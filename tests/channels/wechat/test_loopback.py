"""Over real loopback HTTP: uvicorn serves the simulator (and, for notifies, the receiver)."""

from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from refundgate.channels.wechat import WeChatConnector
from refundgate.ports import ChannelError, ChannelResult, NotSent, OutcomeUnknown
from refundgate.sandbox.simulator import SimulatorConfig
from refundgate.sandbox.wechat import SandboxMerchant, WeChatSimulator
from tests.channels.wechat.support import NotifyReceiver, channel_refund, credentials
from tests.sandbox.simulator.server import serve


@dataclass
class Served:
    simulator: WeChatSimulator
    base_url: str
    receiver: NotifyReceiver
    notify_url: str

    def connector(self, **options: object) -> WeChatConnector:
        return WeChatConnector(
            credentials(self.simulator.merchant),
            base_url=self.base_url + "/wechat/",
            notify_url=self.notify_url,
            timeout_s=0.1,
            **options,  # type: ignore[arg-type]
        )


@pytest.fixture
def served(merchant: SandboxMerchant) -> Iterator[Served]:
    simulator = WeChatSimulator(
        config=SimulatorConfig(hold_seconds=0.3, settle_delay=None),
        merchant=merchant,
        notify_retries=(),
    )
    receiver = NotifyReceiver()
    with serve(simulator.app) as base_url, serve(receiver) as notify_base:
        yield Served(simulator, base_url, receiver, notify_base + "/callbacks/wechat")


@pytest.fixture
async def control(served: Served) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=served.base_url + "/wechat/") as client:
        yield client


async def test_refund_settle_notify_and_query_over_loopback(
    served: Served, control: httpx.AsyncClient
) -> None:
    await control.post("/_control/trades", json={"out_trade_no": "T1", "amount": 1000})
    async with served.connector() as connector:
        served.receiver.connector = connector
        accepted = await connector.refund(channel_refund())
        await control.post("/_control/settle")
        queried = await connector.query(channel_refund())

    assert accepted.result is ChannelResult.PROCESSING
    assert queried.result is ChannelResult.SUCCEEDED
    (callback,) = served.receiver.accepted
    assert callback.outcome == queried


async def test_a_held_answer_times_out_as_unknown_and_the_refund_exists(
    served: Served, control: httpx.AsyncClient
) -> None:
    await control.post("/_control/trades", json={"out_trade_no": "T1", "amount": 1000})
    await control.post("/_control/faults", json={"out_trade_no": "T1", "fault": "timeout"})

    async with served.connector() as connector:
        with pytest.raises(OutcomeUnknown):
            await connector.refund(channel_refund())

    assert [r["refund_no"] for r in (await control.get("/_control/refunds")).json()] == [
        "R0000000001"
    ]


@pytest.mark.parametrize("fault", ["http_500", "garbage", "bad_signature"])
async def test_bad_answers_over_loopback_are_unknown(
    served: Served, control: httpx.AsyncClient, fault: str
) -> None:
    await control.post("/_control/trades", json={"out_trade_no": "T1", "amount": 1000})
    await control.post("/_control/faults", json={"out_trade_no": "T1", "fault": fault})

    async with served.connector() as connector:
        with pytest.raises(OutcomeUnknown):
            await connector.refund(channel_refund())


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_nobody_listening_is_not_sent(merchant: SandboxMerchant) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/wechat/"
    async with WeChatConnector(credentials(merchant), base_url=url, timeout_s=1) as connector:
        with pytest.raises(NotSent):
            await connector.refund(channel_refund())


# ------------------------------------------------------------------ mutual TLS


@pytest.fixture
def tls_served(merchant: SandboxMerchant, tmp_path: Path) -> Iterator[Served]:
    files = {
        "ca.pem": merchant.ca_pem,
        "server.pem": merchant.server.cert_pem,
        "server.key": merchant.server.key_pem.reveal(),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    simulator = WeChatSimulator(
        config=SimulatorConfig(settle_delay=None, tls_requires_client_cert=True),
        merchant=merchant,
        require_client_cert=True,
    )
    tls = {
        "ssl_certfile": str(tmp_path / "server.pem"),
        "ssl_keyfile": str(tmp_path / "server.key"),
        "ssl_ca_certs": str(tmp_path / "ca.pem"),
        "ssl_cert_reqs": ssl.CERT_REQUIRED,
    }
    with serve(simulator.app, **tls) as base_url:
        yield Served(simulator, base_url, NotifyReceiver(), "")


async def test_the_refund_call_presents_the_client_certificate(
    tls_served: Served, merchant: SandboxMerchant
) -> None:
    tls_served.simulator.sim.ledger.add_trade(_trade(tls_served))
    connector = WeChatConnector(
        credentials(merchant, with_cert=True),
        base_url=tls_served.base_url + "/wechat/",
        timeout_s=2,
        trust_pem=merchant.ca_pem,
    )
    async with connector:
        outcome = await connector.refund(channel_refund())

    assert outcome.result is ChannelResult.PROCESSING


async def test_without_the_client_certificate_nothing_is_refunded(
    tls_served: Served, merchant: SandboxMerchant
) -> None:
    tls_served.simulator.sim.ledger.add_trade(_trade(tls_served))
    connector = WeChatConnector(
        credentials(merchant),
        base_url=tls_served.base_url + "/wechat/",
        timeout_s=2,
        trust_pem=merchant.ca_pem,
    )
    async with connector:
        with pytest.raises(ChannelError):
            await connector.refund(channel_refund())

    assert tls_served.simulator.sim.ledger.refunds() == []


def _trade(served: Served) -> object:
    from refundgate.sandbox.simulator import Trade

    now = served.simulator.sim.clock.now()
    return Trade("T1", served.simulator.trade_no("T1", 1), 1000, "CNY", now)
