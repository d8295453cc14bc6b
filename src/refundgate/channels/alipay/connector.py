"""The Alipay connector: ``alipay.trade.refund`` and its query over HTTP.

Which of our fields go where (channels.md §C.3, §C.7):

* ``out_request_no`` is our ``refund_order_id``, the idempotency key (G3);
* the trade is Alipay's ``trade_no`` when the order knows it
  (``PayOrder.channel_order_no``), else ``out_trade_no`` = our ``pay_order_id``,
  the number we gave Alipay when the buyer paid;
* ``channel_refund_id`` is Alipay's ``trade_no``: Alipay names a refund only by
  its trade and request number, it has no refund id of its own.

How answers end (G4)::

    never connected (connect error, pool timeout)       → NotSent
    timeout, reset, non-200, garbage, unsigned or
      unverifiable answer                               → OutcomeUnknown
    verified: 10000 + fund_change Y / REFUND_SUCCESS    → SUCCEEDED
    verified: a definitive code of wire's tables        → FAILED
    verified: anything else (unknown codes, 20000,
      fund_change N, empty query)                       → PROCESSING, with the code

Alipay has no refund callback; outcomes come from the answer or a query.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType, TracebackType
from urllib.parse import urlencode

import httpx

from refundgate.channels.alipay import signing, wire
from refundgate.domain.secret import Secret
from refundgate.ports import (
    CUT_OFF,
    ChannelOutcome,
    ChannelRefund,
    ChannelResult,
    NotSent,
    OutcomeUnknown,
)

__all__ = ["AlipayConnector", "AlipayCredentials", "Exchange"]

_CONTENT_TYPE = "application/x-www-form-urlencoded;charset=utf-8"

#: Failures that happen before a single byte of the request is written.
_BEFORE_SENDING = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

_RESULTS = MappingProxyType(
    {
        wire.Verdict.SUCCEEDED: ChannelResult.SUCCEEDED,
        wire.Verdict.FAILED: ChannelResult.FAILED,
        wire.Verdict.UNKNOWN: ChannelResult.PROCESSING,
        wire.Verdict.RETRY_LATER: ChannelResult.PROCESSING,
    }
)

#: ISO 4217 currencies whose minor unit is not a hundredth: Alipay's two-decimal
#: amounts cannot carry them, so such a refund is refused before it is sent.
_NOT_CENTS = frozenset({"BHD", "CLP", "IQD", "ISK", "JOD", "JPY", "KRW", "KWD", "LYD",
                        "OMR", "TND", "UGX", "VND", "XAF", "XOF"})  # fmt: skip
_UNSUPPORTED_CURRENCY = "refundgate.CURRENCY_NOT_IN_CENTS"


@dataclass(frozen=True, slots=True)
class AlipayCredentials:
    """An Alipay application: its id, its private key, and Alipay's public key.

    Keys are PEM text or the bare base64 bodies Alipay's key tool produces.
    """

    app_id: str
    app_private_key: Secret
    alipay_public_key: str


@dataclass(frozen=True, slots=True)
class Exchange:
    """One call as kept on record (G6).

    The request holds no secret (the key only makes the ``sign``), so it is kept
    whole; ``answer`` is the body exactly as received.
    """

    method: str
    out_request_no: str
    request: Mapping[str, str]
    status_code: int | None = None
    answer: str | None = None
    error: str | None = None


def _system_now_ms() -> int:
    return time.time_ns() // 1_000_000


class AlipayConnector:
    """Refunds and refund queries through one Alipay application."""

    def __init__(
        self,
        credentials: AlipayCredentials,
        *,
        gateway_url: str,
        timeout_s: float = 10.0,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        now_ms: Callable[[], int] = _system_now_ms,
        on_exchange: Callable[[Exchange], None] | None = None,
    ) -> None:
        url = httpx.URL(gateway_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("the Alipay gateway URL must be an http(s) URL")
        self._app_id = credentials.app_id
        self._private_key = signing.load_private_key(credentials.app_private_key.reveal())
        self._public_key = signing.load_public_key(credentials.alipay_public_key)
        self._url = url
        self._timeout = httpx.Timeout(timeout_s)
        self._deadline_s = timeout_s
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(transport=transport)
        self._now_ms = now_ms
        self._on_exchange = on_exchange

    def __repr__(self) -> str:
        return f"AlipayConnector(app_id={self._app_id!r}, gateway_url={str(self._url)!r})"

    async def refund(self, request: ChannelRefund) -> ChannelOutcome:
        """Ask Alipay to refund; our refund id is the ``out_request_no``."""
        amount = _amount(request)
        if amount is None:
            return _unsupported(request)
        trade = _trade(request)
        key = request.refund.refund_order_id
        biz = wire.refund_biz_content(trade, refund_amount=amount, out_request_no=key)
        reply = await self._call(wire.METHOD_REFUND, biz, key)
        if _names_other_trade(reply.fields, trade):
            return _anomaly(reply.fields, "the answer names another trade")
        return _outcome(wire.read_refund(reply.fields), reply.fields)

    async def query(self, request: ChannelRefund) -> ChannelOutcome:
        """Ask Alipay what became of the refund numbered by our refund id."""
        amount = _amount(request)
        if amount is None:
            return _unsupported(request)
        trade = _trade(request)
        key = request.refund.refund_order_id
        biz = wire.query_biz_content(trade, out_request_no=key)
        reply = await self._call(wire.METHOD_QUERY, biz, key)
        if _names_other_trade(reply.fields, trade):
            return _anomaly(reply.fields, "the answer names another trade")
        reading = wire.read_query(reply.fields, out_request_no=key, amount=amount)
        return _outcome(reading, reply.fields)

    async def aclose(self) -> None:
        """Close the HTTP client, unless it was handed in by the caller."""
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> AlipayConnector:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------ one call

    def _signed(self, method: str, biz_content: str) -> dict[str, str]:
        timestamp = wire.beijing_timestamp(self._now_ms())
        params = wire.request_params(
            app_id=self._app_id, method=method, timestamp=timestamp, biz_content=biz_content
        )
        params["sign"] = signing.sign_content(signing.content_to_sign(params), self._private_key)
        return params

    async def _call(self, method: str, biz_content: str, key: str) -> wire.Reply:
        params = self._signed(method, biz_content)
        exchange = Exchange(method, key, MappingProxyType(params))
        try:
            response = await self._post(params)
        except (NotSent, OutcomeUnknown) as exc:
            self._record(exchange, error=str(exc))
            raise
        except asyncio.CancelledError:  # the caller's deadline: sent, maybe received (G6)
            self._record(exchange, error=CUT_OFF)
            raise
        self._record(exchange, status_code=response.status_code, answer=response.text)
        return self._verified(response, method)

    async def _post(self, params: Mapping[str, str]) -> httpx.Response:
        body = urlencode(params).encode("ascii")
        headers = {"content-type": _CONTENT_TYPE}
        try:
            # httpx times each read and write; the overall deadline also stops a
            # server that drips its answer, and transports that ignore timeouts.
            async with asyncio.timeout(self._deadline_s):
                return await self._client.post(
                    self._url, content=body, headers=headers, timeout=self._timeout
                )
        except TimeoutError as exc:
            raise OutcomeUnknown("alipay: no answer before the deadline") from exc
        except _BEFORE_SENDING as exc:
            raise NotSent(f"alipay: could not connect ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise OutcomeUnknown(f"alipay: no answer ({type(exc).__name__})") from exc

    def _verified(self, response: httpx.Response, method: str) -> wire.Reply:
        if response.status_code != 200:
            raise OutcomeUnknown(f"alipay: HTTP {response.status_code}")
        try:
            reply = wire.parse_reply(response.content.decode("utf-8"), method)
        except (UnicodeDecodeError, wire.MalformedReply) as exc:
            raise OutcomeUnknown(f"alipay: unreadable answer ({exc})") from exc
        if reply.sign is None:
            # Gateway errors such as 40002 isv.invalid-signature come unsigned;
            # nothing proves they are Alipay's, so they settle nothing (G4).
            code, _ = _code(reply.fields)
            raise OutcomeUnknown(f"alipay: unsigned answer (code {code})")
        if not signing.verify_content(reply.node_text, reply.sign, self._public_key):
            raise OutcomeUnknown("alipay: the answer's signature does not verify")
        return reply

    def _record(
        self,
        exchange: Exchange,
        *,
        status_code: int | None = None,
        answer: str | None = None,
        error: str | None = None,
    ) -> None:
        if self._on_exchange is not None:
            self._on_exchange(
                replace(exchange, status_code=status_code, answer=answer, error=error)
            )


def _trade(request: ChannelRefund) -> wire.TradeRef:
    order = request.order
    return wire.TradeRef(out_trade_no=order.pay_order_id, trade_no=order.channel_order_no)


def _amount(request: ChannelRefund) -> str | None:
    if request.refund.currency in _NOT_CENTS:
        return None
    return wire.major_units(request.refund.amount)


def _unsupported(request: ChannelRefund) -> ChannelOutcome:
    # Nothing was sent and nothing ever can be: a definitive failure of ours.
    message = f"{request.refund.currency} amounts are not in hundredths; Alipay cannot take them"
    return ChannelOutcome(ChannelResult.FAILED, code=_UNSUPPORTED_CURRENCY, message=message)


def _names_other_trade(fields: Mapping[str, object], trade: wire.TradeRef) -> bool:
    return any(
        isinstance(fields.get(name), str) and fields.get(name) not in ("", sent)
        for name, sent in trade.fields().items()
    )


def _code(fields: Mapping[str, object]) -> tuple[str, str]:
    code, message = fields.get("sub_code") or fields.get("code"), fields.get("msg")
    return str(code or "?"), str(message or "")


def _trade_no(fields: Mapping[str, object]) -> str | None:
    value = fields.get("trade_no")
    return value if isinstance(value, str) and value else None


def _outcome(reading: wire.Reading, fields: Mapping[str, object]) -> ChannelOutcome:
    return ChannelOutcome(
        _RESULTS[reading.verdict],
        channel_refund_id=_trade_no(fields),
        code=reading.code or None,
        message=reading.message or None,
    )


def _anomaly(fields: Mapping[str, object], message: str) -> ChannelOutcome:
    code, _ = _code(fields)
    return ChannelOutcome(ChannelResult.PROCESSING, code=code, message=message)
