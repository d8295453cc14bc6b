"""The public error-code table (PROTOCOL.md, "Error codes") and the protocol surface."""

from __future__ import annotations

import refundgate.protocol
from refundgate.protocol import ErrorCode, Placement, ProtocolError

#: PROTOCOL.md "Error codes" (and REFUND_NOT_EXIST from "POST /v1/query_refund").
TABLE = {
    "PARAM_ERROR": Placement.RET,
    "SIGN_ERROR": Placement.RET,
    "MCH_NOT_EXIST": Placement.RET,
    "MCH_DISABLED": Placement.RET,
    "LOGIN_NAME_INVALID": Placement.RET,
    "ORDER_NOT_EXIST": Placement.RES,
    "ORDER_NOT_REFUNDABLE": Placement.RES,
    "CHANNEL_NOT_SUPPORTED": Placement.RES,
    "CURRENCY_MISMATCH": Placement.RES,
    "CHANNEL_MISMATCH": Placement.RES,
    "REFUND_AMOUNT_EXCEEDED": Placement.RES,
    "REFUND_LIMIT_EXCEEDED": Placement.RES,
    "MCH_REFUND_NO_CONFLICT": Placement.RES,
    "CHANNEL_REJECTED": Placement.RES,
    "SYSTEMERROR": Placement.RET,
    "REFUND_NOT_EXIST": Placement.RES,
}


def test_the_error_codes_and_their_placements_are_the_published_table() -> None:
    assert {code.wire: code.placement for code in ErrorCode} == TABLE


def test_the_signature_error_message_is_the_published_one() -> None:
    assert ErrorCode.SIGN_ERROR.description == "signature error"


def test_a_protocol_error_defaults_to_the_code_description() -> None:
    assert ProtocolError(ErrorCode.MCH_DISABLED).message == "merchant is disabled"


def test_a_protocol_error_carries_its_own_message() -> None:
    error = ProtocolError(ErrorCode.PARAM_ERROR, "request params[mchId] is required")

    assert str(error) == "PARAM_ERROR: request params[mchId] is required"


def test_the_public_surface_is_pinned() -> None:
    assert sorted(refundgate.protocol.__all__) == [
        "Answer",
        "BODY_LIMIT",
        "ErrorCode",
        "Fields",
        "Placement",
        "ProtocolError",
        "QueryRefundParams",
        "RefundOrderParams",
        "business_answer",
        "decode_request",
        "encode",
        "failure_answer",
        "sign",
        "validate_query",
        "validate_refund",
        "verify",
    ]
