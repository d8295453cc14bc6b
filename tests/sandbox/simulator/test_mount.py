"""Several simulators share one app, each under its own prefix."""

from __future__ import annotations

import httpx
import pytest

from refundgate.sandbox.simulator import Mounted
from tests.sandbox.simulator.toy import ToyChannel


class OtherToy(ToyChannel):
    name = "other"


async def test_each_prefix_reaches_its_own_simulator() -> None:
    toy, other = ToyChannel(), OtherToy()
    app = Mounted(toy.sim, other.sim)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as c:
        await c.post("/other/_control/trades", json={"out_trade_no": "T1", "amount": 1})

        assert (await c.get("/nowhere")).status_code == 404
    assert (toy.sim.ledger.trade_count(), other.sim.ledger.trade_count()) == (0, 1)
    await app.aclose()


def test_two_simulators_cannot_share_a_prefix() -> None:
    with pytest.raises(ValueError, match="prefix"):
        Mounted(ToyChannel().sim, ToyChannel().sim)
