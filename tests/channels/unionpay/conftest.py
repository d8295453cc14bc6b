"""The UnionPay connector against the UnionPay simulator, in-process or over loopback HTTP.

``pki`` is made once per run (RSA key generation is the slow part). ``up`` is a
:class:`Harness`: the simulator, a connector configured from the simulator's
own ``_control/credentials``, a notify inbox that reads callbacks with the
connector, and one clock both sides share.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn

from refundgate.channels.unionpay import Exchange, UnionPayConnector, UnionPayCredentials
from refundgate.domain.model import PayOrder, Refund, RefundStatus
from refundgate.ports import CallbackInvalid, ChannelCallback, ChannelRefund
from refundgate.sandbox.simulator import SimulatorConfig
from refundgate.sandbox.unionpay import SandboxPki, UnionPaySimulator, callback_policy

MER_ID = "777290058110048"
BACK_URL = "http://gateway.test/callbacks/unionpay"
#: The connector's deadline, and how long a ``timeout`` fault holds its answer.
TIMEOUT_S = 0.1
HOLD_S = 0.2


class SharedClock:
    """One time for both sides: the simulator reads ``now()``, the connector ``now_ms()``."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def now_ms(self) -> int:
        return int(self._now.timestamp() * 1000)

    def advance(self, delta: timedelta) -> None:
        self._now += delta


class NotifyInbox:
    """The gateway's backUrl, reduced to the connector's parse/ack/reject."""

    def __init__(self) -> None:
        self.parser: UnionPayConnector | None = None
        self.accepted: list[ChannelCallback] = []
        self.refused: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        assert self.parser is not None
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = dict(scope["headers"])
        content_type = headers.get(b"content-type", b"").decode()
        try:
            callback = self.parser.parse_callback(body, content_type)
            self.accepted.append(callback)
            status, answer, kind = 200, callback.ack_body, callback.ack_content_type
        except CallbackInvalid as exc:
            self.refused.append(str(exc))
            status, answer, kind = self.parser.reject_callback()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", kind.encode())]})  # fmt: skip
        await send({"type": "http.response.body", "body": answer})


@pytest.fixture(scope="session")
def pki() -> SandboxPki:
    return SandboxPki.generate(MER_ID)


@pytest.fixture(scope="session")
def stranger() -> SandboxPki:
    """Another PKI with the same names: what an impostor would hold."""
    return SandboxPki.generate(MER_ID)


@asynccontextmanager
async def loopback(app: Any) -> AsyncIterator[str]:
    """``app`` under uvicorn on a free port of 127.0.0.1, in this event loop."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="off", log_level="warning", ws="none")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 - uvicorn offers only this flag
        await asyncio.sleep(0.005)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@dataclass
class Harness:
    sim: UnionPaySimulator
    connector: UnionPayConnector
    client: httpx.AsyncClient
    base_url: str
    clock: SharedClock
    inbox: NotifyInbox
    exchanges: list[Exchange]
    _trades: int = 0
    _refunds: int = 0

    async def trade(self, amount: int = 10_000, currency: str = "CNY", **extra: Any) -> str:
        """A paid trade; its UnionPay ``queryId``."""
        self._trades += 1
        payload = {"out_trade_no": f"T{self._trades}", "amount": amount, "currency": currency}
        response = await self.client.post(
            f"{self.base_url}/_control/trades", json={**payload, **extra}
        )
        assert response.status_code == 201, response.text
        trade_no: str = response.json()["trade_no"]
        return trade_no

    async def fault(self, fault: str, trade: int | None = None, **extra: Any) -> None:
        payload: dict[str, Any] = {"fault": fault, **extra}
        if trade is not None:
            payload["out_trade_no"] = f"T{trade}"
        response = await self.client.post(f"{self.base_url}/_control/faults", json=payload)
        assert response.status_code == 201, response.text

    async def refunds(self) -> list[dict[str, Any]]:
        response = await self.client.get(f"{self.base_url}/_control/refunds")
        result: list[dict[str, Any]] = response.json()
        return result

    def request(
        self, query_id: str | None, amount: int = 100, *, currency: str = "CNY",
        refund_id: str | None = None, created_at: int | None = None,
    ) -> ChannelRefund:  # fmt: skip
        """Our refund of ``amount`` against the payment ``query_id``, created now."""
        self._refunds += 1
        now = self.clock.now_ms() if created_at is None else created_at
        refund = Refund(
            refund_order_id=refund_id or f"R{self._refunds:010d}", mch_id="10000576",
            mch_refund_no=f"M{self._refunds}", pay_order_id=f"UPI-{self._refunds}",
            channel_id="UPI_SEQ", amount=amount, currency=currency,
            status=RefundStatus.PENDING, created_at=now, updated_at=now,
        )  # fmt: skip
        order = PayOrder(
            mch_id="10000576", pay_order_id=refund.pay_order_id, channel_id="UPI_SEQ",
            currency=currency, amount=10_000, paid_at=now, channel_order_no=query_id,
        )  # fmt: skip
        return ChannelRefund(refund, order)

    async def settle(self) -> None:
        await self.sim.sim.settle()
        await self.sim.sim.drain()


def sim_config() -> SimulatorConfig:
    return SimulatorConfig(
        hold_seconds=HOLD_S,
        settle_delay=None,
        late_callback_delay=0.05,
        callback_policy=callback_policy(retry_delays=(0.01, 0.01), timeout=1.0),
    )


def make_connector(
    sim: UnionPaySimulator, clock: SharedClock, client: httpx.AsyncClient, base_url: str,
    record: Callable[[Exchange], None], **overrides: Any,
) -> UnionPayConnector:  # fmt: skip
    credentials = UnionPayCredentials.from_mapping(overrides.pop("credentials", sim.credentials()))
    return UnionPayConnector(
        credentials, base_url=base_url, back_url=BACK_URL, timeout_s=TIMEOUT_S,
        client=client, clock=clock, recorder=record, **overrides,
    )  # fmt: skip


@asynccontextmanager
async def harness(pki: SandboxPki, transport: str) -> AsyncIterator[Harness]:
    clock = SharedClock(datetime.now(UTC))
    inbox = NotifyInbox()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=inbox)) as callbacks:
        sim = UnionPaySimulator(
            pki=pki, clock=clock, callback_client=callbacks, config=sim_config()
        )
        try:
            async with _channel_client(sim, transport) as (client, base_url):
                exchanges: list[Exchange] = []
                connector = make_connector(sim, clock, client, base_url, exchanges.append)
                inbox.parser = connector
                yield Harness(sim, connector, client, base_url, clock, inbox, exchanges)
        finally:
            await sim.sim.aclose()


@asynccontextmanager
async def _channel_client(
    sim: UnionPaySimulator, transport: str
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    if transport == "asgi":
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim.sim)) as client:
            yield client, "http://unionpay.test/unionpay"
        return
    async with loopback(sim.sim) as root, httpx.AsyncClient() as client:
        yield client, f"{root}/unionpay"


@pytest.fixture
async def up(pki: SandboxPki) -> AsyncIterator[Harness]:
    """The harness in-process."""
    async with harness(pki, "asgi") as h:
        yield h


@pytest.fixture(params=["asgi", "http"])
async def up_both(request: pytest.FixtureRequest, pki: SandboxPki) -> AsyncIterator[Harness]:
    """The harness in-process, then over loopback HTTP (uvicorn)."""
    async with harness(pki, request.param) as h:
        yield h
