"""A toy channel on the simulator base, and a client that talks to it in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from refundgate.sandbox.simulator import SimulatorConfig
from tests.sandbox.simulator.toy import ToyChannel


@pytest.fixture
async def toy() -> AsyncIterator[ToyChannel]:
    channel = ToyChannel(config=SimulatorConfig(hold_seconds=0.2, settle_delay=None))
    yield channel
    await channel.sim.aclose()


@pytest.fixture
async def client(toy: ToyChannel) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=toy.sim)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim.test/toy") as c:
        yield c
