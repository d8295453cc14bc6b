"""The notifier: signed forms, the retry schedule, giving up, resending, bad rows."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import pytest
from structlog.testing import capture_logs

from refundgate.client import RefundStatus as ClientStatus
from refundgate.client import parse_notification
from refundgate.domain import PayOrder, RefundDraft, RefundRequest, RefundStatus
from refundgate.ports import DeliveryResult, NotificationState, Transition
from refundgate.protocol import verify
from refundgate.service import Deps
from refundgate.service.notifications import (
    RETRY_DELAYS_MS,
    NotificationNotFound,
    deliver_due,
    resend,
)
from refundgate.store.sqlite import SqliteStore
from tests.conftest import KEY, LOGIN, MCH_ID, NOW_MS, CountingIds, FakeClock, seed_merchants

URL = "https://merchant.example/notify"
OK = DeliveryResult(status_code=200, body="success")
REFUSED = DeliveryResult(status_code=500, body="oops")


@dataclass
class FakeSender:
    """Records each form sent; answers from a script, then with ``default``."""

    script: list[DeliveryResult | Exception] = field(default_factory=list)
    default: DeliveryResult = OK
    sent: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    async def send(self, url: str, form: Mapping[str, str]) -> DeliveryResult:
        self.sent.append((url, dict(form)))
        reply = self.script.pop(0) if self.script else self.default
        if isinstance(reply, Exception):
            raise reply
        return reply

    async def aclose(self) -> None:
        pass


@dataclass
class World:
    deps: Deps
    sender: FakeSender
    clock: FakeClock
    store: SqliteStore
    db_path: Path

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        with sqlite3.connect(self.db_path) as connection:
            return connection.execute(sql).fetchall()


@pytest.fixture
async def world(store: SqliteStore, db_path: Path) -> World:
    await seed_merchants(store)
    await store.add_order(PayOrder(MCH_ID, "P1", "ALIPAY_QR", "CAD", 10_000, NOW_MS))
    sender = FakeSender()
    clock = FakeClock()
    deps = Deps(store=store, channels={}, clock=clock, ids=CountingIds(), notifier=sender)
    return World(deps, sender, clock, store, db_path)


async def finish(
    world: World, rid: str, status: RefundStatus = RefundStatus.SUCCEEDED, url: str | None = URL
) -> None:
    request = RefundRequest(MCH_ID, f"N-{rid}", "P1", 1_999, LOGIN, "127.0.0.1", notify_url=url)
    await world.store.reserve(RefundDraft(request, rid, NOW_MS))
    await world.store.transition(rid, Transition(RefundStatus.PROCESSING, NOW_MS, "sent"))
    await world.store.transition(
        rid,
        Transition(status, NOW_MS + 7, "channel said so", channel_refund_id=f"CH-{rid}"),
    )


def body_of(form: dict[str, str]) -> str:
    return urlencode(form)


async def test_a_succeeded_refund_is_notified_with_every_field_signed(world: World) -> None:
    await finish(world, "R1")
    assert await deliver_due(world.deps, NOW_MS + 7) == 1
    [(url, form)] = world.sender.sent
    assert url == URL
    assert form == {
        "refundOrderId": "R1",
        "mchId": MCH_ID,
        "mchRefundNo": "N-R1",
        "payOrderId": "P1",
        "channelId": "ALIPAY_QR",
        "refundAmount": "1999",
        "currency": "CAD",
        "status": "2",
        "channelOrderNo": "CH-R1",
        "refundSuccTime": str(NOW_MS + 7),
        "backType": "2",
        "sign": form["sign"],
    }
    assert verify(form, form["sign"], [KEY])
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    parsed = parse_notification(body_of(form), headers, KEY)
    assert parsed.status is ClientStatus.SUCCEEDED
    assert parsed.amount_cents == 1_999


async def test_a_failed_refund_is_notified_with_status_3_and_no_success_time(
    world: World,
) -> None:
    await finish(world, "R1", RefundStatus.FAILED)
    await deliver_due(world.deps, NOW_MS + 7)
    [(_, form)] = world.sender.sent
    assert form["status"] == "3"
    assert "refundSuccTime" not in form  # empty: neither sent nor signed
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert parse_notification(body_of(form), headers, KEY).status is ClientStatus.FAILED


async def test_a_refund_without_a_notify_url_has_nothing_to_deliver(world: World) -> None:
    await finish(world, "R1", url=None)  # and the merchant has no default URL
    assert await deliver_due(world.deps, NOW_MS + 7) == 0
    assert world.sender.sent == []


async def test_an_acknowledged_notification_is_delivered_once(world: World) -> None:
    await finish(world, "R1")
    await deliver_due(world.deps, NOW_MS + 7)
    assert await deliver_due(world.deps, NOW_MS + 10 * 86_400_000) == 0
    assert len(world.sender.sent) == 1
    assert world.rows("SELECT state, attempts FROM notifications") == [("DELIVERED", 1)]


async def test_nothing_is_sent_before_it_is_due(world: World) -> None:
    await finish(world, "R1")
    assert await deliver_due(world.deps, NOW_MS + 6) == 0


async def test_failures_follow_the_schedule_then_give_up_with_an_alert(world: World) -> None:
    world.sender.default = REFUSED
    await finish(world, "R1")
    now, times = NOW_MS + 7, []
    with capture_logs() as logs:
        for _ in range(len(RETRY_DELAYS_MS) + 1):
            assert await deliver_due(world.deps, now - 1) == 0  # never early
            assert await deliver_due(world.deps, now) == 1
            times.append(now)
            [(next_at,)] = world.rows("SELECT next_attempt_at FROM notifications")
            now = int(next_at)  # type: ignore[call-overload]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    minutes = [15 / 60, 15 / 60, 30 / 60, 3, 10, 20, 30, 30, 30, 60, 180, 180, 180, 360, 360]
    assert gaps == [round(m * 60_000) for m in minutes]  # PROTOCOL.md's schedule
    assert sum(gaps) == 86_640_000  # about 24 h
    assert world.rows("SELECT state, attempts FROM notifications") == [("GAVE_UP", 16)]
    assert await deliver_due(world.deps, now + 365 * 86_400_000) == 0
    alerts = [entry for entry in logs if entry["event"] == "notification_given_up"]
    assert len(alerts) == 1
    assert alerts[0]["log_level"] == "error"
    assert alerts[0]["state"] == "GAVE_UP"
    assert alerts[0]["refund_order_id"] == "R1"
    assert KEY not in repr(logs)


async def test_a_success_after_failures_stops_the_retries(world: World) -> None:
    world.sender.script = [REFUSED, DeliveryResult(None, error="timeout"), OK]
    await finish(world, "R1")
    now = NOW_MS + 7
    for delay in (0, 15_000, 15_000):
        now += delay
        await deliver_due(world.deps, now)
    assert world.rows("SELECT state, attempts FROM notifications") == [("DELIVERED", 3)]
    log = await world.store.notification_deliveries("R1")
    assert [(r.attempt.attempt, r.attempt.outcome) for r in log] == [
        (3, NotificationState.DELIVERED),
        (2, NotificationState.PENDING),
        (1, NotificationState.PENDING),
    ]
    assert log[1].attempt.error == "timeout"
    assert log[2].attempt.http_status == 500


async def test_an_operator_resends_a_given_up_notification(world: World) -> None:
    world.sender.default = REFUSED
    await finish(world, "R1")
    with sqlite3.connect(world.db_path) as connection:
        connection.execute("UPDATE notifications SET state = 'GAVE_UP', attempts = 16")
    world.sender.default = OK
    attempts = await resend(world.deps, "R1", NOW_MS + 99)
    assert [(a.attempt, a.outcome) for a in attempts] == [(1, NotificationState.DELIVERED)]
    assert len(world.sender.sent) == 1
    assert world.rows("SELECT state, attempts FROM notifications") == [("DELIVERED", 1)]


async def test_a_resend_that_fails_starts_a_fresh_schedule(world: World) -> None:
    await finish(world, "R1")
    await deliver_due(world.deps, NOW_MS + 7)  # delivered
    world.sender.default = REFUSED
    [attempt] = await resend(world.deps, "R1", NOW_MS + 100)
    assert attempt.outcome is NotificationState.PENDING
    assert world.rows("SELECT state, attempts, next_attempt_at FROM notifications") == [
        ("PENDING", 1, NOW_MS + 100 + RETRY_DELAYS_MS[0])
    ]


async def test_resending_an_unknown_refund_says_so(world: World) -> None:
    with pytest.raises(NotificationNotFound):
        await resend(world.deps, "NOPE", NOW_MS)
    assert world.sender.sent == []


async def test_bad_rows_are_recorded_as_failed_attempts_and_the_others_go_out(
    world: World,
) -> None:
    await finish(world, "R1")
    await finish(world, "R2")
    await finish(world, "R3")
    with sqlite3.connect(world.db_path) as connection:
        connection.execute(
            "UPDATE notifications SET refund_status = 'BOGUS' WHERE refund_order_id = 'R1'"
        )
        connection.execute(
            "INSERT INTO notifications (refund_order_id, mch_id, notify_url, refund_status,"
            " state, next_attempt_at, created_at)"
            " VALUES ('GONE', ?, ?, 'SUCCEEDED', 'PENDING', ?, ?)",
            (MCH_ID, URL, NOW_MS, NOW_MS),
        )
    world.sender.script = [RuntimeError("sender bug")]  # the first form sent (R2) blows up
    with capture_logs() as logs:
        assert await deliver_due(world.deps, NOW_MS + 7) == 4
    assert [form["refundOrderId"] for _, form in world.sender.sent] == ["R2", "R3"]
    states = dict(world.rows("SELECT refund_order_id, state FROM notifications"))  # type: ignore[arg-type]
    assert states == {"R1": "PENDING", "R2": "PENDING", "R3": "DELIVERED", "GONE": "PENDING"}
    errors = {
        r.refund_order_id: r.attempt.error for r in await world.store.notification_deliveries()
    }
    assert "unknown refund status" in str(errors["R1"])
    assert "no longer exists" in str(errors["GONE"])
    assert any(entry["event"] == "notification_failed" for entry in logs)


async def test_without_a_sender_nothing_is_delivered(world: World) -> None:
    await finish(world, "R1")
    deps = Deps(store=world.store, channels={}, clock=world.clock, ids=CountingIds())
    assert await deliver_due(deps, NOW_MS + 7) == 0
    assert world.rows("SELECT state, attempts FROM notifications") == [("PENDING", 0)]
