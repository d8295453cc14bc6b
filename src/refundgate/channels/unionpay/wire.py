"""UnionPay ACP 5.1.0 on the wire: request fields, the reply format, the code tables.

Sources: channels.md §D.1 (transport), §D.2 (refund fields), §D.3 (``respCode``),
§D.5 (query), §D.6 (notify). Requests are ``application/x-www-form-urlencoded``;
replies are ``k=v&k=v`` with *raw* values, where a value may hold ``{…}`` or
``[…]`` with ``&`` inside, so they are read by scanning, as the official SDK does.

Every ``respCode`` of §D.3 sits in :data:`RESP_CODES`, sorted into one
:class:`CodeClass`; a code not in the table is :attr:`CodeClass.UNKNOWN`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType
from urllib.parse import parse_qsl, urlencode

__all__ = [
    "MAX_ATTEMPTS",
    "RESP_CODES",
    "Attempt",
    "CodeClass",
    "MerchantProfile",
    "OrigResult",
    "ReplyUnreadable",
    "attempt_number",
    "attempt_order_id",
    "classify",
    "classify_orig",
    "currency_code",
    "encode_form",
    "parse_form",
    "parse_reply",
    "query_fields",
    "refund_fields",
    "txn_time",
]

VERSION = "5.1.0"
ENCODING = "UTF-8"
SIGN_METHOD = "01"
TXN_REFUND = "04"
TXN_QUERY = "00"

#: Beijing time: every ACP timestamp is in UTC+8 (no daylight saving).
BEIJING = timezone(timedelta(hours=8))

#: Attempts of one refund we can name: orderId is at most 40 characters (§D.2).
MAX_ATTEMPTS = 99

_ORDER_ID = re.compile(r"[A-Za-z0-9]{8,40}")
_SUFFIX = re.compile(r"R([0-9]{2})")


class ReplyUnreadable(ValueError):
    """A body that is not a well-formed ``k=v&k=v`` (or form) message."""


class CodeClass(enum.Enum):
    """What a ``respCode`` means for the request it answers."""

    ACCEPTED = "accepted"  # taken in; the refund's final result comes later
    FAILED = "failed"  # definitive: nothing was or will be refunded by this attempt
    UNKNOWN = "unknown"  # it may have been applied: query this orderId + txnTime
    RETRY_LATER = "retry_later"  # not processed now; asking again later is safe


def _codes(codes: str, cls: CodeClass) -> dict[str, CodeClass]:
    return dict.fromkeys(codes.split(), cls)


#: §D.3, one row per code. ``12`` (duplicate orderId) and ``34`` (no such
#: transaction) are unknown for a refund: the attempt exists, or may still arrive.
RESP_CODES: Mapping[str, CodeClass] = MappingProxyType(
    {
        **_codes("00 A6", CodeClass.ACCEPTED),
        **_codes("03 04 05 12 34", CodeClass.UNKNOWN),
        **_codes("02 37", CodeClass.RETRY_LATER),
        **_codes("01 10 11 13 14 30 31 32 33 35 36 38 39 40 41", CodeClass.FAILED),
        **_codes(" ".join(str(code) for code in range(60, 80)), CodeClass.FAILED),
    }
)


def classify(resp_code: str) -> CodeClass:
    """The class of a refund's ``respCode``; anything outside §D.3 is unknown."""
    return RESP_CODES.get(resp_code, CodeClass.UNKNOWN)


class OrigResult(enum.Enum):
    """What a query's ``origRespCode`` (or a notify's ``respCode``) says of the refund."""

    SUCCEEDED = "succeeded"
    PROCESSING = "processing"
    FAILED = "failed"
    UNKNOWN = "unknown"


