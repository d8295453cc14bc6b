"""Merchant notifications end to end: a real receiver on loopback hears every final state."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from refundgate.client import RefundStatus as ClientStatus
from refundgate.client import parse_notification
from refundgate.domain import (
    Merchant,
    Operator,
    PayOrder,
    RefundDraft,
    RefundRequest,
    RefundStatus,
    SandboxOutcome,
)
from refundgate.domain.secret import Secret
from refundgate.notify import build_sender
from refundgate.ports import Transition
from refundgate.protocol import sign, verify
from refundgate.service import Deps
from refundgate.service.notifications import deliver_due, resend
from refundgate.store.migrate import upgrade
from refundgate.store.sqlite import SqliteStore
from tests.backends import Backend
from tests.conftest import KEY, LOGIN, MCH_ID, NOW_MS, Gateway, seed_merchants
from tests.e2e.support import Server, Servers, clean_env, one_line_error, rows, run_cli
from tests.e2e.test_serve import printed
from tests.notify.support import Receiver, free_port, serving

FIELDS = {
    "refundOrderId", "mchId", "mchRefundNo", "payOrderId", "channelId", "refundAmount",
    "currency", "status", "channelOrderNo", "refundSuccTime", "backType", "sign",
}  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def gateway_store(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with serving(Receiver()) as running:
        yield running


@pytest.fixture
async def notifying(gateway: Gateway) -> AsyncIterator[Deps]:
    """The gateway's deps with the real HTTP sender (loopback allowed, as in the sandbox)."""
    sender = build_sender(2.0, allow_private=False, allow_loopback=True)
    yield replace(gateway.deps, notifier=sender)
    await sender.aclose()


def form_of(body: bytes) -> dict[str, str]:
    return dict(parse_qsl(body.decode(), keep_blank_values=True))


async def test_a_succeeded_refund_reaches_the_merchant_signed(
    gateway: Gateway, notifying: Deps, receiver: Receiver
) -> None:
    answer = await gateway.refund(notifyUrl=receiver.url, refundAmount="1999")
    assert answer["status"] == 2
    assert await deliver_due(notifying, gateway.clock.now) == 1
    [got] = receiver.received
    assert got.headers["content-type"] == "application/x-www-form-urlencoded"
    form = form_of(got.body)
    assert set(form) == FIELDS
    assert verify(form, form["sign"], [KEY])
    refund = parse_notification(got.body, got.headers, KEY)
    assert refund.status is ClientStatus.SUCCEEDED
    assert refund.refund_order_id == answer["refundOrderId"]
    assert (refund.amount_cents, refund.currency, refund.channel_id) == (1999, "CAD", "ALIPAY_QR")
    assert form["backType"] == "2"
    assert form["refundSuccTime"] == str(answer["refundSuccTime"])
    assert await deliver_due(notifying, gateway.clock.now + 86_400_000) == 0
    assert len(receiver.received) == 1


async def test_a_failed_refund_reaches_the_merchant_as_status_3(
    gateway: Gateway, notifying: Deps, receiver: Receiver
) -> None:
    await gateway.add_order("ALI-F", "ALIPAY_QR", 5_000, outcome=SandboxOutcome.FAIL)
    answer = await gateway.refund(payOrderId="ALI-F", notifyUrl=receiver.url)
    assert answer["status"] == 3
    await deliver_due(notifying, gateway.clock.now)
    [got] = receiver.received
    refund = parse_notification(got.body, got.headers, KEY)
    assert refund.status is ClientStatus.FAILED
    assert "refundSuccTime" not in form_of(got.body)


async def test_a_processing_refund_is_not_notified(
    gateway: Gateway, notifying: Deps, receiver: Receiver
) -> None:
    await gateway.add_order("ALI-P", "ALIPAY_QR", 5_000, outcome=SandboxOutcome.PROCESSING)
    answer = await gateway.refund(payOrderId="ALI-P", notifyUrl=receiver.url)
    assert answer["status"] == 1
    assert await deliver_due(notifying, gateway.clock.now + 86_400_000) == 0
    assert receiver.received == []


@pytest.mark.parametrize("refusal", [(500, "error"), (200, "fail"), (302, ""), "slow"])
async def test_a_refused_notification_is_retried_15_seconds_later(
    gateway: Gateway, receiver: Receiver, refusal: object
) -> None:
    sender = build_sender(0.3, allow_private=False, allow_loopback=True)
    deps = replace(gateway.deps, notifier=sender)
    receiver.slow_s = 0.6
    receiver.script.append(refusal if refusal != (302, "") else "redirect")  # type: ignore[arg-type]
    try:
        await gateway.refund(notifyUrl=receiver.url)
        now = gateway.clock.now
        await deliver_due(deps, now)
        assert await deliver_due(deps, now + 14_999) == 0
        assert await deliver_due(deps, now + 15_000) == 1
    finally:
        await sender.aclose()
    first, second = receiver.received
    assert first.body == second.body  # the same signed notification, sent again
    log = await gateway.store.notification_deliveries()
    assert [record.attempt.outcome.value for record in log] == ["DELIVERED", "PENDING"]


