"""G1 and G2 across processes: several gateways on one database, under concurrent load.

On each store (one SQLite file; one PostgreSQL database), two ``refundgate
serve`` processes on two ports (and, in the other variant, one ``serve
--workers 2``) share the database and one sandbox ledger. Over two hundred
requests are fired at once, spread over the servers:

* (a) 80 distinct refund numbers each asking 150 of a 10 000 Alipay order: 66 fit;
* (b) one refund number sent 40 times at once: one refund;
* (c) the second merchant using the *same* refund numbers on its own order: its own
  namespace, 6 of 30 × 1 500 fit;
* (d) 10 refunds of one WeChat order: its one-minute spacing lets exactly one through;
* (e) 8 × 1 500 of an order whose channel times out: 6 reserved and left processing;
* (f) 6 × 3 000 of an order whose channel refuses: failed ones release their amount;
* (g) one refund number sent 20 times at once, each time for another amount: one
  refund, the 19 others told the number is taken.

Then the database, the ledger of channel calls and every answer are checked.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from refundgate.domain.model import PayOrder, SandboxOutcome
from refundgate.protocol import verify
from refundgate.sandbox import SandboxLedger
from tests.backends import Backend
from tests.conftest import (
    KEY,
    MCH_ID,
    OTHER_KEY,
    OTHER_MCH_ID,
    params_body,
    refund_fields,
    seed_merchants,
    signed_fields,
)
from tests.e2e.support import Servers, clean_env

pytestmark = pytest.mark.slow

HOLDING = ("PENDING", "PROCESSING", "REVIEW")
REQUEST_TIMEOUT_S = 30.0
LOAD_TIMEOUT_S = 45.0

#: (mch_id, pay_order_id, channel_id, amount, sandbox outcome)
ORDERS = (
    (MCH_ID, "ALI-1", "ALIPAY_QR", 10_000, None),
    (MCH_ID, "ALI-2", "ALIPAY_QR", 10_000, None),
    (OTHER_MCH_ID, "OTHER-1", "ALIPAY_QR", 10_000, None),
    (MCH_ID, "WX-1", "WX_NATIVE", 10_000, None),
    (MCH_ID, "UPI-T", "UPI_SEQ", 10_000, SandboxOutcome.TIMEOUT),
    (MCH_ID, "ALI-F", "ALIPAY_QR", 10_000, SandboxOutcome.FAIL),
    (MCH_ID, "ALI-3", "ALIPAY_QR", 10_000, None),
)


@dataclass(frozen=True)
class Call:
    """One request to fire: which group it belongs to and what it says."""

    group: str
    mch_id: str
    key: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class Reply:
    call: Call
    server: str
    status_code: int
    answer: dict[str, Any]


def calls() -> list[Call]:
    def call(group: str, pay_order_id: str, number: str, amount: int) -> Call:
        fields = refund_fields(
            mchRefundNo=number, payOrderId=pay_order_id, refundAmount=str(amount)
        )
        return Call(group, MCH_ID, KEY, fields)

    planned = [call("a", "ALI-1", f"A-{i:02d}", 150) for i in range(80)]
    planned += [call("b", "ALI-2", "RETRY-1", 700) for _ in range(40)]
    planned += [
        Call(
            "c",
            OTHER_MCH_ID,
            OTHER_KEY,
            refund_fields(
                mchId=OTHER_MCH_ID,
                loginName="olga",
                mchRefundNo=f"A-{i:02d}",
                payOrderId="OTHER-1",
                refundAmount="1500",
            ),
        )
        for i in range(30)
    ]
    planned += [call("d", "WX-1", f"W-{i:02d}", 100) for i in range(10)]
    planned += [call("e", "UPI-T", f"T-{i:02d}", 1500) for i in range(8)]
    planned += [call("f", "ALI-F", f"F-{i:02d}", 3000) for i in range(6)]
    planned += [call("g", "ALI-3", "CONFLICT-1", 100 + i) for i in range(20)]
    random.Random(20260101).shuffle(planned)
    return planned


async def seed(backend: Backend) -> None:
    store = backend.open()
    try:
        await store.migrate()
        now = int(time.time() * 1000)
        await seed_merchants(store, now=now)
        for mch_id, pay_order_id, channel_id, amount, outcome in ORDERS:
            order = PayOrder(
                mch_id=mch_id,
                pay_order_id=pay_order_id,
                channel_id=channel_id,
                currency="CAD",
                amount=amount,
                paid_at=now - 60_000,
                sandbox_outcome=outcome,
            )
            await store.add_order(order)
    finally:
        await store.close()


async def fire(base_urls: list[str], planned: list[Call]) -> list[Reply]:
    """Send every call at once, round robin over ``base_urls``."""
    limits = httpx.Limits(max_connections=len(planned), max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT_S, limits=limits) as client:

        async def send(index: int, call: Call) -> Reply:
            base_url = base_urls[index % len(base_urls)]
            response = await client.post(
                f"{base_url}/v1/refund_order",
                content=params_body(signed_fields(call.fields, call.key)),
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
            try:
                answer = response.json()
            except ValueError:
                answer = {"unparsable": response.text}
            return Reply(call, base_url, response.status_code, answer)

        async with asyncio.timeout(LOAD_TIMEOUT_S):
            return await asyncio.gather(*(send(i, call) for i, call in enumerate(planned)))


def by_group(replies: list[Reply]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for reply in replies:
        groups[reply.call.group].append(reply.answer)
    return groups


def outcomes(answers: list[dict[str, Any]]) -> Counter[tuple[str, Any, Any]]:
    """How many answers of each (resCode, status, errCode)."""
    return Counter((a.get("resCode"), a.get("status"), a.get("errCode")) for a in answers)


def check_transport(replies: list[Reply]) -> None:
    """Every answer HTTP 200, retCode SUCCESS and signed with its merchant's key."""
    bad = [
        (reply.server, reply.status_code, reply.answer)
        for reply in replies
        if reply.status_code != 200 or reply.answer.get("retCode") != "SUCCESS"
    ]
    locked = sum("SYSTEMERROR" in repr(answer) for _, _, answer in bad)
    assert not bad, f"{len(bad)} of {len(replies)} answers failed ({locked} SYSTEMERROR): {bad[:5]}"
    unsigned = [r.answer for r in replies if not verify(r.answer, r.answer["sign"], [r.call.key])]
    assert not unsigned, unsigned[:3]


