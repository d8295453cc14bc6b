"""The IOTPay v1 wire format: pure, shared by the server and the SDK."""

from refundgate.protocol.decoding import BODY_LIMIT, Fields, decode_request
from refundgate.protocol.envelope import Answer, business_answer, encode, failure_answer
from refundgate.protocol.errors import ErrorCode, Placement, ProtocolError
from refundgate.protocol.fields import (
    QueryRefundParams,
    RefundOrderParams,
    validate_query,
    validate_refund,
)
from refundgate.protocol.signing import sign, verify

__all__ = [
    "BODY_LIMIT",
    "Answer",
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
