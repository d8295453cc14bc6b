"""Every answer code of channels.md §C.6, through the connector: one row each.

The expected results are written out here, not read from the connector's
tables, so a wrong table entry fails a row.
"""

from __future__ import annotations

from typing import Any

import pytest

from refundgate.channels.alipay import wire
from refundgate.ports import ChannelResult
from tests.channels.alipay.support import KeyPair, channel_refund, make_connector, signed_answer

OK, FAILED, PROCESSING = ChannelResult.SUCCEEDED, ChannelResult.FAILED, ChannelResult.PROCESSING

#: (code, sub_code, expected result)
REFUND_ROWS: list[tuple[str, str | None, ChannelResult]] = [
    ("20000", "isp.unknow-error", PROCESSING),
    ("20000", "aop.unknow-error", PROCESSING),
    ("20000", None, PROCESSING),
    ("20001", "aop.invalid-auth-token", FAILED),
    ("40001", "isv.missing-signature", FAILED),
    ("40002", "isv.invalid-signature", FAILED),
    ("40002", "isv.invalid-app-id", FAILED),
    ("40002", "isv.invalid-timestamp", FAILED),
    ("40006", "isv.insufficient-isv-permissions", FAILED),
    ("40004", "ACQ.SYSTEM_ERROR", PROCESSING),
    ("40004", "ACQ.REFUND_CHARGE_ERROR", PROCESSING),
    ("40004", "ACQ.DISCORDANT_REPEAT_REQUEST", PROCESSING),
    ("40004", "ACQ.SELLER_BALANCE_NOT_ENOUGH", FAILED),
    ("40004", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", FAILED),
    ("40004", "ACQ.REASON_TRADE_REFUND_FEE_ERR", FAILED),
    ("40004", "ACQ.REFUND_FEE_ERROR", FAILED),
    ("40004", "ACQ.TRADE_NOT_EXIST", FAILED),
    ("40004", "ACQ.TRADE_HAS_FINISHED", FAILED),
    ("40004", "ACQ.TRADE_STATUS_ERROR", FAILED),
    ("40004", "ACQ.REASON_TRADE_STATUS_INVALID", FAILED),
    ("40004", "ACQ.TRADE_HAS_CLOSE", FAILED),
    ("40004", "ACQ.TRADE_NOT_ALLOW_REFUND", FAILED),
    ("40004", "ACQ.NOT_ALLOW_PARTIAL_REFUND", FAILED),
    ("40004", "ACQ.ONLINE_TRADE_VOUCHER_NOT_ALLOW_REFUND", FAILED),
    ("40004", "ACQ.REASON_TRADE_BEEN_FREEZEN", FAILED),
    ("40004", "ACQ.INVALID_PARAMETER", FAILED),
    ("40004", "ACQ.CURRENCY_NOT_SUPPORT", FAILED),
    ("40004", "ACQ.BUYER_ERROR", FAILED),
    ("40004", "ACQ.CUSTOMER_VALIDATE_ERROR", FAILED),
    ("40004", "ACQ.TRADE_SETTLE_ERROR", FAILED),
    # Not in the table: unknown, never failed.
    ("40004", "ACQ.SOMETHING_NEW", PROCESSING),
    ("40004", None, PROCESSING),
    ("40003", "isv.something", PROCESSING),
    ("99999", None, PROCESSING),
    ("10001", None, PROCESSING),
]


def _node(code: str, sub_code: str | None, **extra: str) -> dict[str, Any]:
    node: dict[str, Any] = {"code": code, "msg": "Business Failed"}
    if sub_code is not None:
        node.update(sub_code=sub_code, sub_msg="说明")
    node.update(extra)
    return node


def test_every_code_in_the_tables_has_a_row() -> None:
    codes = {row[0] for row in REFUND_ROWS}
    sub_codes = {row[1] for row in REFUND_ROWS if row[0] == "40004"}
    assert set(wire.GATEWAY_CODES) <= codes
    assert set(wire.REFUND_SUB_CODES) <= sub_codes


@pytest.mark.parametrize(("code", "sub_code", "expected"), REFUND_ROWS)
async def test_refund_answer_code(
    app_keys: KeyPair,
    alipay_keys: KeyPair,
    code: str,
    sub_code: str | None,
    expected: ChannelResult,
) -> None:
    answer = signed_answer(_node(code, sub_code), alipay_keys)
    connector, _ = make_connector(app_keys, alipay_keys, lambda _: answer)

    outcome = await connector.refund(channel_refund())

    assert outcome.result is expected
    assert outcome.code == (sub_code or code)


@pytest.mark.parametrize(
    ("fund_change", "expected"),
    [("Y", OK), ("N", PROCESSING), (None, PROCESSING), ("y", PROCESSING)],
)
async def test_success_needs_fund_change_y(
    app_keys: KeyPair, alipay_keys: KeyPair, fund_change: str | None, expected: ChannelResult
) -> None:
    node = _node("10000", None, trade_no="2026010122001", out_trade_no="P0000000001")
    if fund_change is not None:
        node["fund_change"] = fund_change
    connector, _ = make_connector(app_keys, alipay_keys, lambda _: signed_answer(node, alipay_keys))

    outcome = await connector.refund(channel_refund())

    assert outcome.result is expected
    assert outcome.channel_refund_id == "2026010122001"


async def test_a_signed_gateway_error_response_fails_the_refund(
    app_keys: KeyPair, alipay_keys: KeyPair
) -> None:
    answer = signed_answer(_node("40002", "isv.invalid-app-id"), alipay_keys, name="error_response")
    connector, _ = make_connector(app_keys, alipay_keys, lambda _: answer)

    outcome = await connector.refund(channel_refund())

    assert (outcome.result, outcome.code) == (FAILED, "isv.invalid-app-id")


QUERY = "alipay_trade_fastpay_refund_query_response"

#: (answer fields beyond the code, expected) for a query of refund R0000000001 of 12.30.
QUERY_ROWS: list[tuple[dict[str, str], ChannelResult]] = [
    ({"code": "10000", "out_request_no": "R0000000001", "refund_amount": "12.30",
      "refund_status": "REFUND_SUCCESS"}, OK),
    ({"code": "10000", "out_request_no": "R0000000001", "refund_amount": "12.3"}, OK),
    ({"code": "10000"}, PROCESSING),  # nothing under this number (yet)
    ({"code": "10000", "out_request_no": "R0000000001", "refund_amount": "12.31",
      "refund_status": "REFUND_SUCCESS"}, PROCESSING),  # another amount: an anomaly
    ({"code": "10000", "out_request_no": "R0000000002", "refund_amount": "12.30",
      "refund_status": "REFUND_SUCCESS"}, PROCESSING),  # another refund
    ({"code": "10000", "out_request_no": "R0000000001", "refund_amount": "12.30",
      "refund_status": "REFUND_PROCESSING"}, PROCESSING),
    ({"code": "40004", "sub_code": "ACQ.TRADE_NOT_EXIST"}, FAILED),
    ({"code": "40004", "sub_code": "ACQ.INVALID_PARAMETER"}, PROCESSING),
    ({"code": "40004", "sub_code": "ACQ.SYSTEM_ERROR"}, PROCESSING),
    ({"code": "40002", "sub_code": "isv.invalid-signature"}, PROCESSING),
    ({"code": "40001", "sub_code": "isv.missing-method"}, PROCESSING),
    ({"code": "20000", "sub_code": "isp.unknow-error"}, PROCESSING),
]  # fmt: skip


@pytest.mark.parametrize(("node", "expected"), QUERY_ROWS)
async def test_query_answer(
    app_keys: KeyPair, alipay_keys: KeyPair, node: dict[str, str], expected: ChannelResult
) -> None:
    """A rejected query says nothing of the refund: only an unknown trade fails it."""
    answer = signed_answer({"msg": "m", **node}, alipay_keys, name=QUERY)
    connector, _ = make_connector(app_keys, alipay_keys, lambda _: answer)

    outcome = await connector.query(channel_refund(1230))

    assert outcome.result is expected