async def test_a_merchant_that_is_down_is_retried_and_resend_delivers_at_once(
    gateway: Gateway, notifying: Deps
) -> None:
    receiver = Receiver(port=free_port())
    await gateway.refund(notifyUrl=receiver.url)  # nobody listens there yet
    await deliver_due(notifying, gateway.clock.now)
    [refused] = await gateway.store.notification_deliveries()
    assert refused.attempt.http_status is None
    assert refused.attempt.error
    assert refused.attempt.outcome.value == "PENDING"
    async with serving(receiver):  # the merchant is back; the operator does not wait 15 s
        [attempt] = await resend(notifying, refused.refund_order_id, gateway.clock.now + 1)
    assert attempt.outcome.value == "DELIVERED"
    assert len(receiver.received) == 1
    assert await deliver_due(notifying, gateway.clock.now + 86_400_000) == 0


async def test_two_workers_on_postgresql_never_send_one_notification_twice(
    gateway: Gateway, receiver: Receiver
) -> None:
    if gateway.backend.name != "postgresql":
        pytest.skip("the concurrency of leases is PostgreSQL's (SQLite has one writer)")
    receiver.delay_s = 0.02
    for number in range(40):
        await gateway.add_order(f"ALI-W{number}", "ALIPAY_QR", 1_000)
        await gateway.refund(mchRefundNo=f"N-{number}", payOrderId=f"ALI-W{number}",
                             notifyUrl=receiver.url)  # fmt: skip
    stores = [gateway.backend.open(), gateway.backend.open()]
    senders = [build_sender(2.0, allow_private=False, allow_loopback=True) for _ in stores]
    workers = [
        replace(gateway.deps, store=store, notifier=sender)
        for store, sender in zip(stores, senders, strict=True)
    ]
    try:
        for _ in range(4):
            await asyncio.gather(
                *(deliver_due(worker, gateway.clock.now, limit=7) for worker in workers)
            )
    finally:
        for store, sender in zip(stores, senders, strict=True):
            await sender.aclose()
            await store.close()
    ids = Counter(form_of(got.body)["refundOrderId"] for got in receiver.received)
    assert len(ids) == 40
    assert set(ids.values()) == {1}