async def check_balances(backend: Backend) -> None:
    """G1 from the database: for every order, refunds in flight or done fit in its amount,
    and its balance columns equal the sums of its refunds by state."""
    orders = await backend.fetch(
        "SELECT mch_id, pay_order_id, amount, refunded_amount, reserved_amount, refund_count"
        " FROM pay_orders"
    )
    assert len(orders) == len(ORDERS)
    for mch_id, pay_order_id, amount, refunded, reserved, count in orders:
        by_status = await backend.fetch(
            "SELECT status, sum(amount), count(*) FROM refunds"
            " WHERE mch_id = ? AND pay_order_id = ? GROUP BY status",
            mch_id,
            pay_order_id,
        )
        sums = {status: int(total) for status, total, _ in by_status}
        live = sum(n for status, _, n in by_status if status != "FAILED")
        held = sum(sums.get(status, 0) for status in HOLDING)
        succeeded = sums.get("SUCCEEDED", 0)
        where = f"{mch_id}/{pay_order_id}: {sums}"
        assert held + succeeded <= amount, f"G1 broken for {where}"
        assert refunded == succeeded, f"refunded_amount {refunded} != {where}"
        assert reserved == held, f"reserved_amount {reserved} != {where}"
        assert count == live, f"refund_count {count} != {live} live refunds of {where}"


async def check_numbers(backend: Backend) -> None:
    """G2 from the database: one refund per (merchant, refund number)."""
    twice = await backend.fetch(
        "SELECT mch_id, mch_refund_no, count(*) FROM refunds"
        " GROUP BY mch_id, mch_refund_no HAVING count(*) > 1"
    )
    assert twice == []


async def check_ledger(backend: Backend, ledger: Path, replies: list[Reply]) -> None:
    """Each refund reached its channel exactly once; refused requests never did."""
    stored = {
        row[0]: (row[1], int(row[2]), row[3])
        for row in await backend.fetch(
            "SELECT refund_order_id, pay_order_id, amount, currency FROM refunds"
        )
    }
    sent = [call for call in SandboxLedger.read(ledger) if call.operation == "refund"]
    counted = Counter(call.refund_order_id for call in sent)
    assert set(counted) == set(stored), (set(counted) ^ set(stored), counted)
    assert [rid for rid, n in counted.items() if n != 1] == []
    for call in sent:
        assert (call.pay_order_id, call.amount, call.currency) == stored[call.refund_order_id]
    answered = {r.answer["refundOrderId"] for r in replies if "refundOrderId" in r.answer}
    assert answered == set(stored)
    refused = [r for r in replies if "refundOrderId" not in r.answer]
    for reply in refused:
        assert reply.answer["resCode"] == "FAIL", reply.answer
        taken_by_another = reply.answer.get("errCode") == "MCH_REFUND_NO_CONFLICT"
        found = await backend.fetch(
            "SELECT amount FROM refunds WHERE mch_id = ? AND mch_refund_no = ?",
            reply.call.mch_id,
            reply.call.fields["mchRefundNo"],
        )
        if taken_by_another:  # the number holds another request's refund, not this one
            assert [int(row[0]) for row in found] != [int(reply.call.fields["refundAmount"])]
        else:
            assert found == [], reply.answer


async def refund_states(backend: Backend, mch_id: str, pay_order_id: str) -> Counter[str]:
    found = await backend.fetch(
        "SELECT status FROM refunds WHERE mch_id = ? AND pay_order_id = ?", mch_id, pay_order_id
    )
    return Counter(row[0] for row in found)


