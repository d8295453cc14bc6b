"""What the simulated gateway checks before any business rule (channels.md §C.9 1–2).

Parameters may come in the query string, the form body, or both (the official
SDK splits them; others send all of one kind). Checks, in Alipay's order:
required common parameters (``40001 isv.missing-*``), known values
(``40002 isv.invalid-*``), then the RSA2 signature with the app's public key
(``40002 isv.invalid-signature``). All of these answers go out unsigned.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import parse_qsl

from refundgate.sandbox.alipay.answers import Refusal
from refundgate.sandbox.alipay.rsa2 import KeyPair, signed_text
from refundgate.sandbox.simulator import Request

__all__ = ["BEIJING", "Call", "check_call", "read_params"]

BEIJING = timezone(timedelta(hours=8))

_REQUIRED = (
    ("method", "isv.missing-method"),
    ("app_id", "isv.missing-app-id"),
    ("charset", "isv.missing-charset"),
    ("sign_type", "isv.missing-signature-type"),
    ("sign", "isv.missing-signature"),
    ("timestamp", "isv.missing-timestamp"),
    ("version", "isv.missing-version"),
)
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
_FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True, slots=True)
class Call:
    """A request that passed the gateway: its method, parameters and biz_content."""

    method: str
    params: Mapping[str, str]
    biz: Mapping[str, object]


def read_params(request: Request) -> dict[str, str]:
    """Every parameter of the request, from its query string and its form body."""
    params = dict(request.query)
    if request.body and request.content_type.split(";")[0].strip().lower() in ("", _FORM):
        try:
            text = request.body.decode("utf-8")
            form = parse_qsl(text, keep_blank_values=True, errors="strict")
        except (UnicodeDecodeError, ValueError) as exc:
            raise Refusal("40002", "isv.invalid-encoding", signed=False) from exc
        for name, value in form:
            if params.get(name, value) != value:  # one name, two values: which was signed?
                raise Refusal("40002", "isv.invalid-parameter", signed=False)
            params[name] = value
    return params


def _check_values(params: Mapping[str, str], app_id: str, methods: frozenset[str]) -> None:
    for name, sub_code in _REQUIRED:
        if not params.get(name):
            raise Refusal("40001", sub_code, signed=False)
    checks = (
        (params["method"] in methods, "isv.invalid-method"),
        (params["app_id"] == app_id, "isv.invalid-app-id"),
        (params["sign_type"] == "RSA2", "isv.invalid-signature-type"),
        (params["charset"].lower() in ("utf-8", "utf8"), "isv.invalid-charset"),
        (params.get("format", "JSON").upper() == "JSON", "isv.invalid-format"),
        (params["version"] == "1.0", "isv.invalid-version"),
        (_timestamp(params["timestamp"]) is not None, "isv.invalid-timestamp"),
    )
    for passed, sub_code in checks:
        if not passed:
            raise Refusal("40002", sub_code, signed=False)


def _timestamp(text: str) -> datetime | None:
    if not _TIMESTAMP.fullmatch(text):
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
    except ValueError:
        return None


def _check_skew(params: Mapping[str, str], now: datetime, skew: timedelta | None) -> None:
    sent = _timestamp(params["timestamp"])
    if skew is not None and sent is not None and abs(sent - now) > skew:
        raise Refusal("40002", "isv.invalid-timestamp", signed=False)


def _biz(params: Mapping[str, str]) -> dict[str, object]:
    try:
        # Decimal keeps a JSON number such as 12.30 exactly as it was written.
        biz = json.loads(params.get("biz_content", ""), parse_float=Decimal)
    except ValueError as exc:
        raise Refusal("40004", "ACQ.INVALID_PARAMETER") from exc
    if not isinstance(biz, dict):
        raise Refusal("40004", "ACQ.INVALID_PARAMETER")
    return biz


def check_call(
    params: Mapping[str, str],
    *,
    app_id: str,
    app_key: KeyPair,
    methods: frozenset[str],
    now: datetime,
    skew: timedelta | None = None,
) -> Call:
    """The checked call, or raise :class:`Refusal`."""
    _check_values(params, app_id, methods)
    _check_skew(params, now, skew)
    if not app_key.verifies(signed_text(params), params["sign"]):
        raise Refusal("40002", "isv.invalid-signature", signed=False)
    return Call(params["method"], params, _biz(params))
