"""Field rules of the refund and refund-query requests (PROTOCOL.md tables).

Validation turns a decoded field set into a typed, immutable request, or raises
:class:`ProtocolError` with ``PARAM_ERROR`` and a message naming the field.
Unknown fields are kept (they were signed) in ``extra``; ``password`` is
checked for length and then dropped, so it is never stored or logged.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import urlsplit

from refundgate.protocol.decoding import Fields
from refundgate.protocol.errors import ErrorCode, ProtocolError

__all__ = [
    "MAX_AMOUNT",
    "NOTIFY_URL_MAX_LENGTH",
    "QUERY_FIELDS",
    "REFUND_FIELDS",
    "FieldSpec",
    "QueryRefundParams",
    "RefundOrderParams",
    "is_notify_url",
    "validate_query",
    "validate_refund",
]

MAX_AMOUNT = 2**31 - 1
NOTIFY_URL_MAX_LENGTH = 200

_PRINTABLE_NO_SPACE = re.compile(r"[\x21-\x7e]+")
_DIGITS = re.compile(r"[0-9]+")
_CURRENCY = re.compile(r"[A-Z]{3}")


def _refuse(name: str, why: str) -> ProtocolError:
    return ProtocolError(ErrorCode.PARAM_ERROR, f"request params[{name}] {why}")


def _currency(value: str) -> bool:
    return _CURRENCY.fullmatch(value) is not None


def _printable(value: str) -> bool:
    return _PRINTABLE_NO_SPACE.fullmatch(value) is not None


def _amount(value: str) -> bool:
    return _DIGITS.fullmatch(value) is not None and 1 <= int(value) <= MAX_AMOUNT


@functools.lru_cache(maxsize=4096)  # a merchant's servers send from a few addresses
def _ip_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def is_notify_url(value: str) -> bool:
    """Whether ``value`` is an http(s) URL a notification may be sent to (no ``?``)."""
    if len(value) > NOTIFY_URL_MAX_LENGTH:
        return False
    if not _printable(value) or "?" in value or "#" in value:
        # urlsplit silently drops tabs and newlines, so they are refused here.
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not 0-65535
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One row of a field table: name, whether required, length, and a rule."""

    name: str
    required: bool
    max_length: int
    rule: Callable[[str], bool] | None = None
    rule_text: str = "is malformed"

    def check(self, fields: Fields) -> str | None:
        value = fields.get(self.name)
        if not value:  # absent, null or empty
            if self.required:
                raise _refuse(self.name, "is required")
            return None
        if len(value) > self.max_length:
            raise _refuse(self.name, f"is longer than {self.max_length}")
        if self.rule is not None and not self.rule(value):
            raise _refuse(self.name, self.rule_text)
        return value


_MCH_ID = FieldSpec("mchId", True, 30, _printable, "must be printable ASCII without spaces")
_MCH_REFUND_NO = FieldSpec(
    "mchRefundNo", True, 30, _printable, "must be printable ASCII without spaces"
)
_SIGN = FieldSpec("sign", True, 32)

REFUND_FIELDS: tuple[FieldSpec, ...] = (
    _MCH_ID,
    _MCH_REFUND_NO,
    FieldSpec("payOrderId", True, 64),
    FieldSpec("refundAmount", True, 10, _amount, f"must be whole cents from 1 to {MAX_AMOUNT}"),
    FieldSpec("loginName", True, 32),
    FieldSpec("clientIp", True, 32, _ip_address, "must be an IPv4 or IPv6 address"),
    FieldSpec("device", False, 64),
    FieldSpec("currency", False, 3, _currency, "must be an ISO 4217 code"),
    FieldSpec("channelId", False, 24),
    FieldSpec(
        "notifyUrl",
        False,
        NOTIFY_URL_MAX_LENGTH,
        is_notify_url,
        "must be an http(s) URL without '?'",
    ),
    FieldSpec("password", False, 64),
    _SIGN,
)

QUERY_FIELDS: tuple[FieldSpec, ...] = (
    _MCH_ID,
    FieldSpec("mchRefundNo", False, 30, _printable, "must be printable ASCII without spaces"),
    FieldSpec("refundOrderId", False, 64),
    _SIGN,
)


@dataclass(frozen=True, slots=True)
class RefundOrderParams:
    """A validated ``/v1/refund_order`` request."""

    mch_id: str
    mch_refund_no: str
    pay_order_id: str
    refund_amount: int
    login_name: str
    client_ip: str
    sign: str
    device: str | None = None
    currency: str | None = None
    channel_id: str | None = None
    notify_url: str | None = None
    extra: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class QueryRefundParams:
    """A validated ``/v1/query_refund`` request: one of the two refund ids."""

    mch_id: str
    sign: str
    mch_refund_no: str | None = None
    refund_order_id: str | None = None


def _checked(specs: tuple[FieldSpec, ...], fields: Fields) -> dict[str, str | None]:
    return {spec.name: spec.check(fields) for spec in specs}


# Built once: a cache keyed by the table would hash its twelve specs per request.
_REFUND_NAMES = frozenset(spec.name for spec in REFUND_FIELDS)
_NO_EXTRA: Mapping[str, str] = MappingProxyType({})


def _extra(known: frozenset[str], fields: Fields) -> Mapping[str, str]:
    if fields.keys() <= known:  # the usual request: nothing beyond the table
        return _NO_EXTRA
    return MappingProxyType(
        {name: value for name, value in fields.items() if name not in known and value is not None}
    )


def validate_refund(fields: Fields) -> RefundOrderParams:
    """Check a refund request against :data:`REFUND_FIELDS`."""
    values = _checked(REFUND_FIELDS, fields)
    return RefundOrderParams(
        mch_id=values["mchId"] or "",
        mch_refund_no=values["mchRefundNo"] or "",
        pay_order_id=values["payOrderId"] or "",
        refund_amount=int(values["refundAmount"] or 0),
        login_name=values["loginName"] or "",
        client_ip=values["clientIp"] or "",
        sign=values["sign"] or "",
        device=values["device"],
        currency=values["currency"],
        channel_id=values["channelId"],
        notify_url=values["notifyUrl"],
        extra=_extra(_REFUND_NAMES, fields),
    )


def validate_query(fields: Fields) -> QueryRefundParams:
    """Check a refund-query request against :data:`QUERY_FIELDS`."""
    values = _checked(QUERY_FIELDS, fields)
    if values["mchRefundNo"] is None and values["refundOrderId"] is None:
        raise _refuse("mchRefundNo or refundOrderId", "is required")
    return QueryRefundParams(
        mch_id=values["mchId"] or "",
        sign=values["sign"] or "",
        mch_refund_no=values["mchRefundNo"],
        refund_order_id=values["refundOrderId"],
    )
