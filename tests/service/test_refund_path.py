"""The refund use case against misbehaving channels: persist, then call, then apply."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from refundgate.domain import ChannelFamily, PayOrder, RefundRequest, RefundStatus
from refundgate.ports import (
    ChannelOutcome,
    ChannelRefund,
    ChannelResult,
    NotSent,
    OutcomeUnknown,
    StoreError,
    Transition,
)
from refundgate.service import Deps, request_refund
from refundgate.store.sqlite import SqliteStore
from tests.conftest import MCH_ID, NOW_MS, CountingIds, FakeClock, seed_merchants


class ScriptedChannel:
    """A connector that records each call and then does what it is told."""

    def __init__(self, behave: object) -> None:
        self.behave = behave
        self.calls: list[str] = []
        self.seen_in_db: list[tuple[str, str] | None] = []
        self.db_path: Path | None = None
        self.called = asyncio.Event()

    async def refund(self, request: ChannelRefund) -> ChannelOutcome:
        self.calls.append(request.refund.refund_order_id)
        self.called.set()
        if self.db_path is not None:
            with sqlite3.connect(self.db_path) as connection:
                self.seen_in_db.append(
                    connection.execute(
                        "SELECT refund_order_id, status FROM refunds WHERE refund_order_id = ?",
                        (request.refund.refund_order_id,),
                    ).fetchone()
                )
        if isinstance(self.behave, BaseException):
            raise self.behave
        if isinstance(self.behave, float):
            await asyncio.sleep(self.behave)
            return ChannelOutcome(ChannelResult.SUCCEEDED, channel_refund_id="LATE")
        assert isinstance(self.behave, ChannelOutcome)
        return self.behave

    async def query(self, request: ChannelRefund) -> ChannelOutcome:
        raise NotImplementedError


SUCCESS = ChannelOutcome(ChannelResult.SUCCEEDED, channel_refund_id="CH-1", code="SUCCESS")
REFUSED = ChannelOutcome(ChannelResult.FAILED, code="NOTENOUGH", message="balance too low")


def make_deps(store: SqliteStore, channel: ScriptedChannel, timeout: float = 5.0) -> Deps:
    channels = dict.fromkeys(ChannelFamily, channel)
    return Deps(store, channels, FakeClock(), CountingIds(), channel_timeout_s=timeout)


def request(number: str = "N1", amount: int = 1_000) -> RefundRequest:
    return RefundRequest(MCH_ID, number, "P1", amount, "vincent", "127.0.0.1")


def order_balances(db_path: Path) -> tuple[int, int]:
    with sqlite3.connect(db_path) as connection:
        row = connection.execute(
            "SELECT refunded_amount, reserved_amount FROM pay_orders WHERE pay_order_id = 'P1'"
        ).fetchone()
    return row[0], row[1]


@pytest.fixture
async def seeded(store: SqliteStore) -> SqliteStore:
    await seed_merchants(store)
    await store.add_order(PayOrder(MCH_ID, "P1", "WX_NATIVE", "CAD", 10_000, NOW_MS))
    return store


async def test_the_refund_is_committed_before_the_channel_hears_of_it(
    seeded: SqliteStore, db_path: Path
) -> None:
    channel = ScriptedChannel(SUCCESS)
    channel.db_path = db_path
    refund = await request_refund(make_deps(seeded, channel), request())
    assert channel.seen_in_db == [(refund.refund_order_id, "PENDING")]
    assert refund.status is RefundStatus.SUCCEEDED
    assert order_balances(db_path) == (1_000, 0)


@pytest.mark.parametrize(
    "trouble",
    [OutcomeUnknown("read timeout"), ConnectionResetError("reset"), RuntimeError("connector bug")],
)
async def test_an_answer_we_cannot_trust_leaves_the_refund_processing(
    seeded: SqliteStore, db_path: Path, trouble: BaseException
) -> None:
    refund = await request_refund(make_deps(seeded, ScriptedChannel(trouble)), request())
    assert refund.status is RefundStatus.PROCESSING
    assert order_balances(db_path) == (0, 1_000)


async def test_a_channel_that_does_not_answer_in_time_leaves_the_refund_processing(
    seeded: SqliteStore, db_path: Path
) -> None:
    deps = make_deps(seeded, ScriptedChannel(5.0), timeout=0.05)
    refund = await request_refund(deps, request())
    assert refund.status is RefundStatus.PROCESSING
    assert order_balances(db_path) == (0, 1_000)


async def test_a_request_that_never_left_stays_pending_and_reserved(
    seeded: SqliteStore, db_path: Path
) -> None:
    refund = await request_refund(make_deps(seeded, ScriptedChannel(NotSent("dns"))), request())
    assert refund.status is RefundStatus.PENDING
    assert order_balances(db_path) == (0, 1_000)


async def test_only_a_definitive_refusal_fails_and_releases_the_amount(
    seeded: SqliteStore, db_path: Path
) -> None:
    refund = await request_refund(make_deps(seeded, ScriptedChannel(REFUSED)), request())
    assert refund.status is RefundStatus.FAILED
    assert (refund.err_code, refund.err_msg) == ("NOTENOUGH", "balance too low")
    assert order_balances(db_path) == (0, 0)


async def test_a_replay_never_reaches_the_channel(seeded: SqliteStore) -> None:
    channel = ScriptedChannel(SUCCESS)
    deps = make_deps(seeded, channel)
    first = await request_refund(deps, request())
    again = await request_refund(deps, request())
    assert again.refund_order_id == first.refund_order_id
    assert channel.calls == [first.refund_order_id]


async def test_concurrent_twins_reach_the_channel_once(seeded: SqliteStore) -> None:
    channel = ScriptedChannel(SUCCESS)
    deps = make_deps(seeded, channel)
    refunds = await asyncio.gather(*(request_refund(deps, request()) for _ in range(20)))
    assert len({refund.refund_order_id for refund in refunds}) == 1
    assert len(channel.calls) == 1


async def test_a_client_that_goes_away_does_not_orphan_a_sent_refund(
    seeded: SqliteStore, db_path: Path
) -> None:
    channel = ScriptedChannel(0.2)
    task = asyncio.create_task(request_refund(make_deps(seeded, channel), request()))
    await asyncio.wait_for(channel.called.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(100):
        if order_balances(db_path) == (1_000, 0):
            break
        await asyncio.sleep(0.02)
    assert order_balances(db_path) == (1_000, 0)


class FailingTransitions:
    """The real store, except that recording an outcome fails."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    async def transition(
        self, refund_order_id: str, change: Transition, *, known: object = None
    ) -> object:
        raise StoreError("disk full")


