"""Key pairs made once per run (RSA key generation is the slow part of these
tests), the Alipay simulator, and one loopback server the tests plug it into."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from refundgate.sandbox.alipay import AlipaySimulator
from refundgate.sandbox.alipay import KeyPair as SandboxKeys
from refundgate.sandbox.simulator import SimulatorConfig
from tests.channels.alipay.support import KeyPair, Switch, new_pair, serving


@pytest.fixture(scope="session")
def app_keys() -> KeyPair:
    return new_pair()


@pytest.fixture(scope="session")
def alipay_keys() -> KeyPair:
    return new_pair()


@pytest.fixture(scope="session")
def stranger_keys() -> KeyPair:
    return new_pair()


@pytest.fixture
async def alipay(app_keys: KeyPair, alipay_keys: KeyPair) -> AsyncIterator[AlipaySimulator]:
    """The simulator with the session's keys; answers held 1.5 s by ``timeout``."""
    simulator = AlipaySimulator(
        app_key=SandboxKeys(app_keys.private),
        alipay_key=SandboxKeys(alipay_keys.private),
        config=SimulatorConfig(hold_seconds=1.5, settle_delay=None),
    )
    yield simulator
    await simulator.sim.aclose()


@pytest.fixture
async def control(alipay: AlipaySimulator) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the simulator's JSON control API, in-process."""
    transport = httpx.ASGITransport(app=alipay.sim)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim.test/alipay") as c:
        yield c


@pytest.fixture(scope="session")
def loopback_switch() -> Iterator[tuple[Switch, str]]:
    switch = Switch()
    with serving(switch) as url:
        yield switch, url


@pytest.fixture
def loopback(loopback_switch: tuple[Switch, str], alipay: AlipaySimulator) -> Iterator[str]:
    """The simulator served over real HTTP on 127.0.0.1; yields its ``/alipay`` URL."""
    switch, url = loopback_switch
    switch.app = alipay.sim
    yield url + "/alipay"
    switch.app = None
