"""The public error codes of the IOTPay v1 refund interface, in one table.

Every refusal a merchant can see is one of these codes. Each code says where
it is placed in an answer:

* ``RET``: a protocol-level failure, answered ``retCode=FAIL`` and not signed;
* ``RES``: a business refusal, answered ``retCode=SUCCESS``, ``resCode=FAIL``,
  signed, with ``errCode`` and ``errCodeDes``.

Decoding and validation raise :class:`ProtocolError`; the server maps its own
domain errors onto these codes at its boundary.
"""

from __future__ import annotations

import enum

__all__ = ["ErrorCode", "Placement", "ProtocolError"]


class Placement(enum.Enum):
    RET = "retCode"
    RES = "resCode"


class ErrorCode(enum.Enum):
    """errCode values, with their placement and English description."""

    PARAM_ERROR = ("PARAM_ERROR", Placement.RET, "invalid parameter")
    SIGN_ERROR = ("SIGN_ERROR", Placement.RET, "signature error")
    MCH_NOT_EXIST = ("MCH_NOT_EXIST", Placement.RET, "merchant does not exist")
    MCH_DISABLED = ("MCH_DISABLED", Placement.RET, "merchant is disabled")
    LOGIN_NAME_INVALID = (
        "LOGIN_NAME_INVALID",
        Placement.RET,
        "login name is not allowed to refund",
    )
    SYSTEMERROR = ("SYSTEMERROR", Placement.RET, "system error")
    ORDER_NOT_EXIST = ("ORDER_NOT_EXIST", Placement.RES, "pay order does not exist")
    ORDER_NOT_REFUNDABLE = ("ORDER_NOT_REFUNDABLE", Placement.RES, "pay order cannot be refunded")
    CHANNEL_NOT_SUPPORTED = (
        "CHANNEL_NOT_SUPPORTED",
        Placement.RES,
        "refunds are supported for WeChat Pay, Alipay and UnionPay only",
    )
    CURRENCY_MISMATCH = ("CURRENCY_MISMATCH", Placement.RES, "currency differs from the order's")
    CHANNEL_MISMATCH = ("CHANNEL_MISMATCH", Placement.RES, "channelId differs from the order's")
    REFUND_AMOUNT_EXCEEDED = (
        "REFUND_AMOUNT_EXCEEDED",
        Placement.RES,
        "refund amount exceeds the refundable amount",
    )
    REFUND_LIMIT_EXCEEDED = (
        "REFUND_LIMIT_EXCEEDED",
        Placement.RES,
        "the channel's refund limits for this order are reached",
    )
    MCH_REFUND_NO_CONFLICT = (
        "MCH_REFUND_NO_CONFLICT",
        Placement.RES,
        "mchRefundNo already names a refund with other parameters",
    )
    CHANNEL_REJECTED = ("CHANNEL_REJECTED", Placement.RES, "the channel refused the refund")
    REFUND_NOT_EXIST = ("REFUND_NOT_EXIST", Placement.RES, "refund does not exist")

    def __init__(self, wire: str, placement: Placement, description: str) -> None:
        self.wire = wire
        self.placement = placement
        self.description = description


class ProtocolError(Exception):
    """A request the protocol layer refuses: the code, and a message for ``retMsg``."""

    def __init__(self, code: ErrorCode, message: str | None = None) -> None:
        self.code = code
        self.message = message if message is not None else code.description
        super().__init__(f"{code.wire}: {self.message}")
