"""Refunds settle step by step and their callbacks reach the receiver as asked."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import httpx
import pytest

from refundgate.sandbox.simulator import (
    CallbackPolicy,
    CallbackSender,
    Notice,
    RefundState,
    SimulatorConfig,
)
from tests.sandbox.simulator.toy import ToyChannel

NOTIFY_URL = "http://merchant.test/notify"


class Receiver:
    """A tiny ASGI receiver that records bodies and answers from a script."""

    def __init__(self, answers: list[tuple[int, bytes]] | None = None) -> None:
        self.bodies: list[bytes] = []
        self.answers = answers or []

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        message = await receive()
        self.bodies.append(message.get("body", b""))
        status, body = self.answers.pop(0) if self.answers else (200, b"ok")
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": body})

    def states(self) -> list[str]:
        return [json.loads(body)["status"] for body in self.bodies]


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


async def _channel(receiver: Receiver, **config: Any) -> ToyChannel:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver))
    options = {"hold_seconds": 0.2, "settle_delay": None, "late_callback_delay": 0.01, **config}
    return ToyChannel(config=SimulatorConfig(**options), callback_client=client)


@pytest.fixture
async def toy(receiver: Receiver) -> AsyncIterator[ToyChannel]:
    channel = await _channel(receiver)
    yield channel
    await channel.sim.aclose()


async def _refund_with_notify(client: httpx.AsyncClient, fault: str | None = None) -> None:
    await client.post("/_control/trades", json={"out_trade_no": "T1", "amount": 1000})
    if fault:
        await client.post("/_control/faults", json={"out_trade_no": "T1", "fault": fault})
    body = {"out_trade_no": "T1", "refund_no": "R1", "amount": 100, "notify_url": NOTIFY_URL}
    await client.post("/refund", json=body)


async def test_a_refund_stays_processing_until_settled(
    client: httpx.AsyncClient, toy: ToyChannel, receiver: Receiver
) -> None:
    await _refund_with_notify(client)
    assert receiver.bodies == []

    settled = (await client.post("/_control/settle")).json()

    assert [r["status"] for r in settled] == ["SUCCEEDED"]
    assert receiver.states() == ["SUCCEEDED"]


async def test_settling_a_settled_refund_does_nothing(
    client: httpx.AsyncClient, toy: ToyChannel, receiver: Receiver
) -> None:
    await _refund_with_notify(client)
    await toy.sim.settle()

    assert await toy.sim.settle() == []
    assert receiver.states() == ["SUCCEEDED"]


async def test_succeed_then_fail_reports_success_then_failure(
    client: httpx.AsyncClient, toy: ToyChannel, receiver: Receiver
) -> None:
    await _refund_with_notify(client, "succeed_then_fail")

    await toy.sim.settle()
    await toy.sim.settle()

    assert receiver.states() == ["SUCCEEDED", "FAILED"]
    assert toy.sim.ledger.remaining("T1") == 1000


@pytest.mark.parametrize(
    ("fault", "state"), [("settle_failed", "FAILED"), ("settle_abnormal", "ABNORMAL")]
)
async def test_a_refund_can_be_told_how_to_end(
    client: httpx.AsyncClient, toy: ToyChannel, receiver: Receiver, fault: str, state: str
) -> None:
    await _refund_with_notify(client, fault)

    await toy.sim.settle()

    assert receiver.states() == [state]


async def test_duplicate_callback_is_sent_twice(
    client: httpx.AsyncClient, toy: ToyChannel, receiver: Receiver
) -> None:
    await _refund_with_notify(client, "duplicate_callback")

    await toy.sim.settle()

    assert receiver.bodies == [receiver.bodies[0]] * 2


async def test_late_callback_arrives_only_after_its_delay(
    client: httpx.AsyncClient, toy: ToyChannel, receiver: Receiver
) -> None:
    await _refund_with_notify(client, "late_callback")

    await toy.sim.settle()
    assert receiver.bodies == []
    await toy.sim.drain()

    assert receiver.states() == ["SUCCEEDED"]


async def test_settling_on_its_own_after_the_delay(receiver: Receiver) -> None:
    toy = await _channel(receiver, settle_delay=0.01)
    transport = httpx.ASGITransport(app=toy.sim)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim.test/toy") as client:
        await _refund_with_notify(client, "succeed_then_fail")
        await toy.sim.drain()
    await toy.sim.aclose()

    assert receiver.states() == ["SUCCEEDED", "FAILED"]
    assert toy.sim.ledger.refunds()[0].state is RefundState.FAILED


async def test_deliveries_record_what_the_receiver_answered(
    client: httpx.AsyncClient, toy: ToyChannel, receiver: Receiver
) -> None:
    receiver.answers.append((503, b"busy"))
    await _refund_with_notify(client)
    await toy.sim.settle()

    deliveries = (await client.get("/_control/callbacks")).json()

    assert [(d["status"], d["answer"], d["acknowledged"]) for d in deliveries] == [
        (503, "busy", False)
    ]


async def test_unacknowledged_callbacks_are_retried_on_the_schedule(receiver: Receiver) -> None:
    receiver.answers.extend([(500, b""), (200, b"FAIL"), (200, b"SUCCESS")])
    policy = CallbackPolicy(lambda status, body: body == b"SUCCESS", retry_delays=(0.001,) * 5)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver))
    sender = CallbackSender(policy, client=client)

    acknowledged = await sender.deliver(Notice(NOTIFY_URL, b"{}", "application/json", "R1"))

    assert acknowledged
    assert [d.acknowledged for d in sender.deliveries] == [False, False, True]
    await client.aclose()


async def test_retries_give_up_after_the_schedule(receiver: Receiver) -> None:
    receiver.answers.extend([(500, b"")] * 5)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver))
    sender = CallbackSender(CallbackPolicy(retry_delays=(0.001, 0.001)), client=client)

    assert not await sender.deliver(Notice(NOTIFY_URL, b"{}", "application/json"))
    assert len(sender.deliveries) == 3
    await client.aclose()


async def test_an_unreachable_receiver_is_recorded_not_raised() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = httpx.AsyncClient(transport=httpx.MockTransport(refuse))
    sender = CallbackSender(client=client)

    delivery = await sender.attempt(Notice(NOTIFY_URL, b"{}", "application/json"))

    assert delivery.status is None
    assert delivery.error is not None
    assert "ConnectError" in delivery.error
    await client.aclose()
