"""What the two clients share: settings, building signed requests, reading answers,
and the retry bookkeeping. No I/O here; ``sync.py`` and ``aio.py`` only send.

Foreign errors (httpx's) are translated here, in :func:`transport_failure`, and
nowhere else.
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from importlib import metadata
from types import MappingProxyType
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from refundgate.client.amounts import amount_in_cents
from refundgate.client.errors import (
    ConfigurationError,
    ConnectionFailed,
    GatewayUnavailable,
    InvalidRequest,
    OutcomeUnknown,
    RefundGateError,
    RefundRefused,
    SignatureError,
    error_for_code,
)
from refundgate.client.results import MalformedRefund, Refund
from refundgate.client.retries import RetryPolicy
from refundgate.protocol import (
    Fields,
    ProtocolError,
    decode_request,
    sign,
    validate_query,
    validate_refund,
    verify,
)
from refundgate.protocol.fields import REFUND_FIELDS, FieldSpec

__all__ = [
    "DEFAULT_TIMEOUT",
    "ENVIRONMENT",
    "Attempts",
    "Call",
    "Failure",
    "Settings",
    "interpret",
    "transport_failure",
]

#: Seconds: to connect, and for everything else. A refund waits for the payment
#: channel (the gateway allows it 10 s by default), so reading gets 30 s.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)

#: The variables :meth:`RefundClient.from_env` reads, and what each is.
ENVIRONMENT: Mapping[str, str] = MappingProxyType(
    {
        "REFUNDGATE_BASE_URL": "the gateway's address, e.g. https://refunds.example.com (required)",
        "REFUNDGATE_MCH_ID": "your merchant id, mchId (required)",
        "REFUNDGATE_KEY": "your signing key (required; never printed)",
        "REFUNDGATE_LOGIN_NAME": "the operator refunds are made as, loginName (needed to refund)",
        "REFUNDGATE_CLIENT_IP": "clientIp sent with refunds (default 127.0.0.1)",
        "REFUNDGATE_TIMEOUT": "seconds to wait for an answer (default 30, 5 to connect)",
    }
)

_SPECS = {spec.name: spec for spec in REFUND_FIELDS}


@cache
def _version() -> str:
    try:
        return metadata.version("refundgate")
    except metadata.PackageNotFoundError:
        return "0"


def default_device() -> str:
    """``device`` sent with refunds unless told otherwise: this SDK and its version."""
    return f"refundgate-python/{_version()}"


def _checked(name: str, value: str, spec_name: str | None = None) -> str:
    spec: FieldSpec = _SPECS[spec_name or name]
    if not isinstance(value, str):
        raise ConfigurationError(f"{name} must be a str, not {type(value).__name__}")
    try:
        spec.check({spec.name: value})
    except ProtocolError as exc:
        raise ConfigurationError(
            exc.message.replace(f"request params[{spec.name}]", name)
        ) from None
    if not value:
        raise ConfigurationError(f"{name} is required")
    return value


def _base_url(value: str) -> str:
    if not isinstance(value, str):
        raise ConfigurationError(f"base_url must be a str, not {type(value).__name__}")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not 0-65535
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
    ):
        raise ConfigurationError(
            f"base_url must be an http(s) address such as https://refunds.example.com: {value!r}"
        )
    return value.rstrip("/")


@dataclass(frozen=True, slots=True)
class Settings:
    """A client's fixed settings. ``repr`` leaves the key out."""

    base_url: str
    mch_id: str
    key: str = field(repr=False)
    login_name: str | None = None
    client_ip: str = "127.0.0.1"
    device: str | None = None
    strict: bool = False

    @classmethod
    def checked(
        cls,
        *,
        base_url: str,
        mch_id: str,
        key: str,
        login_name: str | None,
        client_ip: str,
        device: str | None,
        strict: bool,
    ) -> Settings:
        if not isinstance(key, str) or not key:
            raise ConfigurationError("key must be the merchant's signing key, a non-empty str")
        return cls(
            base_url=_base_url(base_url),
            mch_id=_checked("mch_id", mch_id, "mchId"),
            key=key,
            login_name=None
            if login_name is None
            else _checked("login_name", login_name, "loginName"),
            client_ip=_checked("client_ip", client_ip, "clientIp"),
            device=None if device is None else _checked("device", device),
            strict=bool(strict),
        )

    def headers(self) -> dict[str, str]:
        return {
            "content-type": "application/x-www-form-urlencoded",
            "accept": "application/json",
            "user-agent": default_device(),
        }


