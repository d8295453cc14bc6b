"""The WeChat Pay v2 connector: ``secapi/pay/refund``, ``pay/refundquery``, refund notify.

Which of our fields go where (channels.md §A.2):

* ``out_refund_no`` is our ``refund_order_id``, the idempotency key (G3);
* the trade is WeChat's ``transaction_id`` when the order knows it
  (``PayOrder.channel_order_no``), else ``out_trade_no`` = our ``pay_order_id``,
  the number we gave WeChat when the buyer paid;
* ``total_fee`` is the order's amount, ``refund_fee`` the refund's, both in the
  currency's minor units (fen), ``refund_fee_type`` its currency.

How answers end (G4)::

    never connected (connect error, pool timeout)           → NotSent
    timeout, reset, non-200, unparsable, unsigned
      (every return_code=FAIL), unverifiable, or naming
      another refund                                        → OutcomeUnknown
    refund: result_code=SUCCESS (accepted, not yet done)    → PROCESSING
    refund: err_code of class DEFINITIVE                    → FAILED
    refund: err_code UNKNOWN, RETRY_LATER or not in table   → OutcomeUnknown
    query: refund_status SUCCESS / REFUNDCLOSE / PROCESSING → SUCCEEDED / FAILED / PROCESSING
    query: refund_status CHANGE (needs a person)            → PROCESSING, code CHANGE
    query: REFUNDNOTEXIST                                   → NotSent (resend, same key)
    query: any other error                                  → OutcomeUnknown

A query never fails a refund through an error of its own: only a verified
``REFUNDCLOSE`` does.
"""

from __future__ import annotations

import asyncio
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType

import httpx

from refundgate.channels.wechat import wire
from refundgate.channels.wechat.signing import (
    SignType,
    UndecryptableNotify,
    decrypt_req_info,
    sign,
    verify,
)
from refundgate.channels.wechat.tls import ClientCertificate, tls_context
from refundgate.domain.secret import Secret
from refundgate.ports import (
    CUT_OFF,
    CallbackInvalid,
    ChannelCallback,
    ChannelOutcome,
    ChannelRefund,
    ChannelResult,
    NotSent,
    OutcomeUnknown,
)

__all__ = ["Exchange", "WeChatConnector", "WeChatCredentials"]

_REFUND_PATH = "secapi/pay/refund"
_QUERY_PATH = "pay/refundquery"
_CONTENT_TYPE = "text/xml; charset=utf-8"
_MASK = "********"

#: Failures that happen before a single byte of the request is written.
_BEFORE_SENDING = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

_QUERY_RESULTS: Mapping[wire.RefundStatusWord, ChannelResult] = {
    wire.RefundStatusWord.SUCCEEDED: ChannelResult.SUCCEEDED,
    wire.RefundStatusWord.FAILED: ChannelResult.FAILED,
    wire.RefundStatusWord.PROCESSING: ChannelResult.PROCESSING,
    # CHANGE: the money bounced back to the merchant; neither done nor failed
    # until a person decides, so the reservation is kept (reconciliation → REVIEW).
    wire.RefundStatusWord.ABNORMAL: ChannelResult.PROCESSING,
}


@dataclass(frozen=True, slots=True)
class WeChatCredentials:
    """A WeChat Pay merchant: app id, merchant id, v2 API key, API client certificate."""

    appid: str
    mch_id: str
    api_key: Secret
    client_cert: ClientCertificate | None = None


@dataclass(frozen=True, slots=True)
class Exchange:
    """One call as kept on record (G6), the API key masked wherever it appears."""

    operation: str
    out_refund_no: str
    request: str
    status_code: int | None = None
    answer: str | None = None
    error: str | None = None


def _nonce() -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))


