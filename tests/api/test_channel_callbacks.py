"""Channel callbacks on the gateway, sent by the simulators themselves (in-process).

A genuine notify ends the refund the way the channel says; a duplicate or late
one is acknowledged and changes nothing; a tampered or forged one is refused
with the channel's own refusal and changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from refundgate.api import GatewayApp
from refundgate.channels.registry import AccountRegistry
from refundgate.domain.channels import ChannelFamily
from refundgate.domain.model import PayOrder, RefundRequest, RefundStatus
from refundgate.domain.secret import Secret
from refundgate.ports import ChannelAccount
from refundgate.sandbox import SandboxLedger, sandbox_channels
from refundgate.sandbox.simulator import Mounted, SimulatorConfig
from refundgate.sandbox.unionpay.simulator import UnionPaySimulator
from refundgate.sandbox.wechat import codec
from refundgate.sandbox.wechat.simulator import WeChatSimulator
from refundgate.service import Deps, request_refund
from refundgate.store.sqlite import SqliteStore
from refundgate.system import RandomIds, SystemClock
from tests.conftest import LOGIN, MCH_ID, OTHER_MCH_ID, db_snapshot, seed_merchants

SIM, GATEWAY = "http://sim.test", "http://gateway.test"
WX_NOTIFY, UPI_NOTIFY = "/v1/channels/wechat/notify", "/v1/channels/unionpay/notify"


class Late:
    """An ASGI app set after construction: the simulators and the gateway call each other."""

    app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


@dataclass
class World:
    deps: Deps
    store: SqliteStore
    db_path: Path
    wechat: WeChatSimulator
    unionpay: UnionPaySimulator
    sims: httpx.AsyncClient
    gateway: httpx.AsyncClient

    async def paid(self, family: str, pay_order_id: str, channel_id: str) -> None:
        answer = await self.sims.post(
            f"/{family}/_control/trades",
            json={"out_trade_no": pay_order_id, "amount": 1000, "currency": "CNY"},
        )
        assert answer.status_code == 201, answer.text
        await self.store.add_order(
            PayOrder(
                MCH_ID, pay_order_id, channel_id, "CNY", 1000, SystemClock().now_ms(),
                channel_order_no=answer.json()["trade_no"],
            )
        )  # fmt: skip

    async def refund(self, pay_order_id: str, number: str = "N1") -> RefundStatus:
        request = RefundRequest(MCH_ID, number, pay_order_id, 400, LOGIN, "127.0.0.1")
        return (await request_refund(self.deps, request)).status

    async def status(self, number: str = "N1") -> RefundStatus:
        refund = await self.store.find_refund(MCH_ID, mch_refund_no=number)
        assert refund is not None
        return refund.status


def account(family: ChannelFamily, fields: dict[str, str]) -> ChannelAccount:
    return ChannelAccount(None, family, Secret(json.dumps(fields)), 1)


@pytest.fixture
async def world(store: SqliteStore, db_path: Path) -> AsyncIterator[World]:
    await seed_merchants(store)
    gateway_app, sims_app = Late(), Late()
    to_gateway = httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway_app))
    config = SimulatorConfig(settle_delay=None)
    wechat = WeChatSimulator(config=config, callback_client=to_gateway, notify_retries=())
    unionpay = UnionPaySimulator(config=config, callback_client=to_gateway)
    sims_app.app = Mounted(wechat.sim, unionpay.sim)
    await store.set_channel_account(account(ChannelFamily.WECHAT, {
        **wechat.credentials(), "base_url": f"{SIM}/wechat/", "notify_url": GATEWAY + WX_NOTIFY,
    }))  # fmt: skip
    await store.set_channel_account(account(ChannelFamily.UNIONPAY, {
        **unionpay.credentials(), "base_url": f"{SIM}/unionpay", "notify_url": GATEWAY + UPI_NOTIFY,
    }))  # fmt: skip
    sandbox = sandbox_channels(SandboxLedger())
    registry = AccountRegistry(store, sandbox, ttl_s=0, transport=httpx.ASGITransport(app=sims_app))
    deps = Deps(store, sandbox, SystemClock(), RandomIds(), resolver=registry)
    gateway_app.app = GatewayApp(deps)
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=sims_app), base_url=SIM) as sims,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway_app), base_url=GATEWAY) as gw,
    ):
        yield World(deps, store, db_path, wechat, unionpay, sims, gw)
    await registry.aclose()
    await to_gateway.aclose()


def spoiled(body: bytes, marker: bytes) -> bytes:
    """``body`` with one byte changed just after ``marker``."""
    at = body.index(marker) + len(marker) + 5
    return body[:at] + bytes([body[at] ^ 0x01]) + body[at + 1 :]


async def test_a_genuine_wechat_notify_ends_the_refund_and_is_acknowledged(world: World) -> None:
    await world.paid("wechat", "WXP1", "WX_NATIVE")
    assert await world.refund("WXP1") is RefundStatus.PROCESSING

    await world.wechat.sim.settle()

    assert await world.status() is RefundStatus.SUCCEEDED
    (delivery,) = world.wechat.sim.callbacks.deliveries
    assert delivery.acknowledged
    assert b"SUCCESS" in delivery.answer


async def test_a_duplicate_wechat_notify_is_acknowledged_and_changes_nothing(world: World) -> None:
    await world.paid("wechat", "WXP1", "WX_NATIVE")
    await world.refund("WXP1")
    await world.wechat.sim.settle()
    body = world.wechat.sim.callbacks.deliveries[0].body
    before = db_snapshot(world.db_path)

    again = await world.gateway.post(WX_NOTIFY, content=body, headers={"content-type": "text/xml"})

    assert again.status_code == 200
    assert b"SUCCESS" in again.content
    after = db_snapshot(world.db_path)
    # Only the record of channel calls grows, by this callback (G6).
    kept_before, kept_after = before.pop("channel_exchanges"), after.pop("channel_exchanges")
    assert after == before
    assert kept_after[: len(kept_before)] == kept_before
    assert [row[3] for row in kept_after[len(kept_before) :]] == ["notify"]


async def test_a_tampered_wechat_notify_is_refused_and_changes_nothing(world: World) -> None:
    await world.paid("wechat", "WXP1", "WX_NATIVE")
    await world.refund("WXP1")
    await world.wechat.sim.settle()
    body = world.wechat.sim.callbacks.deliveries[0].body
    before = db_snapshot(world.db_path)

    for forged in (spoiled(body, b"<req_info>"), b"<xml>garbage", b""):
        answer = await world.gateway.post(
            WX_NOTIFY, content=forged, headers={"content-type": "text/xml"}
        )
        assert answer.status_code == 400
        assert b"FAIL" in answer.content
    assert db_snapshot(world.db_path) == before


async def test_a_genuine_unionpay_notify_ends_the_refund(world: World) -> None:
    await world.paid("unionpay", "UPIP1", "UPI_SEQ")
    assert await world.refund("UPIP1") is RefundStatus.PROCESSING

    await world.unionpay.sim.settle()

    assert await world.status() is RefundStatus.SUCCEEDED
    assert all(d.acknowledged for d in world.unionpay.sim.callbacks.deliveries)


async def test_a_tampered_unionpay_notify_is_refused_and_changes_nothing(world: World) -> None:
    await world.paid("unionpay", "UPIP1", "UPI_SEQ")
    await world.refund("UPIP1")
    await world.unionpay.sim.settle()
    body = world.unionpay.sim.callbacks.deliveries[0].body
    form = {"content-type": "application/x-www-form-urlencoded"}
    replayed = await world.gateway.post(UPI_NOTIFY, content=body, headers=form)
    before = db_snapshot(world.db_path)

    tampered = await world.gateway.post(
        UPI_NOTIFY, content=body.replace(b"txnAmt=400", b"txnAmt=900"), headers=form
    )

    assert replayed.status_code == 200
    assert tampered.status_code == 400
    assert db_snapshot(world.db_path) == before


async def test_callbacks_with_no_account_are_refused(store: SqliteStore, db_path: Path) -> None:
    await seed_merchants(store)
    sandbox = sandbox_channels(SandboxLedger())
    deps = Deps(
        store, sandbox, SystemClock(), RandomIds(), resolver=AccountRegistry(store, sandbox)
    )
    transport = httpx.ASGITransport(app=GatewayApp(deps))
    async with httpx.AsyncClient(transport=transport, base_url=GATEWAY) as client:
        answer = await client.post(WX_NOTIFY, content=b"<xml></xml>")
    assert answer.status_code == 404


async def test_a_merchant_cannot_speak_for_another_merchants_refund(world: World) -> None:
    """OTHER has its own WeChat account, so it knows its key: a notify it signs
    about our refund is refused and changes nothing."""
    await world.paid("wechat", "WXP1", "WX_NATIVE")
    await world.refund("WXP1")
    refund = await world.store.find_refund(MCH_ID, mch_refund_no="N1")
    assert refund is not None
    own = WeChatSimulator().credentials()
    await world.store.set_channel_account(
        ChannelAccount(OTHER_MCH_ID, ChannelFamily.WECHAT, Secret(json.dumps(own)), 1)
    )
    inner = codec.render(
        {"out_refund_no": refund.refund_order_id, "refund_status": "SUCCESS"}, root="root"
    )
    forged = codec.render({
        "return_code": "SUCCESS", "appid": own["appid"], "mch_id": own["mch_id"],
        "req_info": codec.encrypt_req_info(inner, own["api_key"]),
    })  # fmt: skip
    before = db_snapshot(world.db_path)

    answer = await world.gateway.post(WX_NOTIFY, content=forged)

    assert answer.status_code == 400
    assert db_snapshot(world.db_path) == before
    assert await world.status() is RefundStatus.PROCESSING