async def test_an_outcome_that_cannot_be_recorded_is_reported_pending_not_failed(
    seeded: SqliteStore, db_path: Path
) -> None:
    deps = replace(make_deps(seeded, ScriptedChannel(SUCCESS)), store=FailingTransitions(seeded))  # type: ignore[arg-type]
    refund = await request_refund(deps, request())
    assert refund.status is RefundStatus.PENDING
    assert order_balances(db_path) == (0, 1_000)


async def test_the_channels_answer_is_kept_in_the_event(seeded: SqliteStore, db_path: Path) -> None:
    refund = await request_refund(make_deps(seeded, ScriptedChannel(REFUSED)), request())
    with sqlite3.connect(db_path) as connection:
        kinds_and_details = connection.execute(
            "SELECT kind, to_status, detail FROM refund_events WHERE refund_order_id = ?"
            " ORDER BY event_id",
            (refund.refund_order_id,),
        ).fetchall()
    assert [(kind, status) for kind, status, _ in kinds_and_details] == [
        ("requested", "PENDING"),
        ("status", "FAILED"),
    ]
    assert kinds_and_details[0][2] is None
    # Stored as JSON text, keys sorted: its spacing is not part of the record.
    stored = kinds_and_details[1][2]
    assert json.loads(stored) == {
        "code": "NOTENOUGH",
        "message": "balance too low",
        "result": "FAILED",
    }
    assert list(json.loads(stored)) == sorted(json.loads(stored))
