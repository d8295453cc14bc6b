"""Alipay OpenAPI on the wire: parameters, amounts, answers and their codes.

Sources are the sections of channels.md: §C.2 (common parameters), §C.3 and
§C.7 (biz_content of ``alipay.trade.refund`` and
``alipay.trade.fastpay.refund.query``), §C.4 and §C.5 (the answer and the raw
node its signature covers), §C.6 (answer codes), §C.7 (what a query says).

Every answer is read into a :class:`Reading` whose :class:`Verdict` is one of:

* ``SUCCEEDED``: the refund is done;
* ``FAILED``: definitive: nothing was refunded under this request number;
* ``UNKNOWN``: it may be done or may yet be done: query with the same key;
* ``RETRY_LATER``: the channel asks to be called again later with the same key.

A code that is not in the tables is ``UNKNOWN``: only listed codes fail a refund.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Context, Decimal, Inexact, InvalidOperation, Rounded
from types import MappingProxyType

__all__ = [
    "BEIJING",
    "GATEWAY_CODES",
    "METHOD_QUERY",
    "METHOD_REFUND",
    "QUERY_SUB_CODES",
    "REFUND_SUB_CODES",
    "MalformedReply",
    "Reading",
    "Reply",
    "TradeRef",
    "Verdict",
    "beijing_timestamp",
    "major_units",
    "minor_units",
    "parse_reply",
    "query_biz_content",
    "read_query",
    "read_refund",
    "refund_biz_content",
    "request_params",
    "response_node_name",
]

METHOD_REFUND = "alipay.trade.refund"
METHOD_QUERY = "alipay.trade.fastpay.refund.query"

#: Alipay's clock: China Standard Time, UTC+8 all year (no daylight saving).
BEIJING = timezone(timedelta(hours=8), "CST")

#: Arithmetic that raises instead of rounding: an amount converts exactly or not at all.
_EXACT = Context(prec=200, traps=[Inexact, Rounded, InvalidOperation])
_AMOUNT = re.compile(r"(0|[1-9][0-9]{0,29})(\.[0-9]{1,2})?")


# ---------------------------------------------------------------- amounts


def major_units(minor: int) -> str:
    """``1230`` fen → ``"12.30"`` yuan, exactly (Decimal, never float)."""
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise TypeError("an amount is whole minor units")
    if minor <= 0:
        raise ValueError("a refund amount is positive")
    return format(Decimal(minor).scaleb(-2, _EXACT), "f")


def minor_units(text: str) -> int:
    """``"12.3"`` or ``"12.30"`` yuan → ``1230`` fen; anything else raises ValueError."""
    if not _AMOUNT.fullmatch(text):
        raise ValueError(f"not a yuan amount with at most 2 decimals: {text!r}")
    return int(Decimal(text).scaleb(2, _EXACT))


# ---------------------------------------------------------------- requests


def beijing_timestamp(now_ms: int) -> str:
    """``yyyy-MM-dd HH:mm:ss`` in Beijing time, the form the gateway expects."""
    moment = datetime.fromtimestamp(now_ms // 1000, tz=BEIJING)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True, slots=True)
class TradeRef:
    """The paid trade a refund belongs to: Alipay's ``trade_no`` or our ``out_trade_no``.

    Alipay's own number is unambiguous, so it is sent alone when known.
    """

    out_trade_no: str
    trade_no: str | None = None

    def fields(self) -> dict[str, str]:
        if self.trade_no:
            return {"trade_no": self.trade_no}
        return {"out_trade_no": self.out_trade_no}


def _compact(fields: Mapping[str, str]) -> str:
    return json.dumps(dict(fields), separators=(",", ":"), ensure_ascii=False)


def refund_biz_content(trade: TradeRef, *, refund_amount: str, out_request_no: str) -> str:
    """biz_content of ``alipay.trade.refund`` (§C.3)."""
    return _compact(
        {**trade.fields(), "refund_amount": refund_amount, "out_request_no": out_request_no}
    )


def query_biz_content(trade: TradeRef, *, out_request_no: str) -> str:
    """biz_content of ``alipay.trade.fastpay.refund.query`` (§C.7)."""
    return _compact({**trade.fields(), "out_request_no": out_request_no})


def request_params(*, app_id: str, method: str, timestamp: str, biz_content: str) -> dict[str, str]:
    """The common parameters of §C.2 around ``biz_content``, before signing."""
    return {
        "app_id": app_id,
        "method": method,
        "format": "JSON",
        "charset": "utf-8",
        "sign_type": "RSA2",
        "timestamp": timestamp,
        "version": "1.0",
        "biz_content": biz_content,
    }


# ---------------------------------------------------------------- answers


class MalformedReply(ValueError):
    """An answer that is not the JSON shape of §C.4."""


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer split as §C.5 requires: the node's exact text, its fields, the sign."""

    node_name: str
    node_text: str
    fields: Mapping[str, object]
    sign: str | None


