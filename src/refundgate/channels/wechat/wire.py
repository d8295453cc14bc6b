"""WeChat Pay v2 on the wire: flat XML, answer codes, refund statuses (channels.md §A).

Every code of the refund table (§A.5) is sorted into one of three classes;
a code not in the table is :attr:`CodeClass.UNKNOWN`, so a new code can never
make a refund fail. Statuses map by a total table; an unknown one raises.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from types import MappingProxyType
from xml.etree.ElementTree import Element, ParseError

# defusedxml ships no type information.
from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]

__all__ = [
    "ACK",
    "REFUND_CODES",
    "REFUND_STATUSES",
    "RETURN_MESSAGES",
    "CodeClass",
    "MalformedXml",
    "RefundStatusWord",
    "classify",
    "decode_xml",
    "encode_xml",
    "query_fields",
    "refund_fields",
    "refund_index",
    "refund_status",
]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PLAIN = re.compile(r"[0-9]+")
_XML_LIMIT = 64 * 1024


class MalformedXml(Exception):
    """Not a flat WeChat XML document."""


def _cdata(value: str) -> str:
    # "]]>" cannot sit inside one CDATA section: close and reopen around it.
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def encode_xml(fields: Mapping[str, str], root: str = "xml") -> bytes:
    """``<xml><k>v</k>…</xml>``: digits bare, everything else in CDATA, as WeChat writes it."""
    parts = [f"<{root}>"]
    for name, value in fields.items():
        if not _NAME.fullmatch(name):
            raise ValueError(f"not an XML field name: {name!r}")
        text = value if _PLAIN.fullmatch(value) else _cdata(value)
        parts.append(f"<{name}>{text}</{name}>")
    parts.append(f"</{root}>")
    return "".join(parts).encode("utf-8")


def decode_xml(body: bytes, root: str = "xml") -> dict[str, str]:
    """The fields of a flat document rooted at ``root``; no DTD, no entities, no nesting."""
    if len(body) > _XML_LIMIT:
        raise MalformedXml("document too large")
    try:
        element: Element = fromstring(body, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise MalformedXml(f"unparsable: {type(exc).__name__}") from exc
    if element.tag != root:
        raise MalformedXml(f"root is <{element.tag}>, expected <{root}>")
    if (element.text or "").strip():
        raise MalformedXml("text outside the fields")
    fields: dict[str, str] = {}
    for child in element:
        if len(child) or child.tag in fields or (child.tail or "").strip():
            raise MalformedXml(f"<{child.tag}> is nested, repeated or followed by text")
        # Kept exactly as sent, spaces included: the signature covers the raw value.
        fields[child.tag] = child.text or ""
    return fields


class CodeClass(enum.Enum):
    """What an ``err_code`` says about the refund asked for."""

    #: Not done and never will be under this request: the refund failed.
    DEFINITIVE = "definitive"
    #: May have been done: query with the same ``out_refund_no`` before anything else.
    UNKNOWN = "unknown"
    #: Not accepted now; send again later with the same number and parameters.
    RETRY_LATER = "retry_later"


_D, _U, _R = CodeClass.DEFINITIVE, CodeClass.UNKNOWN, CodeClass.RETRY_LATER

#: Every code of §A.5.
REFUND_CODES: Mapping[str, CodeClass] = MappingProxyType(
    {
        "SYSTEMERROR": _U,
        "BIZERR_NEED_RETRY": _U,
        # "Amounts differ from an earlier request under this number": an earlier
        # refund may exist under it, so this must be queried, never taken as failed.
        "INVALID_REQUEST": _U,
        "REFUND_FEE_MISMATCH": _U,
        "FREQUENCY_LIMITED": _R,
        "INVALID_REQ_TOO_MUCH": _R,
        "ORDER_NOT_READY": _R,
        "NOTENOUGH": _D,
        "TRADE_OVERDUE": _D,
        "USER_ACCOUNT_ABNORMAL": _D,
        "ERROR": _D,
        "ORDERNOTEXIST": _D,
        "INVALID_TRANSACTIONID": _D,
        "PARAM_ERROR": _D,
        "APPID_NOT_EXIST": _D,
        "MCHID_NOT_EXIST": _D,
        "APPID_MCHID_NOT_MATCH": _D,
        "REQUIRE_POST_METHOD": _D,
        "SIGNERROR": _D,
        "XML_FORMAT_ERROR": _D,
        "NOAUTH": _D,
        "CERT_ERROR": _D,
        "LACK_PARAMS": _D,
        "NOT_UTF8": _D,
        "POST_DATA_EMPTY": _D,
    }
)


def classify(err_code: str) -> CodeClass:
    """The class of a refund ``err_code``; anything not in the table is unknown."""
    return REFUND_CODES.get(err_code, CodeClass.UNKNOWN)


#: ``return_code=FAIL`` comes with a free-text ``return_msg`` and no ``sign``.
#: These are the messages WeChat is known to use [inf: from SDK issue threads],
#: named by the code they stand for. They only label the record: an unsigned
#: answer can never prove a refund failed (G4).
RETURN_MESSAGES: Mapping[str, str] = MappingProxyType(
    {
        "签名错误": "SIGNERROR",
        "参数格式校验错误": "PARAM_ERROR",
        "XML格式错误": "XML_FORMAT_ERROR",
        "缺少参数": "LACK_PARAMS",
        "invalid refund_fee": "PARAM_ERROR",
        "invalid total_fee": "PARAM_ERROR",
        "请使用post方法": "REQUIRE_POST_METHOD",
        "编码格式错误": "NOT_UTF8",
        "post数据为空": "POST_DATA_EMPTY",
        "证书错误": "CERT_ERROR",
    }
)


class RefundStatusWord(enum.Enum):
    """Where a refund stands, in our words."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    PROCESSING = "PROCESSING"
    #: WeChat's ``CHANGE``: the money could not reach the payer; a person must act.
    ABNORMAL = "ABNORMAL"


