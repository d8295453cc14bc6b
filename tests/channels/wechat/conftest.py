"""The WeChat simulator in-process, a connector pointed at it, and a notify receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from refundgate.channels.wechat import Exchange, SignType, WeChatConnector
from refundgate.sandbox.simulator import SimulatorConfig
from refundgate.sandbox.wechat import SandboxMerchant, WeChatSimulator
from tests.channels.wechat.support import NOTIFY_URL, NotifyReceiver, credentials

BASE_URL = "http://sim.test/wechat/"
#: Short enough for fast tests, long enough to be sure a held answer is missed.
CLIENT_TIMEOUT_S = 0.1
HOLD_S = 0.3


@pytest.fixture(scope="session")
def merchant() -> SandboxMerchant:
    return SandboxMerchant.generate()


@dataclass
class Rig:
    """A simulator, a control client, a connector, and where notifies land."""

    simulator: WeChatSimulator
    control: httpx.AsyncClient
    connector: WeChatConnector
    receiver: NotifyReceiver
    exchanges: list[Exchange]

    async def trade(self, out_trade_no: str = "T1", amount: int = 1000, **extra: object) -> str:
        body = {"out_trade_no": out_trade_no, "amount": amount, **extra}
        response = await self.control.post("/_control/trades", json=body)
        assert response.status_code == 201, response.text
        trade_no: str = response.json()["trade_no"]
        return trade_no

    async def fault(self, fault: str, out_trade_no: str | None = "T1", **extra: object) -> None:
        body = {"fault": fault, "out_trade_no": out_trade_no, **extra}
        response = await self.control.post("/_control/faults", json=body)
        assert response.status_code == 201, response.text

    async def refunds(self) -> list[dict[str, object]]:
        answer: list[dict[str, object]] = (await self.control.get("/_control/refunds")).json()
        return answer

    def connector_with(self, transport: httpx.AsyncBaseTransport) -> WeChatConnector:
        return WeChatConnector(
            credentials(self.simulator.merchant),
            base_url=BASE_URL,
            notify_url=NOTIFY_URL,
            timeout_s=CLIENT_TIMEOUT_S,
            transport=transport,
        )


@pytest.fixture(params=[SignType.MD5], ids=["md5"])
def sign_type(request: pytest.FixtureRequest) -> SignType:
    value: SignType = request.param
    return value


@pytest.fixture
async def rig(merchant: SandboxMerchant, sign_type: SignType) -> AsyncIterator[Rig]:
    receiver = NotifyReceiver()
    callback_client = httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver))
    simulator = WeChatSimulator(
        config=SimulatorConfig(hold_seconds=HOLD_S, settle_delay=None, late_callback_delay=0.01),
        merchant=merchant,
        callback_client=callback_client,
        notify_retries=(0.001, 0.001),
    )
    exchanges: list[Exchange] = []
    connector = WeChatConnector(
        credentials(merchant),
        base_url=BASE_URL,
        notify_url=NOTIFY_URL,
        timeout_s=CLIENT_TIMEOUT_S,
        sign_type=sign_type,
        transport=httpx.ASGITransport(app=simulator.app),
        on_exchange=exchanges.append,
    )
    receiver.connector = connector
    transport = httpx.ASGITransport(app=simulator.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as control:
        yield Rig(simulator, control, connector, receiver, exchanges)
    await connector.aclose()
    await simulator.sim.aclose()
    await callback_client.aclose()