class WeChatConnector:
    """Refunds, refund queries and refund notifies of one WeChat Pay merchant."""

    def __init__(
        self,
        credentials: WeChatCredentials,
        *,
        base_url: str = "https://api.mch.weixin.qq.com/",
        notify_url: str | None = None,
        timeout_s: float = 10.0,
        sign_type: SignType = SignType.MD5,
        trust_pem: str | None = None,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        nonce: Callable[[], str] = _nonce,
        on_exchange: Callable[[Exchange], None] | None = None,
    ) -> None:
        url = httpx.URL(base_url if base_url.endswith("/") else base_url + "/")
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("the WeChat Pay base URL must be an http(s) URL")
        if not 0 < timeout_s <= 300:
            raise ValueError("timeout_s must be in (0, 300]")
        self._credentials = credentials
        self._base_url = url
        self._notify_url = notify_url
        self._timeout_s = timeout_s
        self._sign_type = sign_type
        self._nonce = nonce
        self._on_exchange = on_exchange
        self._owns_client = client is None
        self._client = client or self._new_client(transport, trust_pem)

    def _new_client(
        self, transport: httpx.AsyncBaseTransport | None, trust_pem: str | None
    ) -> httpx.AsyncClient:
        if transport is not None:
            return httpx.AsyncClient(transport=transport)
        context = tls_context(self._credentials.client_cert, trust_pem)
        return httpx.AsyncClient(verify=context)

    def __repr__(self) -> str:
        creds = self._credentials
        return f"WeChatConnector(appid={creds.appid!r}, mch_id={creds.mch_id!r})"

    # ------------------------------------------------------------ the port

    async def refund(self, request: ChannelRefund) -> ChannelOutcome:
        """Ask for the refund; accepted means PROCESSING (WeChat settles later)."""
        creds, refund, order = self._credentials, request.refund, request.order
        fields = wire.refund_fields(
            appid=creds.appid,
            mch_id=creds.mch_id,
            nonce_str=self._nonce(),
            sign_type=self._sign_type.value,
            trade=_trade(request),
            out_refund_no=refund.refund_order_id,
            total_fee=order.amount,
            refund_fee=refund.amount,
            currency=refund.currency,
            notify_url=self._notify_url,
        )
        answer = await self._call("refund", _REFUND_PATH, fields)
        if answer.get("result_code") == "SUCCESS":
            self._check_echo(answer, refund.refund_order_id, str(refund.amount))
            return ChannelOutcome(
                ChannelResult.PROCESSING, channel_refund_id=answer.get("refund_id"), code="SUCCESS"
            )
        return _refused(answer)

    async def query(self, request: ChannelRefund) -> ChannelOutcome:
        """Ask what became of the refund numbered by our refund id."""
        creds, out_refund_no = self._credentials, request.refund.refund_order_id
        fields = wire.query_fields(
            appid=creds.appid,
            mch_id=creds.mch_id,
            nonce_str=self._nonce(),
            sign_type=self._sign_type.value,
            out_refund_no=out_refund_no,
        )
        answer = await self._call("query", _QUERY_PATH, fields)
        if answer.get("result_code") != "SUCCESS":
            code = answer.get("err_code", "?")
            if code == "REFUNDNOTEXIST":
                raise NotSent(f"wechat: no refund {out_refund_no}; send it again")
            raise OutcomeUnknown(f"wechat: query failed with {code}")
        return _queried(answer, out_refund_no)

    def parse_callback(self, body: bytes, content_type: str) -> ChannelCallback:
        """Open and read a refund notify (§A.7); raise CallbackInvalid if untrusted."""
        creds = self._credentials
        try:
            outer = wire.decode_xml(body)
        except wire.MalformedXml as exc:
            raise CallbackInvalid(f"wechat notify: {exc}") from exc
        if outer.get("return_code") != "SUCCESS":
            raise CallbackInvalid("wechat notify: return_code is not SUCCESS")
        if outer.get("appid") != creds.appid or outer.get("mch_id") != creds.mch_id:
            raise CallbackInvalid("wechat notify: for another merchant")
        try:
            plain = decrypt_req_info(outer.get("req_info", ""), creds.api_key.reveal())
            inner = wire.decode_xml(plain, root="root")
        except (UndecryptableNotify, wire.MalformedXml) as exc:
            raise CallbackInvalid(f"wechat notify: {exc}") from exc
        return _callback(inner)

    def reject_callback(self) -> tuple[int, bytes, str]:
        """WeChat retries anything but SUCCESS; a forged notify learns nothing more."""
        body = wire.encode_xml({"return_code": "FAIL", "return_msg": "rejected"})
        return 400, body, _CONTENT_TYPE

    async def aclose(self) -> None:
        """Close the HTTP client, unless it was handed in by the caller."""
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> WeChatConnector:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------ one call

    async def _call(self, operation: str, path: str, fields: dict[str, str]) -> dict[str, str]:
        key = self._credentials.api_key.reveal()
        fields["sign"] = sign(fields, key, self._sign_type)
        body = wire.encode_xml(fields)
        exchange = Exchange(operation, fields["out_refund_no"], self._masked(body))
        try:
            response = await self._post(path, body)
        except (NotSent, OutcomeUnknown) as exc:
            self._record(exchange, error=str(exc))
            raise
        except asyncio.CancelledError:  # the caller's deadline: sent, maybe received (G6)
            self._record(exchange, error=CUT_OFF)
            raise
        self._record(exchange, response.status_code, self._masked(response.content))
        return self._verified(response)

    async def _post(self, path: str, body: bytes) -> httpx.Response:
        url = self._base_url.join(path)
        headers = {"content-type": _CONTENT_TYPE}
        try:
            # The transport's own timeouts do not cover every transport (an
            # in-process ASGI app has none), so the deadline is also kept here.
            async with asyncio.timeout(self._timeout_s):
                return await self._client.post(
                    url, content=body, headers=headers, timeout=self._timeout_s
                )
        except _BEFORE_SENDING as exc:
            raise NotSent(f"wechat: could not connect ({type(exc).__name__})") from exc
        except (httpx.HTTPError, TimeoutError) as exc:
            raise OutcomeUnknown(f"wechat: no answer ({type(exc).__name__})") from exc

    def _verified(self, response: httpx.Response) -> dict[str, str]:
        if response.status_code != 200:
            raise OutcomeUnknown(f"wechat: HTTP {response.status_code}")
        try:
            answer = wire.decode_xml(response.content)
        except wire.MalformedXml as exc:
            raise OutcomeUnknown(f"wechat: unreadable answer ({exc})") from exc
        if answer.get("return_code") != "SUCCESS":
            # Unsigned by design: whatever it says, it proves nothing (G4).
            message = answer.get("return_msg", "")
            code = wire.RETURN_MESSAGES.get(message.strip(), "return_code FAIL")
            raise OutcomeUnknown(f"wechat: unsigned refusal {code} ({message[:80]})")
        key = self._credentials.api_key.reveal()
        if not verify(answer, key, self._sign_type):
            raise OutcomeUnknown("wechat: the answer's signature does not verify")
        creds = self._credentials
        if answer.get("appid") != creds.appid or answer.get("mch_id") != creds.mch_id:
            raise OutcomeUnknown("wechat: the answer is for another merchant")
        return answer

    @staticmethod
    def _check_echo(answer: Mapping[str, str], out_refund_no: str, refund_fee: str) -> None:
        if answer.get("out_refund_no") != out_refund_no or answer.get("refund_fee") != refund_fee:
            raise OutcomeUnknown("wechat: the answer names another refund")

    def _masked(self, data: bytes) -> str:
        text = data.decode("utf-8", "replace")
        return text.replace(self._credentials.api_key.reveal(), _MASK)

    def _record(
        self,
        exchange: Exchange,
        status_code: int | None = None,
        answer: str | None = None,
        *,
        error: str | None = None,
    ) -> None:
        if self._on_exchange is None:
            return
        self._on_exchange(
            Exchange(
                exchange.operation, exchange.out_refund_no, exchange.request,
                status_code, answer, error,
            )
        )  # fmt: skip


