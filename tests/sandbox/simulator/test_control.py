"""The control API: trades, faults, refunds, credentials; bad input changes nothing."""

from __future__ import annotations

import httpx
import pytest

from tests.sandbox.simulator.toy import ToyChannel


async def test_a_trade_is_created_with_the_channels_own_number(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/_control/trades", json={"out_trade_no": "T1", "amount": 1000, "currency": "CNY"}
    )

    assert response.status_code == 201
    assert response.json()["trade_no"] == "TOY000001"
    assert response.json()["amount"] == 1000


async def test_currency_defaults_to_cny(client: httpx.AsyncClient) -> None:
    response = await client.post("/_control/trades", json={"out_trade_no": "T1", "amount": 5})

    assert response.json()["currency"] == "CNY"


async def test_a_duplicate_trade_is_a_conflict_and_keeps_the_first(
    client: httpx.AsyncClient, toy: ToyChannel
) -> None:
    await client.post("/_control/trades", json={"out_trade_no": "T1", "amount": 1000})

    response = await client.post("/_control/trades", json={"out_trade_no": "T1", "amount": 9})

    assert response.status_code == 409
    trade = toy.sim.ledger.trade("T1")
    assert trade is not None
    assert trade.amount == 1000


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b'{"amount": 1000}',
        b'{"out_trade_no": "T1"}',
        b'{"out_trade_no": "T1", "amount": "1000"}',
        b'{"out_trade_no": "T1", "amount": 10.5}',
        b'{"out_trade_no": "T1", "amount": true}',
        b'{"out_trade_no": "T1", "amount": 0}',
        b'{"out_trade_no": "T1", "amount": -1}',
        b'{"out_trade_no": "", "amount": 1}',
        b'{"out_trade_no": "T 1", "amount": 1}',
        b'{"out_trade_no": 7, "amount": 1}',
        b'{"out_trade_no": "T1", "amount": 1, "currency": "cny"}',
        b'{"out_trade_no": "T1", "amount": 1, "paid_at": "2026-01-01T00:00:00"}',
        b'{"out_trade_no": "T1", "amount": 1, "paid_at": "yesterday"}',
        b"\xff\xfe",
    ],
)
async def test_a_bad_trade_request_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, toy: ToyChannel, body: bytes
) -> None:
    response = await client.post("/_control/trades", content=body)

    assert response.status_code == 400
    assert "error" in response.json()
    assert toy.sim.ledger.trade_count() == 0


async def test_a_trade_can_be_backdated(client: httpx.AsyncClient, toy: ToyChannel) -> None:
    paid_at = "2024-05-01T10:00:00+08:00"
    await client.post(
        "/_control/trades", json={"out_trade_no": "OLD", "amount": 1, "paid_at": paid_at}
    )

    trade = toy.sim.ledger.trade("OLD")
    assert trade is not None
    assert trade.paid_at.isoformat() == paid_at


async def test_a_fault_is_filed_for_a_known_trade(client: httpx.AsyncClient) -> None:
    await client.post("/_control/trades", json={"out_trade_no": "T1", "amount": 1000})

    response = await client.post(
        "/_control/faults", json={"out_trade_no": "T1", "fault": "timeout", "times": 2}
    )

    assert response.status_code == 201
    listed = (await client.get("/_control/faults")).json()
    assert [(f["fault"], f["times"], f["out_trade_no"]) for f in listed] == [("timeout", 2, "T1")]


async def test_a_fault_for_an_unknown_trade_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/_control/faults", json={"out_trade_no": "NOPE", "fault": "reject"}
    )

    assert response.status_code == 404
    assert (await client.get("/_control/faults")).json() == []


@pytest.mark.parametrize(
    "payload",
    [
        {"fault": "explode"},
        {},
        {"fault": "timeout", "times": 0},
        {"fault": "timeout", "times": "1"},
        {"fault": "timeout", "operation": "refund_all"},
        {"fault": "reject", "code": "bad code!"},
    ],
)
async def test_a_bad_fault_is_refused(
    client: httpx.AsyncClient, payload: dict[str, object]
) -> None:
    response = await client.post("/_control/faults", json=payload)

    assert response.status_code == 400
    assert (await client.get("/_control/faults")).json() == []


async def test_credentials_are_the_channels_own(client: httpx.AsyncClient) -> None:
    response = await client.get("/_control/credentials")

    assert response.json() == {"merchant": "M1", "key": "toy-key"}


async def test_refunds_list_what_was_recorded_and_how_often_it_was_asked(
    client: httpx.AsyncClient,
) -> None:
    await client.post("/_control/trades", json={"out_trade_no": "T1", "amount": 1000})
    for _ in range(2):
        await client.post("/refund", json={"out_trade_no": "T1", "refund_no": "R1", "amount": 300})

    refunds = (await client.get("/_control/refunds")).json()

    assert len(refunds) == 1
    assert refunds[0] | {"status": "PROCESSING", "requests": 2, "amount": 300} == refunds[0]
    assert refunds[0]["channel_refund_id"] == "TRR1"


async def test_unknown_paths_and_methods_are_told_apart(client: httpx.AsyncClient) -> None:
    assert (await client.get("/nowhere")).status_code == 404
    assert (await client.get("/_control/trades")).status_code == 405
    transport = client._transport
    async with httpx.AsyncClient(transport=transport, base_url="http://sim.test") as outside:
        assert (await outside.get("/toyish/_control/refunds")).status_code == 404


async def test_a_body_over_the_limit_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/_control/trades", content=b"x" * (256 * 1024 + 1))

    assert response.status_code == 413
