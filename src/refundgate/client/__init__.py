"""refundgate's merchant SDK: safe refunds from Python in three lines.

::

    from decimal import Decimal

    from refundgate.client import RefundClient

    client = RefundClient.from_env()  # REFUNDGATE_BASE_URL, _MCH_ID, _KEY, _LOGIN_NAME
    refund = client.refund(
        pay_order_id="DEMO-ALI-0001", mch_refund_no="R-1001", amount=Decimal("19.99")
    )  # or amount_cents=1999
    refund = client.query(mch_refund_no="R-1001")  # or refund_order_id=...
    print(refund.status.name)  # SUCCEEDED

:class:`AsyncRefundClient` is the same with ``await``. Both need only httpx
and the wire code in ``refundgate.protocol``; they import nothing of the server.

What the SDK does for you, where IOTPay's PHP sample goes wrong
(iotpay-v1-research.md §9):

* amounts are whole minor units, from ``int`` cents or an exact ``Decimal``/``str``;
  a ``float``, or more decimals than the currency has, is refused before
  anything is sent;
* a timeout or a reset is retried with the *same* ``mch_refund_no`` (bounded,
  with backoff), then reported as :class:`OutcomeUnknown`: query later, never
  refund under a new number;
* success needs ``retCode`` *and* ``resCode`` to say SUCCESS, and a signed
  answer must verify (``strict=True`` also requires every success to be signed);
* :func:`parse_notification` verifies a refund notification before reading it.

Errors, one tree::

    RefundGateError                  anything the SDK raises; err_code, err_code_des, ret_msg
    ├── ConfigurationError           unusable settings, a REFUNDGATE_* variable missing (ValueError)
    ├── AuthenticationError          SIGN_ERROR, MCH_NOT_EXIST, MCH_DISABLED, LOGIN_NAME_INVALID
    │   └── SignatureError           an answer or notification whose sign does not verify
    ├── InvalidRequest               PARAM_ERROR, or refused before sending
    │   ├── InvalidAmount            zero, negative, too large, too many decimals (ValueError)
    │   └── AmountTypeError          float, bool, int as major units (TypeError)
    ├── InvalidNotification          a body that is not a refund notification (ValueError)
    ├── RefundRefused                resCode=FAIL: a business rule says no (err_code says which)
    │   ├── RefundNumberConflict     MCH_REFUND_NO_CONFLICT
    │   ├── RefundRejected           CHANNEL_REJECTED: the channel refused (status 3); .refund
    │   └── RefundNotFound           REFUND_NOT_EXIST
    └── GatewayUnavailable           no usable answer: SYSTEMERROR, HTTP 5xx, unreadable; retry_safe
        ├── ConnectionFailed         the network failed; retry_safe says if it can have arrived
        └── OutcomeUnknown           a refund may have been made: query later (mch_refund_no)

Every error code of PROTOCOL.md maps to one class in :data:`CODE_CLASSES`.
No money moved for any of these errors except :class:`OutcomeUnknown`, and a
:class:`SignatureError` on a refund's answer: then the refund may have been
made, and a query with the same ``mch_refund_no`` tells.
"""

from __future__ import annotations

from refundgate.client._wire import ENVIRONMENT
from refundgate.client.aio import AsyncRefundClient
from refundgate.client.amounts import from_cents, to_cents
from refundgate.client.errors import (
    CODE_CLASSES,
    AmountTypeError,
    AuthenticationError,
    ConfigurationError,
    ConnectionFailed,
    GatewayUnavailable,
    InvalidAmount,
    InvalidNotification,
    InvalidRequest,
    OutcomeUnknown,
    RefundGateError,
    RefundNotFound,
    RefundNumberConflict,
    RefundRefused,
    RefundRejected,
    SignatureError,
)
from refundgate.client.notifications import parse_notification
from refundgate.client.results import Refund, RefundStatus
from refundgate.client.retries import RetryPolicy
from refundgate.client.sync import RefundClient

__all__ = [
    "CODE_CLASSES",
    "ENVIRONMENT",
    "AmountTypeError",
    "AsyncRefundClient",
    "AuthenticationError",
    "ConfigurationError",
    "ConnectionFailed",
    "GatewayUnavailable",
    "InvalidAmount",
    "InvalidNotification",
    "InvalidRequest",
    "OutcomeUnknown",
    "Refund",
    "RefundClient",
    "RefundGateError",
    "RefundNotFound",
    "RefundNumberConflict",
    "RefundRefused",
    "RefundRejected",
    "RefundStatus",
    "RetryPolicy",
    "SignatureError",
    "from_cents",
    "parse_notification",
    "to_cents",
]