def _trade(request: ChannelRefund) -> dict[str, str]:
    order = request.order
    if order.channel_order_no:
        return {"transaction_id": order.channel_order_no}
    return {"out_trade_no": order.pay_order_id}


def _refused(answer: Mapping[str, str]) -> ChannelOutcome:
    code = answer.get("err_code", "")
    message = answer.get("err_code_des", "")
    kind = wire.classify(code)
    if kind is wire.CodeClass.DEFINITIVE:
        return ChannelOutcome(ChannelResult.FAILED, code=code, message=message or None)
    if kind is wire.CodeClass.RETRY_LATER:
        raise OutcomeUnknown(f"wechat: {code}, not accepted now; retry with the same number")
    raise OutcomeUnknown(f"wechat: {code or 'no err_code'}, the refund may exist; query it")


def _queried(answer: Mapping[str, str], out_refund_no: str) -> ChannelOutcome:
    index = wire.refund_index(answer, out_refund_no)
    if index is None:
        raise OutcomeUnknown(f"wechat: the query answer does not list {out_refund_no}")
    word = answer.get(f"refund_status_{index}", "")
    try:
        status = wire.refund_status(word)
    except KeyError:
        raise OutcomeUnknown(f"wechat: unknown refund_status {word[:40]!r}") from None
    return _status_outcome(status, word, answer.get(f"refund_id_{index}"))


def _status_outcome(
    status: wire.RefundStatusWord, word: str, refund_id: str | None
) -> ChannelOutcome:
    result = _QUERY_RESULTS[status]
    message = None
    if status is wire.RefundStatusWord.FAILED:
        message = "refund closed by WeChat"
    elif status is wire.RefundStatusWord.ABNORMAL:
        message = "refund abnormal: the money came back to the merchant; handle it by hand"
    return ChannelOutcome(result, channel_refund_id=refund_id, code=word, message=message)


def _callback(inner: Mapping[str, str]) -> ChannelCallback:
    out_refund_no = inner.get("out_refund_no", "")
    word = inner.get("refund_status", "")
    if not out_refund_no:
        raise CallbackInvalid("wechat notify: no out_refund_no")
    try:
        status = wire.refund_status(word)
    except KeyError:
        raise CallbackInvalid(f"wechat notify: unknown refund_status {word[:40]!r}") from None
    outcome = _status_outcome(status, word, inner.get("refund_id"))
    return ChannelCallback(out_refund_no, outcome, wire.ACK, _CONTENT_TYPE)
