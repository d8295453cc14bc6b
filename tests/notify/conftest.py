from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.notify.support import Receiver, serving


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with serving(Receiver()) as running:
        yield running
