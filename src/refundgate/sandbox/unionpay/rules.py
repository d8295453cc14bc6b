"""What the simulated UnionPay checks in a request before it looks at its books.

From channels.md §D.2, §D.5 and §D.8: required fields (``13``), formats and
fixed values (``10``), the merchant and its certificate (``31``, ``11``), the
signature (``11``) and the ``txnTime`` tolerance (``10``). A failed check
raises :class:`Refusal` with the ``respCode`` and ``respMsg`` to answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from cryptography import x509

from refundgate.sandbox.unionpay import acp

__all__ = [
    "BEIJING",
    "QUERY_FIELDS",
    "REFUND_FIELDS",
    "Refusal",
    "check_query",
    "check_refund",
    "check_signed_by",
    "currency_number",
    "parse_txn_time",
]

BEIJING = timezone(timedelta(hours=8))

_COMMON = (
    "version", "encoding", "signMethod", "certId", "signature", "txnType", "txnSubType",
    "bizType", "accessType", "merId", "orderId", "txnTime",
)  # fmt: skip
REFUND_FIELDS = (*_COMMON, "channelType", "origQryId", "txnAmt", "currencyCode", "backUrl")
QUERY_FIELDS = _COMMON

_ORDER_ID = re.compile(r"[0-9A-Za-z]{8,40}")
_TXN_TIME = re.compile(r"[0-9]{14}")
_AMOUNT = re.compile(r"[1-9][0-9]{0,11}")
_QRY_ID = re.compile(r"[0-9A-Za-z]{1,40}")
_URL = re.compile(r"https?://\S{1,240}")

#: Products we accept refunds for (§D.2), and the channel types.
_REFUND_BIZ_TYPES = frozenset({"000201", "000202", "000301", "000302"})
_CHANNEL_TYPES = frozenset({"07", "08"})

_CURRENCY_NUMBERS = {"CNY": "156", "CAD": "124", "USD": "840", "HKD": "344", "EUR": "978"}


class Refusal(Exception):
    """A request UnionPay answers with a refusal: ``respCode`` and ``respMsg``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Merchant:
    """The merchant the simulator knows: its id and its registered signing certificate."""

    mer_id: str
    cert: x509.Certificate

    @property
    def cert_id(self) -> str:
        return str(self.cert.serial_number)


def currency_number(currency: str) -> str | None:
    """The ISO 4217 number of an ISO currency code, if the simulator knows it."""
    return _CURRENCY_NUMBERS.get(currency)


def parse_txn_time(text: str) -> datetime | None:
    """``YYYYMMDDhhmmss`` in Beijing time, or None when it is not a real moment."""
    if not _TXN_TIME.fullmatch(text):
        return None
    try:
        return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=BEIJING)
    except ValueError:
        return None


def _require(fields: Mapping[str, str], names: tuple[str, ...]) -> None:
    missing = [name for name in names if not fields.get(name)]
    if missing:
        raise Refusal("13", f"missing element [{missing[0]}]")


def _expect(fields: Mapping[str, str], name: str, allowed: frozenset[str] | str) -> None:
    value = fields[name]
    if value not in (allowed if isinstance(allowed, frozenset) else {allowed}):
        raise Refusal("10", f"format error [{name}]")


def _match(fields: Mapping[str, str], name: str, pattern: re.Pattern[str]) -> None:
    if not pattern.fullmatch(fields[name]):
        raise Refusal("10", f"format error [{name}]")


def _check_envelope(fields: Mapping[str, str], txn_type: str, biz: frozenset[str] | str) -> None:
    _expect(fields, "version", "5.1.0")
    _expect(fields, "encoding", frozenset({"UTF-8", "utf-8"}))
    _expect(fields, "signMethod", "01")
    _expect(fields, "txnType", txn_type)
    _expect(fields, "txnSubType", "00")
    _expect(fields, "bizType", biz)
    _expect(fields, "accessType", "0")
    _match(fields, "orderId", _ORDER_ID)
    if parse_txn_time(fields["txnTime"]) is None:
        raise Refusal("10", "format error [txnTime]")


def check_signed_by(fields: Mapping[str, str], merchant: Merchant) -> None:
    """The merchant is ours, ``certId`` is its certificate, and the signature is its."""
    if fields["merId"] != merchant.mer_id:
        raise Refusal("31", "merchant does not exist or is not open")
    if fields["certId"] != merchant.cert_id:
        raise Refusal("11", "verify signature failed [certId]")
    if not acp.signature_matches(fields, merchant.cert):
        raise Refusal("11", "verify signature failed")


def _check_time(fields: Mapping[str, str], now: datetime, tolerance: timedelta) -> None:
    sent = parse_txn_time(fields["txnTime"])
    if sent is None or abs(now - sent) > tolerance:
        raise Refusal("10", "txnTime invalid")


def check_refund(
    fields: Mapping[str, str], merchant: Merchant, *, now: datetime, tolerance: timedelta
) -> None:
    """Every check of a refund (``txnType=04``) that needs no books."""
    _require(fields, REFUND_FIELDS)
    _check_envelope(fields, "04", _REFUND_BIZ_TYPES)
    _expect(fields, "channelType", _CHANNEL_TYPES)
    _match(fields, "txnAmt", _AMOUNT)
    _match(fields, "origQryId", _QRY_ID)
    _match(fields, "backUrl", _URL)
    if fields["currencyCode"] not in _CURRENCY_NUMBERS.values():
        raise Refusal("10", "format error [currencyCode]")
    check_signed_by(fields, merchant)
    _check_time(fields, now, tolerance)


def check_query(fields: Mapping[str, str], merchant: Merchant) -> None:
    """Every check of a single query (``txnType=00``); a query may ask about any past time."""
    _require(fields, QUERY_FIELDS)
    _check_envelope(fields, "00", "000000")
    check_signed_by(fields, merchant)
