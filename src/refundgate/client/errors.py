"""What can go wrong when refunding, as one tree (drawn in ``refundgate.client``).

The gateway's error codes map onto the tree through one table, :data:`CODE_CLASSES`;
:func:`error_for_code` reads it. Every error carries what the gateway said
(``err_code``, ``err_code_des``, ``ret_msg``) and, when it is about a refund,
``mch_refund_no``. No error ever carries the signing key.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from refundgate.client.results import Refund

__all__ = [
    "CODE_CLASSES",
    "AmountTypeError",
    "AuthenticationError",
    "ConfigurationError",
    "ConnectionFailed",
    "GatewayUnavailable",
    "InvalidAmount",
    "InvalidNotification",
    "InvalidRequest",
    "OutcomeUnknown",
    "RefundGateError",
    "RefundNotFound",
    "RefundNumberConflict",
    "RefundRefused",
    "RefundRejected",
    "SignatureError",
    "error_for_code",
]


class RefundGateError(Exception):
    """The root: anything the SDK raises on purpose.

    Raised as itself only for a ``retCode=FAIL`` code this SDK does not know.
    """

    def __init__(
        self,
        message: str,
        *,
        err_code: str | None = None,
        err_code_des: str | None = None,
        ret_msg: str | None = None,
        mch_refund_no: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        #: The gateway's ``errCode`` (``None`` when the SDK refused on its own).
        self.err_code = err_code
        #: The gateway's ``errCodeDes`` (business refusals).
        self.err_code_des = err_code_des
        #: The gateway's ``retMsg`` (protocol failures).
        self.ret_msg = ret_msg
        #: The merchant refund number the error is about, when there is one.
        self.mch_refund_no = mch_refund_no


class ConfigurationError(RefundGateError, ValueError):
    """The client's settings are unusable, or a ``REFUNDGATE_*`` variable is missing."""


class AuthenticationError(RefundGateError):
    """The gateway does not accept who we are: ``SIGN_ERROR``, ``MCH_NOT_EXIST``,
    ``MCH_DISABLED`` or ``LOGIN_NAME_INVALID``. Nothing changed."""


class SignatureError(AuthenticationError):
    """An answer or a notification whose ``sign`` does not verify with our key (a
    wrong key, or a message altered on the way), or has none where one is required.

    For a refund, what the gateway did is then unknown: query later with the same
    ``mch_refund_no``.
    """


class InvalidRequest(RefundGateError):
    """The request is malformed: the gateway's ``PARAM_ERROR``, or refused by the
    SDK before anything was sent. Nothing changed."""


class InvalidAmount(InvalidRequest, ValueError):
    """An amount that is not a whole number of minor units from 1 to 2^31-1: zero,
    negative, too large, or with more decimals than the currency has."""


class AmountTypeError(InvalidRequest, TypeError):
    """An amount of a type that cannot carry money exactly: ``float`` or ``bool``,
    an ``int`` passed as major units, or both or neither of ``amount`` and
    ``amount_cents``."""


class InvalidNotification(RefundGateError, ValueError):
    """A body that is not a refund notification: unreadable, or without its fields."""


class RefundRefused(RefundGateError):
    """The gateway refused the refund (``resCode=FAIL``); ``err_code`` says why.

    Refused refunds move no money: a new request (under a new refund number)
    may succeed once the reason is fixed.
    """

    def __init__(
        self,
        message: str,
        *,
        err_code: str | None = None,
        err_code_des: str | None = None,
        ret_msg: str | None = None,
        mch_refund_no: str | None = None,
        refund: Refund | None = None,
    ) -> None:
        super().__init__(
            message,
            err_code=err_code,
            err_code_des=err_code_des,
            ret_msg=ret_msg,
            mch_refund_no=mch_refund_no,
        )
        #: The refund the refusal is about, when one exists (``CHANNEL_REJECTED``).
        self.refund = refund


class RefundNumberConflict(RefundRefused):
    """``MCH_REFUND_NO_CONFLICT``: the refund number already names a refund with
    other parameters. Query it; never reuse a number for another refund."""


class RefundRejected(RefundRefused):
    """``CHANNEL_REJECTED``: the payment channel definitively refused the refund
    (status 3, failed); ``err_code_des`` carries the channel's own code."""


class RefundNotFound(RefundRefused):
    """``REFUND_NOT_EXIST``: no refund of this merchant has that id."""


class GatewayUnavailable(RefundGateError):
    """No usable answer after the allowed attempts: ``SYSTEMERROR``, an HTTP error
    status, or an unreadable answer.

    ``retry_safe`` is True when nothing can have changed (nothing was sent, the
    gateway said so, or the call was a query): the same call may be made again.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_safe: bool,
        err_code: str | None = None,
        ret_msg: str | None = None,
        mch_refund_no: str | None = None,
    ) -> None:
        super().__init__(message, err_code=err_code, ret_msg=ret_msg, mch_refund_no=mch_refund_no)
        self.retry_safe = retry_safe


class ConnectionFailed(GatewayUnavailable):
    """The network failed: no connection, a timeout, a reset. ``retry_safe`` says
    whether the request can have reached the gateway."""


class OutcomeUnknown(GatewayUnavailable):
    """A refund request may have been applied, and no answer said how it ended.

    Query later with the same ``mch_refund_no`` (or send the same request again,
    which the gateway answers from the stored refund); never refund under a new
    number. ``retry_safe`` is always False.
    """

    def __init__(self, message: str, *, mch_refund_no: str) -> None:
        super().__init__(message, retry_safe=False, mch_refund_no=mch_refund_no)


#: The gateway's error codes (PROTOCOL.md, "Error codes") to the class raised.
CODE_CLASSES: Mapping[str, type[RefundGateError]] = MappingProxyType(
    {
        "PARAM_ERROR": InvalidRequest,
        "SIGN_ERROR": AuthenticationError,
        "MCH_NOT_EXIST": AuthenticationError,
        "MCH_DISABLED": AuthenticationError,
        "LOGIN_NAME_INVALID": AuthenticationError,
        "SYSTEMERROR": GatewayUnavailable,
        "ORDER_NOT_EXIST": RefundRefused,
        "ORDER_NOT_REFUNDABLE": RefundRefused,
        "CHANNEL_NOT_SUPPORTED": RefundRefused,
        "CURRENCY_MISMATCH": RefundRefused,
        "CHANNEL_MISMATCH": RefundRefused,
        "REFUND_AMOUNT_EXCEEDED": RefundRefused,
        "REFUND_LIMIT_EXCEEDED": RefundRefused,
        "MCH_REFUND_NO_CONFLICT": RefundNumberConflict,
        "CHANNEL_REJECTED": RefundRejected,
        "REFUND_NOT_EXIST": RefundNotFound,
    }
)


def error_for_code(code: str | None, *, business: bool) -> type[RefundGateError]:
    """The class for ``code``; an unknown code is a :class:`RefundRefused` in a
    business refusal (``resCode=FAIL``, nothing moved) and the root class otherwise."""
    known = CODE_CLASSES.get(code or "")
    if known is not None:
        return known
    return RefundRefused if business else RefundGateError
