"""Assertions shared by the API tests: answer shapes, "nothing changed", rows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from refundgate.protocol import verify
from tests.conftest import KEY, MCH_ID, Gateway


@contextmanager
def nothing_changes(gateway: Gateway) -> Iterator[None]:
    """G5: every row of every table is as it was, and no channel heard of it."""
    before = gateway.snapshot()
    calls_before = gateway.ledger.calls
    yield
    assert gateway.snapshot() == before
    assert gateway.ledger.calls == calls_before


def assert_protocol_failure(answer: dict[str, Any], code: str, *, names: str | None = None) -> None:
    """An unsigned ``retCode=FAIL`` answer with ``code``; ``names`` a field in retMsg."""
    assert answer["retCode"] == "FAIL"
    assert answer["errCode"] == code
    assert "sign" not in answer
    assert "resCode" not in answer
    if names is not None:
        assert f"[{names}]" in answer["retMsg"]


def assert_signed(answer: dict[str, Any], key: str = KEY) -> None:
    assert verify(answer, answer["sign"], [key]), answer


def assert_refused(
    answer: dict[str, Any],
    code: str,
    *,
    mch_refund_no: str = "R-1",
    pay_order_id: str = "ALI-1",
    key: str = KEY,
) -> None:
    """A signed ``resCode=FAIL`` answer with ``code`` that echoes the request."""
    assert answer["retCode"] == "SUCCESS"
    assert answer["retMsg"] == ""
    assert answer["resCode"] == "FAIL"
    assert answer["errCode"] == code
    assert answer["errCodeDes"]
    assert answer["mchId"] == MCH_ID
    assert answer["mchRefundNo"] == mch_refund_no
    assert answer["payOrderId"] == pay_order_id
    assert_signed(answer, key)


def assert_accepted(answer: dict[str, Any], *, status: int, key: str = KEY) -> None:
    assert answer["retCode"] == "SUCCESS"
    assert answer["resCode"] == "SUCCESS"
    assert answer["status"] == status
    assert "errCode" not in answer
    assert_signed(answer, key)


def rows(gateway: Gateway, sql: str, *params: Any) -> list[Any]:
    """Rows read straight from the database (either store), by column name."""
    return gateway.backend.rows_sync(sql, *params)


def order_row(gateway: Gateway, pay_order_id: str, mch_id: str = MCH_ID) -> Any:
    [row] = rows(
        gateway,
        "SELECT * FROM pay_orders WHERE mch_id = ? AND pay_order_id = ?",
        mch_id,
        pay_order_id,
    )
    return row


def refund_row(gateway: Gateway, refund_order_id: str) -> Any:
    [row] = rows(gateway, "SELECT * FROM refunds WHERE refund_order_id = ?", refund_order_id)
    return row
