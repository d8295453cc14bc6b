"""Fixtures for end-to-end tests: every server started is stopped in a finalizer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.support import Servers


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    """Start ``refundgate serve`` processes; all are stopped when the test ends."""
    started = Servers(tmp_path / "logs")
    try:
        yield started
    finally:
        started.close()