def settings_from_env(environ: Mapping[str, str] | None) -> dict[str, Any]:
    """Constructor arguments from ``REFUNDGATE_*`` variables (see :data:`ENVIRONMENT`)."""
    env = os.environ if environ is None else environ

    def required(name: str) -> str:
        value = env.get(name, "")
        if not value:
            raise ConfigurationError(f"{name} is not set ({ENVIRONMENT[name]})")
        return value

    options: dict[str, Any] = {
        "base_url": required("REFUNDGATE_BASE_URL"),
        "mch_id": required("REFUNDGATE_MCH_ID"),
        "key": required("REFUNDGATE_KEY"),
        "login_name": env.get("REFUNDGATE_LOGIN_NAME") or None,
    }
    if env.get("REFUNDGATE_CLIENT_IP"):
        options["client_ip"] = env["REFUNDGATE_CLIENT_IP"]
    if env.get("REFUNDGATE_TIMEOUT"):
        text = env["REFUNDGATE_TIMEOUT"]
        try:
            seconds = float(text)
        except ValueError:
            seconds = -1.0
        if not 0 < seconds <= 600:
            raise ConfigurationError(f"REFUNDGATE_TIMEOUT must be seconds in (0, 600]: {text!r}")
        options["timeout"] = httpx.Timeout(seconds, connect=DEFAULT_TIMEOUT.connect)
    return options


class Kind(enum.Enum):
    REFUND = "/v1/refund_order"
    QUERY = "/v1/query_refund"


@dataclass(frozen=True, slots=True)
class Call:
    """One signed request, ready to be sent (and sent again, unchanged)."""

    kind: Kind
    url: str
    body: bytes
    fields: Mapping[str, str]

    @property
    def mch_refund_no(self) -> str | None:
        return self.fields.get("mchRefundNo")

    @property
    def changes_money(self) -> bool:
        return self.kind is Kind.REFUND


def _signed_call(settings: Settings, kind: Kind, fields: dict[str, str]) -> Call:
    fields = {name: value for name, value in fields.items() if value}
    signed = {**fields, "sign": sign(fields, settings.key)}
    # The gateway's own field rules, applied before anything leaves this process.
    try:
        if kind is Kind.REFUND:
            validate_refund(dict(signed))
        else:
            validate_query(dict(signed))
    except ProtocolError as exc:
        raise InvalidRequest(
            exc.message, err_code=None, mch_refund_no=fields.get("mchRefundNo")
        ) from None
    params = json.dumps(signed, ensure_ascii=False, separators=(",", ":"))
    body = urlencode({"params": params}).encode("ascii")
    return Call(kind, settings.base_url + kind.value, body, signed)


