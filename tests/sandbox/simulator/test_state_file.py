"""A simulator's books survive a restart through its state file; a trade can carry its
own settle delay."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from refundgate.sandbox.simulator import RefundState, SimulatorConfig
from refundgate.sandbox.simulator.persist import StateFile
from tests.sandbox.simulator.toy import ToyChannel

CONFIG = SimulatorConfig(hold_seconds=0.2, settle_delay=None)


def _client(channel: ToyChannel) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=channel.sim)
    return httpx.AsyncClient(transport=transport, base_url="http://sim.test/toy")


async def _restarted(path: Path, config: SimulatorConfig = CONFIG) -> ToyChannel:
    channel = ToyChannel(config=config)
    StateFile(path).attach(channel.sim)
    return channel


@pytest.fixture
async def first(tmp_path: Path) -> AsyncIterator[ToyChannel]:
    channel = await _restarted(tmp_path / "state.json")
    yield channel
    await channel.sim.aclose()


async def _trade_and_refund(client: httpx.AsyncClient, amount: int = 100, **trade: object) -> None:
    created = await client.post(
        "/_control/trades", json={"out_trade_no": "T1", "amount": 1000, **trade}
    )
    assert created.status_code == 201, created.text
    answer = await client.post(
        "/refund", json={"out_trade_no": "T1", "refund_no": "R1", "amount": amount}
    )
    assert answer.json()["code"] == "OK"


async def test_trades_and_refunds_come_back_after_a_restart(
    tmp_path: Path, first: ToyChannel
) -> None:
    async with _client(first) as client:
        await _trade_and_refund(client, amount=900)
        await client.post("/_control/settle")

    second = await _restarted(tmp_path / "state.json")
    async with _client(second) as client:
        refunds = (await client.get("/_control/refunds")).json()
        twin = await client.post("/_control/trades", json={"out_trade_no": "T1", "amount": 5})
        too_much = await client.post(
            "/refund", json={"out_trade_no": "T1", "refund_no": "R2", "amount": 101}
        )

    assert [(r["refund_no"], r["amount"], r["status"]) for r in refunds] == [
        ("R1", 900, "SUCCEEDED")
    ]
    assert twin.status_code == 409  # the trade is still there
    assert too_much.json()["code"] == "TOO_MUCH"  # and so is what was refunded of it


async def test_a_replay_after_a_restart_is_the_same_refund(
    tmp_path: Path, first: ToyChannel
) -> None:
    async with _client(first) as client:
        await _trade_and_refund(client)

    second = await _restarted(tmp_path / "state.json")
    async with _client(second) as client:
        again = await client.post(
            "/refund", json={"out_trade_no": "T1", "refund_no": "R1", "amount": 100}
        )
        refunds = (await client.get("/_control/refunds")).json()

    assert again.json()["id"] == "TRR1"
    assert [(r["refund_no"], r["requests"]) for r in refunds] == [("R1", 2)]
    assert json.loads((tmp_path / "state.json").read_text())["version"] == 1


async def test_an_unsettled_refund_settles_after_the_restart(
    tmp_path: Path, first: ToyChannel
) -> None:
    async with _client(first) as client:
        await _trade_and_refund(client, settle_delay=0.01)
        assert (await client.get("/_control/refunds")).json()[0]["status"] == "PROCESSING"
    await first.sim.aclose()  # stopped before its timer fired

    second = await _restarted(tmp_path / "state.json")
    second.sim.resume()
    await asyncio.wait_for(second.sim.drain(), timeout=5)

    assert second.sim.ledger.refunds()[0].state is RefundState.SUCCEEDED
    await second.sim.aclose()


async def test_a_trade_settle_delay_overrides_the_configured_one(first: ToyChannel) -> None:
    async with _client(first) as client:  # configured: settle only when told
        await _trade_and_refund(client, settle_delay=0.01)
        await asyncio.wait_for(first.sim.drain(), timeout=5)
        refunds = (await client.get("/_control/refunds")).json()

    assert refunds[0]["status"] == "SUCCEEDED"


@pytest.mark.parametrize("delay", [-1, "1", True, 10**9])
async def test_a_bad_settle_delay_is_refused_and_changes_nothing(
    first: ToyChannel, delay: object
) -> None:
    async with _client(first) as client:
        answer = await client.post(
            "/_control/trades", json={"out_trade_no": "T1", "amount": 10, "settle_delay": delay}
        )

    assert answer.status_code == 400
    assert "settle_delay" in answer.json()["error"]
    assert first.sim.ledger.trade("T1") is None


@pytest.mark.parametrize("text", ["not json", '{"version": 99}', '{"version": 1, "simulators":'
                                  ' {"toy": {"trades": [{"out_trade_no": "T1"}]}}}'])  # fmt: skip
def test_an_unreadable_state_file_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(text)

    with pytest.raises(ValueError, match="sandbox state file"):
        StateFile(path).attach(ToyChannel(config=CONFIG).sim)
