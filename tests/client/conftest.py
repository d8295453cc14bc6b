"""Fixtures: each SDK test runs with the sync and the async client over the real app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

import httpx
import pytest

from tests.client.support import Sdk, make_sdk
from tests.conftest import KEY, LOGIN, MCH_ID, Gateway


class MakeSdk(Protocol):
    def __call__(
        self,
        wrap: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport] | None = None,
        **options: Any,
    ) -> Sdk: ...


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
async def make(gateway: Gateway, kind: str) -> AsyncIterator[MakeSdk]:
    """Build a client of this test's kind over the gateway app; ``wrap`` may put a
    fault-injecting transport in front of the app. Options override the defaults
    (the test merchant, its key and operator)."""
    made: list[Sdk] = []

    def build(
        wrap: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport] | None = None,
        **options: Any,
    ) -> Sdk:
        transport: httpx.AsyncBaseTransport = httpx.ASGITransport(app=gateway.app)
        if wrap is not None:
            transport = wrap(transport)
        settings = {"mch_id": MCH_ID, "key": KEY, "login_name": LOGIN, **options}
        sdk = make_sdk(kind, transport, **settings)
        made.append(sdk)
        return sdk

    yield build
    for sdk in made:
        await sdk.close()


@pytest.fixture
async def sdk(make: MakeSdk) -> Sdk:
    """A client of the test merchant, of this test's kind."""
    return make()
