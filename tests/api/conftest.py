"""The API suite runs on both stores: every answer and every row, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def gateway_store(request: pytest.FixtureRequest) -> str:
    return str(request.param)