def response_node_name(method: str) -> str:
    """``alipay.trade.refund`` → ``alipay_trade_refund_response``."""
    return method.replace(".", "_") + "_response"


def _reject_constant(name: str) -> object:
    raise MalformedReply(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_SPACE = re.compile(r"[ \t\n\r]*")


def _skip(body: str, index: int) -> int:
    match = _SPACE.match(body, index)
    return match.end() if match else index


def _expect(body: str, index: int, char: str) -> int:
    if body[index : index + 1] != char:
        raise MalformedReply(f"expected {char!r} at offset {index}")
    return _skip(body, index + 1)


def _members(body: str) -> Iterator[tuple[object, object, int, int]]:
    """Each top-level member: name, value and the span of the value's raw text."""
    index = _expect(body, _skip(body, 0), "{")
    if body[index : index + 1] == "}":
        index = _skip(body, index + 1)
    else:
        while True:
            if body[index : index + 1] != '"':
                raise MalformedReply(f"expected a member name at offset {index}")
            name, index = _DECODER.raw_decode(body, index)
            index = _expect(body, _skip(body, index), ":")
            value, end = _DECODER.raw_decode(body, index)
            yield name, value, index, end
            index = _skip(body, end)
            if body[index : index + 1] != ",":
                index = _expect(body, index, "}")
                break
            index = _skip(body, index + 1)
    if index != len(body):
        raise MalformedReply("text after the JSON object")


def _split(body: str) -> dict[str, tuple[object, str]]:
    seen: dict[str, tuple[object, str]] = {}
    try:
        for name, value, start, end in _members(body):
            if (
                not isinstance(name, str) or name in seen
            ):  # two nodes: which one was signed would be ambiguous
                raise MalformedReply(f"member {name!r} repeated or not a name")
            seen[name] = (value, body[start:end])
    except (ValueError, IndexError) as exc:
        if isinstance(exc, MalformedReply):
            raise
        raise MalformedReply(str(exc)) from exc
    return seen


def parse_reply(body: str, method: str) -> Reply:
    """Split a gateway answer to ``method`` into its raw response node and ``sign``."""
    members = _split(body)
    names = [n for n in (response_node_name(method), "error_response") if n in members]
    if len(names) != 1:
        raise MalformedReply("no single response node in the answer")
    value, text = members[names[0]]
    if not isinstance(value, dict):
        raise MalformedReply("the response node is not an object")
    sign = members.get("sign", (None, ""))[0]
    if sign is not None and not isinstance(sign, str):
        raise MalformedReply("sign is not a string")
    return Reply(names[0], text, MappingProxyType(value), sign or None)


# ---------------------------------------------------------------- codes


class Verdict(enum.Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"
    RETRY_LATER = "retry_later"


_F, _U, _R = Verdict.FAILED, Verdict.UNKNOWN, Verdict.RETRY_LATER

#: ``sub_code`` of a ``40004`` (business failure) answer to a refund (§C.6).
REFUND_SUB_CODES: Mapping[str, Verdict] = MappingProxyType(
    {
        "ACQ.SYSTEM_ERROR": _U,
        "ACQ.REFUND_CHARGE_ERROR": _R,
        # The number was used before with other content; that earlier refund may
        # have succeeded, so this is not a failure of *our* refund: query it.
        "ACQ.DISCORDANT_REPEAT_REQUEST": _U,
        "ACQ.SELLER_BALANCE_NOT_ENOUGH": _F,
        "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL": _F,
        "ACQ.REASON_TRADE_REFUND_FEE_ERR": _F,
        "ACQ.REFUND_FEE_ERROR": _F,
        "ACQ.TRADE_NOT_EXIST": _F,
        "ACQ.TRADE_HAS_FINISHED": _F,
        "ACQ.TRADE_STATUS_ERROR": _F,
        "ACQ.REASON_TRADE_STATUS_INVALID": _F,
        "ACQ.TRADE_HAS_CLOSE": _F,
        "ACQ.TRADE_NOT_ALLOW_REFUND": _F,
        "ACQ.NOT_ALLOW_PARTIAL_REFUND": _F,
        "ACQ.ONLINE_TRADE_VOUCHER_NOT_ALLOW_REFUND": _F,
        "ACQ.REASON_TRADE_BEEN_FREEZEN": _F,
        "ACQ.INVALID_PARAMETER": _F,
        "ACQ.CURRENCY_NOT_SUPPORT": _F,
        "ACQ.BUYER_ERROR": _F,
        "ACQ.CUSTOMER_VALIDATE_ERROR": _F,
        "ACQ.TRADE_SETTLE_ERROR": _F,
    }
)

#: Gateway ``code`` values whose meaning does not depend on the sub_code (§C.6).
GATEWAY_CODES: Mapping[str, Verdict] = MappingProxyType(
    {
        "20000": _U,  # service unavailable: maybe applied, retry the same key or query
        "20001": _F,  # auth token problem: never reached business processing
        "40001": _F,  # missing parameter
        "40002": _F,  # invalid parameter, signature, app id, timestamp…
        "40006": _F,  # insufficient permissions
    }
)

#: A query that fails tells nothing of the refund, except that its trade is
#: unknown: a rejected query (40002, a bad parameter) never fails the refund.
QUERY_SUB_CODES: Mapping[str, Verdict] = MappingProxyType({"ACQ.TRADE_NOT_EXIST": _F})
_NO_CODES: Mapping[str, Verdict] = MappingProxyType({})

SUCCESS = "10000"
BUSINESS_FAILURE = "40004"


@dataclass(frozen=True, slots=True)
class Reading:
    """What an answer means for our refund, with the channel's code and message."""

    verdict: Verdict
    code: str
    message: str


def _text(fields: Mapping[str, object], name: str) -> str | None:
    value = fields.get(name)
    return value if isinstance(value, str) and value else None


def _code_and_message(fields: Mapping[str, object]) -> tuple[str, str]:
    code = _text(fields, "sub_code") or _text(fields, "code") or ""
    message = _text(fields, "sub_msg") or _text(fields, "msg") or ""
    return code, message


def _failure(
    fields: Mapping[str, object],
    sub_codes: Mapping[str, Verdict],
    gateway_codes: Mapping[str, Verdict],
) -> Reading:
    code, message = _code_and_message(fields)
    gateway_code = _text(fields, "code") or ""
    if gateway_code == BUSINESS_FAILURE:
        verdict = sub_codes.get(_text(fields, "sub_code") or "", Verdict.UNKNOWN)
    else:
        verdict = gateway_codes.get(gateway_code, Verdict.UNKNOWN)
    return Reading(verdict, code, message)


def read_refund(fields: Mapping[str, object]) -> Reading:
    """The meaning of a verified ``alipay_trade_refund_response`` (§C.4, §C.6)."""
    if _text(fields, "code") != SUCCESS:
        return _failure(fields, REFUND_SUB_CODES, GATEWAY_CODES)
    if _text(fields, "fund_change") == "Y":
        return Reading(Verdict.SUCCEEDED, SUCCESS, _text(fields, "msg") or "")
    # fund_change N: this call moved nothing, usually because an earlier call
    # did; Alipay's guidance is to confirm with the refund query (§C.4).
    return Reading(Verdict.UNKNOWN, SUCCESS, "fund_change is not Y: confirm with a query")


def read_query(fields: Mapping[str, object], *, out_request_no: str, amount: str) -> Reading:
    """The meaning of a verified refund-query answer for our refund (§C.7).

    ``amount`` is the yuan string we asked to refund; a refund recorded under our
    number with another amount is an anomaly, never a success.
    """
    if _text(fields, "code") != SUCCESS:
        return _failure(fields, QUERY_SUB_CODES, _NO_CODES)
    status = _text(fields, "refund_status")
    recorded = _text(fields, "refund_amount")
    if _text(fields, "out_request_no") not in (None, out_request_no):
        return Reading(Verdict.UNKNOWN, SUCCESS, "the answer names another out_request_no")
    if status is None and recorded is None:
        # No refund under this number (yet): never received, failed, or still
        # settling. Resending with the same number is safe; failing it is not.
        return Reading(Verdict.UNKNOWN, SUCCESS, "no refund under this out_request_no yet")
    if recorded is not None and not _same_amount(recorded, amount):
        return Reading(Verdict.UNKNOWN, SUCCESS, f"refund recorded for {recorded}, not {amount}")
    if status in (None, "REFUND_SUCCESS"):
        # An absent status with a recorded amount is the older form of success (§C.7).
        return Reading(Verdict.SUCCEEDED, status or SUCCESS, _text(fields, "msg") or "")
    return Reading(Verdict.UNKNOWN, status, "refund status not known to mean success")


def _same_amount(recorded: str, amount: str) -> bool:
    try:
        return minor_units(recorded) == minor_units(amount)
    except ValueError:
        return False