async def test_notify_list_and_resend_from_the_command_line(
    tmp_path: Path, receiver: Receiver
) -> None:
    db = tmp_path / "cli.db"
    url = f"sqlite:///{db}"
    await asyncio.to_thread(upgrade, url)
    store = SqliteStore(url)
    try:
        await seed_merchants(store)
        await store.add_order(PayOrder(MCH_ID, "P1", "ALIPAY_QR", "CAD", 10_000, NOW_MS))
        request = RefundRequest(
            MCH_ID, "N1", "P1", 100, LOGIN, "127.0.0.1", notify_url=receiver.url
        )
        await store.reserve(RefundDraft(request, "RID1", NOW_MS))
        await store.transition("RID1", Transition(RefundStatus.SUCCEEDED, NOW_MS, "done"))
    finally:
        await store.close()
    env = clean_env(REFUNDGATE_DATABASE_URL=url)
    refused = await asyncio.to_thread(
        run_cli, "notify", "resend", "--refund-order-id", "RID1", cwd=tmp_path, env=env
    )
    assert "not delivered" in one_line_error(refused)
    assert "destination refused" in refused.stdout
    assert receiver.received == []
    allowed = await asyncio.to_thread(
        run_cli, "notify", "resend", "--refund-order-id", "RID1", cwd=tmp_path,
        env={**env, "REFUNDGATE_NOTIFY_ALLOW_PRIVATE": "true"},
    )  # fmt: skip
    assert allowed.returncode == 0, allowed.stderr
    assert "DELIVERED" in allowed.stdout
    assert len(receiver.received) == 1
    listed = await asyncio.to_thread(run_cli, "notify", "list", cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == 2
    assert "DELIVERED" in lines[0]
    assert "destination refused" in lines[1]
    sign = form_of(receiver.received[0].body)["sign"]
    assert KEY not in listed.stdout
    assert sign not in listed.stdout
    unknown = await asyncio.to_thread(
        run_cli, "notify", "resend", "--refund-order-id", "NOPE", cwd=tmp_path, env=env
    )
    assert "no notification for refund NOPE" in one_line_error(unknown)


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["1", "2"])
async def test_serve_notifies_the_merchant_of_a_refund_it_settled_by_itself(
    tmp_path: Path, servers: Servers, backend: Backend, receiver: Receiver, workers: str
) -> None:
    """No one acts: serve's reconciler settles a refund left pending, its notifier tells
    the merchant, once, whatever the number of server processes."""
    now = int(time.time() * 1000)
    store = backend.open()
    try:
        await store.migrate()
        await store.add_merchant(
            Merchant(MCH_ID, Secret(KEY), name="Test", notify_url=receiver.url), now=now
        )
        await store.add_operator(Operator(MCH_ID, LOGIN), now=now)
        await store.add_order(PayOrder(MCH_ID, "P1", "ALIPAY_QR", "CAD", 10_000, now - 60_000))
        request = RefundRequest(MCH_ID, "N1", "P1", 1_000, LOGIN, "127.0.0.1")
        await store.reserve(RefundDraft(request, "RID1", now - 120_000))  # never sent
    finally:
        await store.close()
    env = clean_env(
        REFUNDGATE_DATABASE_URL=backend.url,
        REFUNDGATE_JOBS="on",
        REFUNDGATE_NOTIFY_ALLOW_PRIVATE="true",  # the receiver is on loopback
    )
    # In a thread: the receiver is served by this test's event loop meanwhile.
    server = await asyncio.to_thread(servers.start, "--workers", workers, cwd=tmp_path, env=env)
    for _ in range(600):  # up to a minute on a loaded machine
        if await backend.fetch("SELECT 1 FROM notifications WHERE state = 'DELIVERED'"):
            break
        await asyncio.sleep(0.1)
    # Stopping lets any send in flight finish and be logged: a twin would show below.
    await asyncio.to_thread(servers.stop, server)
    assert len(await backend.fetch("SELECT * FROM notification_deliveries")) == 1
    [got] = receiver.received
    refund = parse_notification(got.body, got.headers, KEY)
    assert refund.refund_order_id == "RID1"
    assert refund.status is ClientStatus.SUCCEEDED
    rows = await backend.fetch("SELECT state, attempts FROM notifications")
    assert rows == [("DELIVERED", 1)]
    assert "Traceback" not in server.stderr()


def demo_refund(server: Server, key: str, order: str, number: str, url: str) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "mchId": "10000001", "mchRefundNo": number, "payOrderId": order, "refundAmount": "100",
        "loginName": "demo", "clientIp": "127.0.0.1", "notifyUrl": url,
    }  # fmt: skip
    fields["sign"] = sign(fields, key)
    body = {"params": json.dumps(fields, separators=(",", ":"))}
    answer: dict[str, Any] = httpx.post(
        f"{server.base_url}/v1/refund_order", data=body, timeout=30
    ).json()
    return answer


@pytest.mark.slow
async def test_the_default_run_notifies_a_loopback_receiver_of_every_final_state(
    tmp_path: Path, servers: Servers, receiver: Receiver
) -> None:
    """The embedded default allows loopback: a merchant's test receiver on this host hears
    a processing refund once it settles, and a refused one at once; nothing else."""
    env = clean_env(REFUNDGATE_JOBS="on", REFUNDGATE_CHANNEL_TIMEOUT="1")
    server = await asyncio.to_thread(servers.start, cwd=tmp_path, env=env)
    key = printed(server.stdout())["key"]
    processing, failed = [
        await asyncio.to_thread(demo_refund, server, key, order, number, receiver.url)
        for order, number in (("DEMO-ALI-PROC", "R-PROC"), ("DEMO-WX-FAIL", "R-FAIL"))
    ]
    assert (processing["status"], failed["status"]) == (1, 3)
    db = tmp_path / "refundgate.db"
    for _ in range(600):  # the simulator settles, the reconciler learns it, the notifier tells
        if rows(db, "SELECT count(*) FROM notifications WHERE state = 'DELIVERED'") == [(2,)]:
            break
        await asyncio.sleep(0.1)
    await asyncio.to_thread(servers.stop, server)
    heard = {}
    for got in receiver.received:
        refund = parse_notification(got.body, got.headers, key)
        heard[refund.refund_order_id] = refund.status
    assert len(receiver.received) == 2
    assert heard == {
        processing["refundOrderId"]: ClientStatus.SUCCEEDED,
        failed["refundOrderId"]: ClientStatus.FAILED,
    }