def classify_orig(code: str) -> OrigResult:
    """The refund's own result (§D.5): ``00``/``A6`` done, ``03``–``05`` pending.

    ``02`` (closed, not processed) and every definitive code of §D.3 are a
    failure; anything else is unknown, never a failure.
    """
    if code in ("00", "A6"):
        return OrigResult.SUCCEEDED
    if code in ("03", "04", "05"):
        return OrigResult.PROCESSING
    if code == "02" or RESP_CODES.get(code) is CodeClass.FAILED:
        return OrigResult.FAILED
    return OrigResult.UNKNOWN


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try at a refund on UnionPay: the pair that names it there (§D.7)."""

    order_id: str
    txn_time: str


def attempt_order_id(refund_order_id: str, number: int) -> str:
    """``orderId`` of try ``number``: our refund id, then ``R`` + two digits from try 2.

    Raises ValueError when the result breaks §D.2 (8–40 letters or digits).
    """
    if not 1 <= number <= MAX_ATTEMPTS:
        raise ValueError(f"attempt number {number} is out of 1..{MAX_ATTEMPTS}")
    order_id = refund_order_id if number == 1 else f"{refund_order_id}R{number:02d}"
    if not _ORDER_ID.fullmatch(order_id):
        raise ValueError(f"{order_id!r} is not a UnionPay orderId (8-40 letters or digits)")
    return order_id


def attempt_number(order_id: str, refund_order_id: str) -> int | None:
    """Which attempt of ``refund_order_id`` the ``orderId`` names, or None if none."""
    if not refund_order_id or not order_id.startswith(refund_order_id):
        return None
    suffix = order_id[len(refund_order_id) :]
    if suffix == "":
        return 1
    number = _SUFFIX.fullmatch(suffix)
    return int(number.group(1)) if number and int(number.group(1)) >= 2 else None


def txn_time(epoch_ms: int) -> str:
    """``txnTime``: ``YYYYMMDDhhmmss`` in Beijing time."""
    moment = datetime.fromtimestamp(epoch_ms // 1000, tz=UTC).astimezone(BEIJING)
    return moment.strftime("%Y%m%d%H%M%S")


#: ISO 4217 numeric codes of the currencies we refund (§D.2: CNY is 156).
_CURRENCIES = MappingProxyType(
    {"CNY": "156", "CAD": "124", "USD": "840", "HKD": "344", "EUR": "978", "GBP": "826"}
)


def currency_code(currency: str) -> str:
    """``currencyCode`` of an ISO currency; ValueError if UnionPay is not used for it."""
    try:
        return _CURRENCIES[currency]
    except KeyError:
        raise ValueError(f"no UnionPay currencyCode for {currency!r}") from None


@dataclass(frozen=True, slots=True)
class MerchantProfile:
    """The merchant-side constants of every request (§D.2)."""

    mer_id: str
    cert_id: str
    biz_type: str = "000201"
    channel_type: str = "07"
    access_type: str = "0"


def _common(merchant: MerchantProfile, attempt: Attempt) -> dict[str, str]:
    return {
        "version": VERSION,
        "encoding": ENCODING,
        "signMethod": SIGN_METHOD,
        "certId": merchant.cert_id,
        "txnSubType": "00",
        "accessType": merchant.access_type,
        "merId": merchant.mer_id,
        "orderId": attempt.order_id,
        "txnTime": attempt.txn_time,
    }


def refund_fields(
    merchant: MerchantProfile,
    attempt: Attempt,
    *,
    orig_qry_id: str,
    amount: int,
    currency: str,
    back_url: str,
    req_reserved: str,
) -> dict[str, str]:
    """The unsigned fields of a refund (``txnType=04``, §D.2); ``amount`` in fen."""
    if amount <= 0:
        raise ValueError("a refund amount must be positive")
    return {
        **_common(merchant, attempt),
        "txnType": TXN_REFUND,
        "bizType": merchant.biz_type,
        "channelType": merchant.channel_type,
        "origQryId": orig_qry_id,
        "txnAmt": str(amount),
        "currencyCode": currency_code(currency),
        "backUrl": back_url,
        "reqReserved": req_reserved,
    }


def query_fields(merchant: MerchantProfile, attempt: Attempt) -> dict[str, str]:
    """The unsigned fields of a single query (``txnType=00``, §D.5) about ``attempt``."""
    return {**_common(merchant, attempt), "txnType": TXN_QUERY, "bizType": "000000"}


def encode_form(fields: Mapping[str, str]) -> bytes:
    """A request body: the fields URL-encoded (§D.1)."""
    return urlencode(dict(fields)).encode("ascii")


def parse_form(body: bytes) -> dict[str, str]:
    """A URL-encoded form (the backUrl notify); ReplyUnreadable if malformed or repeated."""
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ReplyUnreadable(f"not a form: {exc}") from None
    return _unique(pairs)


_OPENERS = {"{": "}", "[": "]"}


def parse_reply(text: str) -> dict[str, str]:
    """A synchronous reply: raw ``k=v&k=v`` where ``{…}``/``[…]`` values are opaque.

    Brackets nest; an unbalanced one, a pair without ``=``, an empty key or a
    repeated key makes the whole reply unreadable.
    """
    pairs: list[tuple[str, str]] = []
    closers: list[str] = []
    start = 0
    for index, char in enumerate(text):
        if closers and char == closers[-1]:
            closers.pop()
        elif char in _OPENERS:
            closers.append(_OPENERS[char])
        elif char == "&" and not closers:
            pairs.append(_pair(text[start:index]))
            start = index + 1
    if closers:
        raise ReplyUnreadable("unbalanced bracket in the reply")
    pairs.append(_pair(text[start:]))
    return _unique(pairs)


def _pair(item: str) -> tuple[str, str]:
    key, equals, value = item.partition("=")
    if not equals or not key or any(c in key for c in "{}[]"):
        raise ReplyUnreadable(f"not a k=v pair: {item[:40]!r}")
    return key, value


def _unique(pairs: list[tuple[str, str]]) -> dict[str, str]:
    fields = dict(pairs)
    if len(fields) != len(pairs):
        raise ReplyUnreadable("a field appears twice")
    return fields
