"""Typed results: :class:`Refund` and its :class:`RefundStatus`.

>>> refund = Refund.from_fields({
...     "refundOrderId": "R0000000001", "mchRefundNo": "R-1001", "payOrderId": "U001",
...     "refundAmount": "1999", "currency": "CAD", "status": "2",
...     "refundSuccTime": "1767268800000",
... })
>>> refund.status, refund.amount, refund.succeeded_at.isoformat()
(<RefundStatus.SUCCEEDED: 2>, Decimal('19.99'), '2026-01-01T12:00:00+00:00')
>>> Refund.from_fields({**refund.to_fields(), "status": "7"}).status
<RefundStatus.UNKNOWN: -1>
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from refundgate.client.amounts import from_cents

__all__ = ["MalformedRefund", "Refund", "RefundStatus"]

_DIGITS = re.compile(r"[0-9]{1,18}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class MalformedRefund(ValueError):
    """Fields that do not describe a refund (internal: the callers translate it)."""


class RefundStatus(enum.Enum):
    """A refund's ``status`` (PROTOCOL.md, "Answers"), and UNKNOWN for any other.

    An unknown value is never guessed into success or failure: it is
    UNKNOWN, not final, and :attr:`Refund.raw_status` keeps what was sent.
    """

    UNKNOWN = -1
    PENDING = 0
    REFUNDING = 1
    SUCCEEDED = 2
    FAILED = 3

    @classmethod
    def _missing_(cls, value: object) -> RefundStatus:
        return cls.UNKNOWN

    @classmethod
    def from_wire(cls, text: str) -> RefundStatus:
        """The status that ``text`` (``"0"`` … ``"3"``) names; UNKNOWN otherwise."""
        return cls(int(text)) if _DIGITS.fullmatch(text) else cls.UNKNOWN

    @property
    def is_final(self) -> bool:
        """Succeeded or failed: nothing about this refund changes any more."""
        return self in (RefundStatus.SUCCEEDED, RefundStatus.FAILED)


def _optional(fields: Mapping[str, str | None], name: str) -> str | None:
    value = fields.get(name)
    return value if value else None


def _required(fields: Mapping[str, str | None], name: str) -> str:
    value = fields.get(name)
    if not value:
        raise MalformedRefund(f"the refund has no {name}")
    return value


def _whole(fields: Mapping[str, str | None], name: str) -> int | None:
    value = _optional(fields, name)
    if value is None:
        return None
    if _DIGITS.fullmatch(value) is None:
        raise MalformedRefund(f"the refund's {name} is not a whole number: {value!r}")
    return int(value)


@dataclass(frozen=True, slots=True)
class Refund:
    """One refund, as the gateway last described it.

    ``status`` SUCCEEDED means the money is on its way back to the payer;
    PENDING and REFUNDING mean accepted, with the final result to come by
    :meth:`~refundgate.client.RefundClient.query` or a notification.
    """

    refund_order_id: str
    mch_refund_no: str
    amount_cents: int
    status: RefundStatus
    #: ``status`` exactly as the gateway sent it.
    raw_status: str
    pay_order_id: str | None = None
    currency: str | None = None
    mch_id: str | None = None
    channel_id: str | None = None
    #: The channel's own refund id, once known.
    channel_order_no: str | None = None
    #: When the refund succeeded (UTC), for status SUCCEEDED.
    succeeded_at: datetime | None = None
    #: Why a failed refund failed (``CHANNEL_REJECTED``) and the channel's code.
    err_code: str | None = None
    err_code_des: str | None = None

    @property
    def is_final(self) -> bool:
        return self.status.is_final

    @property
    def amount(self) -> Decimal:
        """``amount_cents`` in major units, exactly."""
        return from_cents(self.amount_cents, self.currency)

    @classmethod
    def from_fields(cls, fields: Mapping[str, str | None]) -> Refund:
        """Read a refund from wire fields (an answer or a notification)."""
        amount = _whole(fields, "refundAmount")
        if amount is None:
            raise MalformedRefund("the refund has no refundAmount")
        raw_status = _required(fields, "status")
        succeeded_ms = _whole(fields, "refundSuccTime")
        try:
            succeeded_at = (
                None if succeeded_ms is None else _EPOCH + timedelta(milliseconds=succeeded_ms)
            )
        except (OverflowError, OSError, ValueError):
            raise MalformedRefund(f"refundSuccTime is out of range: {succeeded_ms}") from None
        return cls(
            refund_order_id=_required(fields, "refundOrderId"),
            mch_refund_no=_required(fields, "mchRefundNo"),
            amount_cents=amount,
            status=RefundStatus.from_wire(raw_status),
            raw_status=raw_status,
            pay_order_id=_optional(fields, "payOrderId"),
            currency=_optional(fields, "currency"),
            mch_id=_optional(fields, "mchId"),
            channel_id=_optional(fields, "channelId"),
            channel_order_no=_optional(fields, "channelOrderNo"),
            succeeded_at=succeeded_at,
            err_code=_optional(fields, "errCode"),
            err_code_des=_optional(fields, "errCodeDes"),
        )

    def to_fields(self) -> dict[str, str]:
        """The refund as wire fields (names as in PROTOCOL.md), empty ones left out."""
        fields = {
            "refundOrderId": self.refund_order_id,
            "mchRefundNo": self.mch_refund_no,
            "refundAmount": str(self.amount_cents),
            "status": self.raw_status,
            "payOrderId": self.pay_order_id,
            "currency": self.currency,
            "mchId": self.mch_id,
            "channelId": self.channel_id,
            "channelOrderNo": self.channel_order_no,
            "refundSuccTime": (
                None
                if self.succeeded_at is None
                else str((self.succeeded_at - _EPOCH) // timedelta(milliseconds=1))
            ),
            "errCode": self.err_code,
            "errCodeDes": self.err_code_des,
        }
        return {name: value for name, value in fields.items() if value is not None}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: snake_case names, ``amount`` as a string, times in ISO 8601."""
        return {
            "refund_order_id": self.refund_order_id,
            "mch_refund_no": self.mch_refund_no,
            "pay_order_id": self.pay_order_id,
            "mch_id": self.mch_id,
            "amount_cents": self.amount_cents,
            "amount": str(self.amount),
            "currency": self.currency,
            "status": self.status.name,
            "raw_status": self.raw_status,
            "channel_id": self.channel_id,
            "channel_order_no": self.channel_order_no,
            "succeeded_at": None if self.succeeded_at is None else self.succeeded_at.isoformat(),
            "err_code": self.err_code,
            "err_code_des": self.err_code_des,
        }