def _text(name: str, value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise InvalidRequest(f"{name} must be a str, not {type(value).__name__}")


def refund_call(
    settings: Settings,
    *,
    pay_order_id: str,
    mch_refund_no: str,
    amount: Decimal | str | None,
    amount_cents: int | None,
    currency: str | None,
    channel_id: str | None,
    notify_url: str | None,
    login_name: str | None,
    client_ip: str | None,
    device: str | None,
) -> Call:
    """The signed ``/v1/refund_order`` request; refused here if anything is wrong."""
    cents = amount_in_cents(amount=amount, amount_cents=amount_cents, currency=currency)
    operator = _text("login_name", login_name) or settings.login_name
    if operator is None:
        raise InvalidRequest(
            "a refund needs a login_name (the operator it is made as): pass it to the client"
            " or to refund(), or set REFUNDGATE_LOGIN_NAME"
        )
    fields = {
        "mchId": settings.mch_id,
        "mchRefundNo": _text("mch_refund_no", mch_refund_no) or "",
        "payOrderId": _text("pay_order_id", pay_order_id) or "",
        "refundAmount": str(cents),
        "loginName": operator,
        "clientIp": _text("client_ip", client_ip) or settings.client_ip,
        "device": _text("device", device) or settings.device or default_device(),
        "currency": _text("currency", currency) or "",
        "channelId": _text("channel_id", channel_id) or "",
        "notifyUrl": _text("notify_url", notify_url) or "",
    }
    return _signed_call(settings, Kind.REFUND, fields)


def query_call(
    settings: Settings, *, mch_refund_no: str | None, refund_order_id: str | None
) -> Call:
    """The signed ``/v1/query_refund`` request, by exactly one of the two ids."""
    if (mch_refund_no is None) == (refund_order_id is None):
        raise InvalidRequest("give exactly one of mch_refund_no and refund_order_id")
    fields = {
        "mchId": settings.mch_id,
        "mchRefundNo": _text("mch_refund_no", mch_refund_no) or "",
        "refundOrderId": _text("refund_order_id", refund_order_id) or "",
    }
    if not any(fields[name] for name in ("mchRefundNo", "refundOrderId")):
        raise InvalidRequest("mch_refund_no or refund_order_id must not be empty")
    return _signed_call(settings, Kind.QUERY, fields)


class Failure(Exception):
    """An attempt that gave no usable answer (internal: :class:`Attempts` decides)."""

    def __init__(
        self,
        error: GatewayUnavailable,
        *,
        maybe_applied: bool,
        retryable: bool,
        cause: BaseException | None = None,
    ) -> None:
        super().__init__(error.message)
        self.error = error
        self.maybe_applied = maybe_applied
        self.retryable = retryable
        self.cause = cause


#: Raised before a byte of the request can have left: nothing can have changed.
_NOT_SENT: tuple[type[httpx.RequestError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
)
#: Mistakes that another try cannot fix (and that happen before sending).
_HOPELESS: tuple[type[httpx.RequestError], ...] = (
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,
)


def transport_failure(call: Call, exc: httpx.RequestError) -> Failure:
    """httpx's error, translated: was the request maybe sent, and is a retry useful?"""
    sent = not isinstance(exc, _NOT_SENT + _HOPELESS)
    where = f"{call.kind.value} at {call.url}"
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if sent:
        message = f"no answer from {where} after sending ({detail})"
    else:
        message = f"could not send to {where} ({detail}); nothing was sent"
    error = ConnectionFailed(
        message, retry_safe=not (sent and call.changes_money), mch_refund_no=call.mch_refund_no
    )
    return Failure(
        error,
        maybe_applied=sent and call.changes_money,
        retryable=not isinstance(exc, _HOPELESS),
        cause=exc,
    )


def _unreadable(call: Call, why: str, *, retryable: bool = True) -> Failure:
    error = GatewayUnavailable(
        f"unusable answer from {call.kind.value}: {why}",
        retry_safe=not call.changes_money,
        mch_refund_no=call.mch_refund_no,
    )
    return Failure(error, maybe_applied=call.changes_money, retryable=retryable)


def _http_status(call: Call, status: int) -> Failure | RefundGateError:
    if status == 413:
        return InvalidRequest("request body too large (HTTP 413)", mch_refund_no=call.mch_refund_no)
    if status == 429 or status >= 500:
        # A 5xx may come from a proxy after the gateway acted; a 429 never does.
        error = GatewayUnavailable(
            f"HTTP {status} from {call.url}",
            retry_safe=status == 429 or not call.changes_money,
            mch_refund_no=call.mch_refund_no,
        )
        return Failure(error, maybe_applied=status != 429 and call.changes_money, retryable=True)
    return GatewayUnavailable(
        f"HTTP {status} from {call.url}: is base_url the gateway's address?",
        retry_safe=True,
        mch_refund_no=call.mch_refund_no,
    )


def _check_signature(settings: Settings, call: Call, fields: Fields) -> None:
    received = fields.get("sign")
    if received is None or received == "":
        if settings.strict and fields.get("retCode") == "SUCCESS":
            raise SignatureError(
                _signature_trouble(call, "the answer is not signed (strict mode)"),
                mch_refund_no=call.mch_refund_no,
            )
        return
    if not verify(fields, received, [settings.key]):
        raise SignatureError(
            _signature_trouble(call, "the answer's signature does not verify with our key"),
            mch_refund_no=call.mch_refund_no,
        )


def _signature_trouble(call: Call, what: str) -> str:
    if call.changes_money:
        return (
            f"{what}: the refund's outcome is unknown; check the key, then query"
            f" mch_refund_no={call.mch_refund_no}"
        )
    return f"{what}: check the key"


def _protocol_failure(call: Call, fields: Fields) -> Failure | RefundGateError:
    code = fields.get("errCode") or None
    ret_msg = fields.get("retMsg") or ""
    message = f"{code or 'FAIL'}: {ret_msg or 'refused'}"
    cls = error_for_code(code, business=False)
    if cls is GatewayUnavailable:  # SYSTEMERROR: the gateway's fault, nothing changed
        error = GatewayUnavailable(
            message,
            retry_safe=True,
            err_code=code,
            ret_msg=ret_msg,
            mch_refund_no=call.mch_refund_no,
        )
        return Failure(error, maybe_applied=False, retryable=True)
    return cls(message, err_code=code, ret_msg=ret_msg, mch_refund_no=call.mch_refund_no)


def _refund_of(call: Call, fields: Fields) -> Refund:
    try:
        refund = Refund.from_fields(fields)
    except MalformedRefund as exc:
        raise _unreadable(call, str(exc)) from None
    expected = {
        "mchId": fields.get("mchId"),
        "refundAmount": str(refund.amount_cents),
        "mchRefundNo": refund.mch_refund_no,
        "refundOrderId": refund.refund_order_id,
        "payOrderId": refund.pay_order_id,
    }
    asked = {name: value for name, value in call.fields.items() if name in expected}
    differing = sorted(name for name, value in asked.items() if expected[name] != value)
    if differing:
        raise _unreadable(
            call, f"it describes another refund ({', '.join(differing)} differ)", retryable=False
        )
    return refund


def _refusal(call: Call, fields: Fields) -> RefundGateError | Refund:
    code = fields.get("errCode") or None
    description = fields.get("errCodeDes") or ""
    described = fields.get("refundOrderId") and fields.get("status")
    refund = _refund_of(call, fields) if described else None
    if call.kind is Kind.QUERY and refund is not None:
        # A query that finds a failed refund has found it: the refund says why it failed.
        return refund
    cls = error_for_code(code, business=True)
    message = f"{code or 'FAIL'}: {description or 'refused'}"
    if issubclass(cls, RefundRefused):
        return cls(
            message,
            err_code=code,
            err_code_des=description,
            mch_refund_no=call.mch_refund_no,
            refund=refund,
        )
    # A protocol-level code in a business answer: still the class of its code.
    return cls(message, err_code=code, err_code_des=description, mch_refund_no=call.mch_refund_no)


def interpret(settings: Settings, call: Call, status: int, content: bytes) -> Refund:
    """The refund an answer describes, or the error it means.

    Raises :class:`Failure` for an answer that another try may improve on.
    Success needs ``retCode`` *and* ``resCode`` to say SUCCESS (IOTPay's PHP
    sample accepts either: iotpay-v1-research.md §9, pitfall 4).
    """
    if status != 200:
        raise _http_status(call, status)
    try:
        # Answers are the same JSON objects as requests: string or number values.
        fields = decode_request(content, "application/json")
    except ProtocolError as exc:
        raise _unreadable(call, f"not a JSON answer ({exc.message})") from None
    _check_signature(settings, call, fields)
    ret_code, res_code = fields.get("retCode"), fields.get("resCode")
    if ret_code == "FAIL":
        raise _protocol_failure(call, fields)
    if ret_code != "SUCCESS":
        raise _unreadable(call, f"retCode is {ret_code!r}")
    if res_code == "SUCCESS":
        return _refund_of(call, fields)
    if res_code == "FAIL":
        outcome = _refusal(call, fields)
        if isinstance(outcome, Refund):
            return outcome
        raise outcome
    raise _unreadable(call, f"retCode is SUCCESS but resCode is {res_code!r}")


class Attempts:
    """The tries of one call: counts them, remembers whether any may have been
    applied, and decides whether to go on (returning the wait) or to stop (raising)."""

    def __init__(self, call: Call, policy: RetryPolicy) -> None:
        self._call = call
        self._policy = policy
        self.made = 0
        self.maybe_applied = False

    def failed(self, failure: Failure) -> float:
        """Record ``failure``; the seconds to wait before the next try, or raise."""
        self.made += 1
        self.maybe_applied = self.maybe_applied or failure.maybe_applied
        if failure.retryable and self.made < self._policy.attempts:
            return self._policy.delay(self.made)
        raise self._final(failure) from failure.cause

    def answered(self, error: RefundGateError) -> None:
        """Check a definitive error answer; raise :class:`OutcomeUnknown` instead when
        an earlier try may have been applied and ``error`` does not say what became of it.

        A business refusal does: the gateway checks the refund number before any
        rule, so it refuses only when no refund has that number. A protocol
        failure or an HTTP error on a later try (a key rotated, a proxy
        misrouted) says nothing about the earlier try. A bad answer signature
        already says the outcome is unknown.
        """
        if self.maybe_applied and not isinstance(error, RefundRefused | SignatureError):
            raise self._unknown(error.message, self.made + 1) from error

    def _final(self, failure: Failure) -> GatewayUnavailable:
        if not self.maybe_applied:
            return failure.error
        return self._unknown(failure.error.message, self.made)

    def _unknown(self, last: str, made: int) -> OutcomeUnknown:
        number = self._call.mch_refund_no or ""
        tries = "1 attempt" if made == 1 else f"{made} attempts"
        return OutcomeUnknown(
            f"outcome unknown after {tries} ({last}): the refund may have been made;"
            f" query later with mch_refund_no={number}, never refund under a new number",
            mch_refund_no=number,
        )