async def check_groups(backend: Backend, replies: list[Reply]) -> None:
    groups = by_group(replies)

    # (a) over-asking: exactly 66 × 150 of 10 000 succeed, the others are refused.
    assert outcomes(groups["a"]) == {
        ("SUCCESS", 2, None): 66,
        ("FAIL", None, "REFUND_AMOUNT_EXCEEDED"): 14,
    }
    assert await refund_states(backend, MCH_ID, "ALI-1") == {"SUCCEEDED": 66}
    assert await backend.balances("ALI-1") == (9_900, 0, 66)

    # (b) one number retried 40 times at once: one refund, one id in every answer.
    retried = groups["b"]
    assert {answer["resCode"] for answer in retried} == {"SUCCESS"}
    assert len({answer["refundOrderId"] for answer in retried}) == 1
    assert await backend.fetch(
        "SELECT refund_order_id, status, amount FROM refunds"
        " WHERE mch_id = ? AND mch_refund_no = ?",
        MCH_ID,
        "RETRY-1",
    ) == [(retried[0]["refundOrderId"], "SUCCEEDED", 700)]
    assert await refund_states(backend, MCH_ID, "ALI-2") == {"SUCCEEDED": 1}

    # (c) the other merchant's numbers are its own: 6 × 1 500 fit in 10 000.
    assert outcomes(groups["c"]) == {
        ("SUCCESS", 2, None): 6,
        ("FAIL", None, "REFUND_AMOUNT_EXCEEDED"): 24,
    }
    assert await refund_states(backend, OTHER_MCH_ID, "OTHER-1") == {"SUCCEEDED": 6}
    assert all(answer["mchId"] == OTHER_MCH_ID for answer in groups["c"])

    # (d) WeChat: refunds of one order at least a minute apart, across processes too.
    assert outcomes(groups["d"]) == {
        ("SUCCESS", 2, None): 1,
        ("FAIL", None, "REFUND_LIMIT_EXCEEDED"): 9,
    }
    assert await refund_states(backend, MCH_ID, "WX-1") == {"SUCCEEDED": 1}

    # (e) a channel timeout leaves the refund processing and its amount reserved.
    assert outcomes(groups["e"]) == {
        ("SUCCESS", 1, None): 6,
        ("FAIL", None, "REFUND_AMOUNT_EXCEEDED"): 2,
    }
    assert await refund_states(backend, MCH_ID, "UPI-T") == {"PROCESSING": 6}

    # (f) definitive refusals release their reservation: at least 3 were let through.
    refusals = outcomes(groups["f"])
    assert set(refusals) <= {
        ("FAIL", 3, "CHANNEL_REJECTED"),
        ("FAIL", None, "REFUND_AMOUNT_EXCEEDED"),
    }, refusals
    rejected = refusals[("FAIL", 3, "CHANNEL_REJECTED")]
    assert rejected >= 3
    assert await refund_states(backend, MCH_ID, "ALI-F") == {"FAILED": rejected}

    # (g) one number, twenty amounts at once: the first one in wins, the rest conflict.
    assert outcomes(groups["g"]) == {
        ("SUCCESS", 2, None): 1,
        ("FAIL", None, "MCH_REFUND_NO_CONFLICT"): 19,
    }
    winner = next(a for a in groups["g"] if a["resCode"] == "SUCCESS")
    assert await backend.balances("ALI-3") == (int(winner["refundAmount"]), 0, 1)


def check_logs(servers_logs: list[str]) -> None:
    """No process reported an unavailable store or an unexpected error."""
    for log in servers_logs:
        assert "store_unavailable" not in log, log
        assert "unexpected_error" not in log, log
        assert "database is locked" not in log, log
        assert "Traceback" not in log, log


@pytest.mark.parametrize("layout", ["two processes", "one process with two workers"])
async def test_concurrent_refunds_across_processes_keep_g1_and_g2(
    tmp_path: Path, servers: Servers, backend: Backend, layout: str
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    await seed(backend)
    env = clean_env(REFUNDGATE_DATABASE_URL=backend.url, REFUNDGATE_SANDBOX_LEDGER=str(ledger))
    work = tmp_path / "work"
    work.mkdir()
    if layout == "two processes":
        started = [servers.start(cwd=work, env=env) for _ in range(2)]
    else:
        started = [servers.start("--workers", "2", cwd=work, env=env)]
    base_urls = [server.base_url for server in started]
    assert all(server.stdout() == "" for server in started)  # nothing seeded

    replies = await fire(base_urls, calls())

    check_transport(replies)
    await check_groups(backend, replies)
    await check_balances(backend)
    await check_numbers(backend)
    await check_ledger(backend, ledger, replies)
    for server in started:
        servers.stop(server)
    check_logs([server.stderr() for server in started])
    if layout == "two processes":
        for server in started:  # both processes did part of the work
            assert server.stderr().count("event='answered'") > 0
