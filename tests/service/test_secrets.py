"""Keys and passwords never reach a log line, a repr or the database's request record."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from refundgate.domain import Merchant, Secret
from tests.conftest import KEY, Gateway, log_lines


@pytest.fixture
def debug_lines() -> Iterator[io.StringIO]:
    with log_lines("debug") as lines:
        yield lines


async def test_a_refund_logs_neither_the_key_nor_the_password(
    gateway: Gateway, debug_lines: io.StringIO
) -> None:
    await gateway.refund(password="hunter2-secret")
    await gateway.refund(mchRefundNo="R-2", key="WRONGKEY", password="hunter2-secret")
    logged = debug_lines.getvalue()
    assert logged.count("answered") == 2
    for secret in (KEY, "WRONGKEY", "hunter2-secret"):
        assert secret not in logged


async def test_the_password_is_not_stored(gateway: Gateway) -> None:
    await gateway.refund(password="hunter2-secret")
    assert "hunter2-secret" not in repr(gateway.snapshot())


def test_a_merchant_repr_masks_its_keys() -> None:
    merchant = Merchant("M1", Secret("CURRENTKEY"), previous_key=Secret("OLDKEY"))
    assert "CURRENTKEY" not in repr(merchant)
    assert "OLDKEY" not in repr(merchant)
