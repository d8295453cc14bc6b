"""Domain errors → public error codes: the one table, read at the API boundary."""

from __future__ import annotations

from refundgate.domain import errors as domain
from refundgate.protocol.errors import ErrorCode

__all__ = ["code_for"]

_CODES: dict[type[domain.DomainError], ErrorCode] = {
    domain.MerchantNotFound: ErrorCode.MCH_NOT_EXIST,
    domain.MerchantDisabled: ErrorCode.MCH_DISABLED,
    domain.OperatorNotAllowed: ErrorCode.LOGIN_NAME_INVALID,
    domain.OrderNotFound: ErrorCode.ORDER_NOT_EXIST,
    domain.OrderNotRefundable: ErrorCode.ORDER_NOT_REFUNDABLE,
    domain.ChannelNotSupported: ErrorCode.CHANNEL_NOT_SUPPORTED,
    domain.CurrencyMismatch: ErrorCode.CURRENCY_MISMATCH,
    domain.ChannelMismatch: ErrorCode.CHANNEL_MISMATCH,
    domain.RefundAmountExceeded: ErrorCode.REFUND_AMOUNT_EXCEEDED,
    domain.RefundLimitExceeded: ErrorCode.REFUND_LIMIT_EXCEEDED,
    domain.RefundNumberConflict: ErrorCode.MCH_REFUND_NO_CONFLICT,
    domain.RefundNotFound: ErrorCode.REFUND_NOT_EXIST,
}


def code_for(error: domain.DomainError) -> ErrorCode:
    """The public code of a domain error; anything unlisted is our fault."""
    return _CODES.get(type(error), ErrorCode.SYSTEMERROR)
