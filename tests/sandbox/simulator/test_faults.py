"""The fault book counts down, per trade before per request, and shapes answers."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from refundgate.sandbox.simulator import GARBAGE, Fault, FaultBook, FaultEntry, Operation
from tests.sandbox.simulator.toy import ToyChannel


def test_a_fault_is_used_times_times_then_gone() -> None:
    book = FaultBook()
    book.file(FaultEntry(Fault.HTTP_500, 2, "T1"))

    taken = [book.take("T1", Operation.REFUND) for _ in range(3)]

    assert [t.fault if t else None for t in taken] == [Fault.HTTP_500, Fault.HTTP_500, None]
    assert book.pending() == []


def test_a_trades_fault_does_not_touch_another_trade() -> None:
    book = FaultBook()
    book.file(FaultEntry(Fault.TIMEOUT, 1, "T1"))

    assert book.take("T2", Operation.REFUND) is None
    assert book.take("T1", Operation.REFUND) is not None


def test_a_trades_own_fault_comes_before_a_request_wide_one() -> None:
    book = FaultBook()
    book.file(FaultEntry(Fault.GARBAGE, 1))
    book.file(FaultEntry(Fault.TIMEOUT, 1, "T1"))

    first, second = book.take("T1", Operation.REFUND), book.take("T1", Operation.REFUND)

    assert (first and first.fault, second and second.fault) == (Fault.TIMEOUT, Fault.GARBAGE)


def test_a_request_wide_fault_hits_the_next_requests_of_its_operation_only() -> None:
    book = FaultBook()
    book.file(FaultEntry(Fault.HTTP_500, 1, operation=Operation.QUERY))

    assert book.take("T1", Operation.REFUND) is None
    assert book.take(None, Operation.QUERY) is not None


def test_an_any_fault_hits_every_operation() -> None:
    book = FaultBook()
    book.file(FaultEntry(Fault.HTTP_500, 2, operation=Operation.ANY))

    assert book.take("T1", Operation.REFUND) is not None
    assert book.take("T1", Operation.QUERY) is not None
    assert book.take("T1", Operation.QUERY) is None


def test_zero_times_is_refused() -> None:
    with pytest.raises(ValueError, match="times"):
        FaultBook().file(FaultEntry(Fault.HTTP_500, 0))


def test_concurrent_takers_never_use_a_fault_more_than_filed() -> None:
    book = FaultBook()
    book.file(FaultEntry(Fault.TIMEOUT, 50))

    taken = [book.take(f"T{i}", Operation.REFUND) for i in range(80)]

    assert sum(1 for t in taken if t is not None) == 50


async def _trade(client: httpx.AsyncClient, fault: str | None = None, **extra: object) -> None:
    await client.post("/_control/trades", json={"out_trade_no": "T1", "amount": 1000})
    if fault:
        await client.post("/_control/faults", json={"out_trade_no": "T1", "fault": fault, **extra})


async def _refund(client: httpx.AsyncClient, refund_no: str = "R1") -> httpx.Response:
    return await client.post(
        "/refund", json={"out_trade_no": "T1", "refund_no": refund_no, "amount": 100}
    )


async def test_http_500_answers_500_and_commits_nothing(
    client: httpx.AsyncClient, toy: ToyChannel
) -> None:
    await _trade(client, "http_500")

    response = await _refund(client)

    assert response.status_code == 500
    assert toy.sim.ledger.refunds() == []


async def test_garbage_commits_and_answers_garbage(
    client: httpx.AsyncClient, toy: ToyChannel
) -> None:
    await _trade(client, "garbage")

    response = await _refund(client)

    assert response.content == GARBAGE
    assert len(toy.sim.ledger.refunds()) == 1


async def test_bad_signature_commits_and_lets_the_channel_spoil_its_signature(
    client: httpx.AsyncClient, toy: ToyChannel
) -> None:
    await _trade(client, "bad_signature")

    response = await _refund(client)

    assert response.json()["sig"] == "evil"
    assert len(toy.sim.ledger.refunds()) == 1


async def test_timeout_commits_then_holds_the_answer_past_the_deadline(
    client: httpx.AsyncClient, toy: ToyChannel
) -> None:
    await _trade(client, "timeout")

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await _refund(client)

    assert len(toy.sim.ledger.refunds()) == 1


async def test_reject_uses_the_code_it_was_given(client: httpx.AsyncClient) -> None:
    await _trade(client, "reject", code="NOTENOUGH")

    response = await _refund(client)

    assert response.json() == {"code": "NOTENOUGH"}


async def test_the_fault_is_spent_and_the_next_request_is_normal(
    client: httpx.AsyncClient,
) -> None:
    await _trade(client, "http_500")
    await _refund(client)

    response = await _refund(client)

    assert response.json()["code"] == "OK"