#: ``refund_status`` of refundquery and of the notify (§A.6, §A.7).
REFUND_STATUSES: Mapping[str, RefundStatusWord] = MappingProxyType(
    {
        "SUCCESS": RefundStatusWord.SUCCEEDED,
        "REFUNDCLOSE": RefundStatusWord.FAILED,
        "PROCESSING": RefundStatusWord.PROCESSING,
        "CHANGE": RefundStatusWord.ABNORMAL,
    }
)


def refund_status(word: str) -> RefundStatusWord:
    """Map a ``refund_status``; a word not in the table raises ``KeyError``."""
    return REFUND_STATUSES[word]


#: What we answer a notify we have applied (§A.7).
ACK = encode_xml({"return_code": "SUCCESS", "return_msg": "OK"})


def refund_fields(
    *,
    appid: str,
    mch_id: str,
    nonce_str: str,
    sign_type: str,
    trade: Mapping[str, str],
    out_refund_no: str,
    total_fee: int,
    refund_fee: int,
    currency: str,
    notify_url: str | None,
) -> dict[str, str]:
    """The fields of a ``secapi/pay/refund`` request, before ``sign`` (§A.2).

    ``trade`` is ``{"transaction_id": …}`` or ``{"out_trade_no": …}``.
    """
    fields = {
        "appid": appid,
        "mch_id": mch_id,
        "nonce_str": nonce_str,
        "sign_type": sign_type,
        **trade,
        "out_refund_no": out_refund_no,
        "total_fee": str(total_fee),
        "refund_fee": str(refund_fee),
        "refund_fee_type": currency,
    }
    if notify_url:
        fields["notify_url"] = notify_url
    return fields


def query_fields(
    *, appid: str, mch_id: str, nonce_str: str, sign_type: str, out_refund_no: str
) -> dict[str, str]:
    """The fields of a ``pay/refundquery`` by refund number, before ``sign`` (§A.6)."""
    return {
        "appid": appid,
        "mch_id": mch_id,
        "nonce_str": nonce_str,
        "sign_type": sign_type,
        "out_refund_no": out_refund_no,
    }


def refund_index(fields: Mapping[str, str], out_refund_no: str) -> str | None:
    """The ``$n`` under which a refundquery answer lists ``out_refund_no``."""
    for name, value in fields.items():
        if name.startswith("out_refund_no_") and value == out_refund_no:
            return name.removeprefix("out_refund_no_")
    return None
