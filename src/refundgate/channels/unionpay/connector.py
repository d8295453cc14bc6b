"""The UnionPay ACP 5.1.0 connector: refund (``txnType=04``), query (``00``), backUrl notify.

UnionPay has no idempotency key (channels.md §D.7): a refund attempt is named
by its ``orderId`` + ``txnTime``, and sending the same pair twice is refused as
a duplicate. So the connector derives both from the stored refund, and the
port's :meth:`~UnionPayConnector.refund` and :meth:`~UnionPayConnector.query`
always speak of attempt 1:

* ``orderId`` = our ``refund_order_id`` (alphanumeric, 8–40 characters);
* ``txnTime`` = the refund's ``created_at`` in Beijing time.

A later attempt (allowed only once a query proved the previous one failed, or
never arrived: :class:`AttemptNotFound`) gets ``orderId`` + ``R`` + two digits
and the time it is sent; whoever makes one must store its :class:`Attempt`
before sending, and ask :meth:`~UnionPayConnector.query_attempt` about it.
Every request carries our refund id in ``reqReserved``, which UnionPay echoes,
so a notify names its refund whatever the attempt.

The original payment's UnionPay ``queryId`` (``origQryId``) is the pay order's
``channel_order_no``.

Errors, translated here once::

    connect failure, pool timeout, bad URL        -> NotSent
    respCode 02 / 37 on a refund (not processed)  -> NotSent
    read/write timeout, reset, non-200, garbage,
    unverifiable signature, codes not definitive  -> OutcomeUnknown
    query respCode 34 (no such transaction)       -> AttemptNotFound (an OutcomeUnknown)
    a definitive respCode                         -> ChannelOutcome(FAILED, code, message)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType

import httpx

from refundgate.channels.unionpay import signing, wire
from refundgate.channels.unionpay.wire import Attempt, CodeClass, OrigResult
from refundgate.domain.secret import Secret
from refundgate.ports import (
    CUT_OFF,
    CallbackInvalid,
    ChannelCallback,
    ChannelOutcome,
    ChannelRefund,
    ChannelResult,
    Clock,
    NoSuchRefund,
    NotSent,
    OutcomeUnknown,
)

__all__ = [
    "AttemptNotFound",
    "Exchange",
    "UnionPayConnector",
    "UnionPayCredentials",
    "UnionPayNotify",
]

REFUND_PATH = "/gateway/api/backTransReq.do"
QUERY_PATH = "/gateway/api/queryTrans.do"

_ACK = (b"ok", "text/plain; charset=utf-8")
_REJECT = (400, b"invalid notify", "text/plain; charset=utf-8")


class AttemptNotFound(NoSuchRefund):
    """The query found no such ``orderId`` + ``txnTime`` (``respCode=34``): not (yet) there."""


@dataclass(frozen=True, slots=True)
class UnionPayCredentials:
    """A merchant's UnionPay account.

    ``sign_key`` is the merchant's RSA private key (PEM), ``sign_cert_pem`` its
    certificate (whose serial is the ``certId``), ``verify_pem`` UnionPay's root
    and intermediate certificates, and ``identities`` the CN identities a
    UnionPay signing certificate may carry (production by default).
    """

    mer_id: str
    sign_key: Secret
    sign_cert_pem: str
    verify_pem: str
    identities: frozenset[str] = frozenset({signing.PRODUCTION_IDENTITY})

    @classmethod
    def from_mapping(cls, data: Mapping[str, str]) -> UnionPayCredentials:
        """Read the simulator's ``/_control/credentials`` JSON (and the same keys in config)."""
        identity = data.get("verify_identity", signing.PRODUCTION_IDENTITY)
        return cls(
            mer_id=data["mer_id"],
            sign_key=Secret(data["sign_key_pem"]),
            sign_cert_pem=data["sign_cert_pem"],
            verify_pem=data["verify_cert_pem"],
            identities=frozenset({identity}),
        )


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request and what came back, for the refund's event record (G6).

    Holds no secret: the signature and certificate are shortened, and ACP
    messages carry no key.
    """

    operation: str
    request: Mapping[str, str]
    reply: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    error: str | None = None


@dataclass(frozen=True, slots=True)
class UnionPayNotify:
    """A verified backUrl notify: the attempt it reports and the refund's result."""

    refund_order_id: str
    attempt: Attempt
    amount: int
    outcome: ChannelOutcome


class _SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class UnionPayConnector:
    """Refunds and queries through UnionPay's backend gateway, and reads its notifies."""

    def __init__(
        self,
        credentials: UnionPayCredentials,
        *,
        base_url: str,
        back_url: str,
        timeout_s: float = 10.0,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        biz_type: str = "000201",
        channel_type: str = "07",
        clock: Clock | None = None,
        recorder: Callable[[Exchange], None] | None = None,
    ) -> None:
        sign_cert = signing.load_certificates(credentials.sign_cert_pem)[0]
        self._key = signing.load_signing_key(credentials.sign_key)
        self._merchant = wire.MerchantProfile(
            credentials.mer_id, signing.cert_id(sign_cert), biz_type, channel_type
        )
        self._trust = signing.SignerTrust.from_bundle(
            credentials.verify_pem, identities=credentials.identities
        )
        self._base_url = base_url.rstrip("/")
        self._back_url = back_url
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(transport=transport, timeout=timeout_s)
        self._timeout = httpx.Timeout(timeout_s)
        self._deadline_s = timeout_s
        self._clock = clock or _SystemClock()
        self._recorder = recorder

    async def aclose(self) -> None:
        """Close the HTTP client if this connector made it."""
        if self._owns_client:
            await self._client.aclose()

    # -- attempts ---------------------------------------------------------

    @staticmethod
    def first_attempt(request: ChannelRefund) -> Attempt:
        """Attempt 1: our refund id and the refund's creation time."""
        refund = request.refund
        return Attempt(
            wire.attempt_order_id(refund.refund_order_id, 1), wire.txn_time(refund.created_at)
        )

    def next_attempt(self, request: ChannelRefund, number: int) -> Attempt:
        """Attempt ``number`` (≥ 2), timed now; store it before sending it."""
        order_id = wire.attempt_order_id(request.refund.refund_order_id, number)
        return Attempt(order_id, wire.txn_time(self._clock.now_ms()))

    # -- the port -----------------------------------------------------------

    async def refund(self, request: ChannelRefund) -> ChannelOutcome:
        """Send attempt 1 of the refund; ``respCode=00`` means accepted (PROCESSING)."""
        return await self.refund_attempt(request, self._attempt_one(request))

    async def query(self, request: ChannelRefund) -> ChannelOutcome:
        """Ask what became of attempt 1 of the refund."""
        return await self.query_attempt(request, self._attempt_one(request))

    async def refund_attempt(self, request: ChannelRefund, attempt: Attempt) -> ChannelOutcome:
        """Send one attempt of the refund (``txnType=04``)."""
        fields = self._refund_fields(request, attempt)
        reply = await self._call("refund", REFUND_PATH, fields, attempt)
        code, message = reply.get("respCode", ""), reply.get("respMsg")
        verdict = wire.classify(code)
        if verdict is CodeClass.ACCEPTED:
            return ChannelOutcome(ChannelResult.PROCESSING, reply.get("queryId"), code, message)
        if verdict is CodeClass.FAILED:
            return ChannelOutcome(ChannelResult.FAILED, None, code, message)
        if verdict is CodeClass.RETRY_LATER:
            raise NotSent(f"UnionPay did not process the refund now: respCode {code} {message}")
        raise OutcomeUnknown(f"UnionPay refund answer respCode {code!r}: {message}")

    async def query_attempt(self, request: ChannelRefund, attempt: Attempt) -> ChannelOutcome:
        """Ask about one attempt (``txnType=00``); a query's own failure is never the refund's."""
        fields = wire.query_fields(self._merchant, attempt)
        reply = await self._call("query", QUERY_PATH, fields, attempt)
        code, message = reply.get("respCode", ""), reply.get("respMsg")
        if code == "34":
            raise AttemptNotFound(
                f"UnionPay has no refund {attempt.order_id} at {attempt.txn_time}"
            )
        if code != "00":
            raise OutcomeUnknown(f"UnionPay query answered respCode {code!r}: {message}")
        _check_refund_reply(reply, request.refund.amount)
        return _orig_outcome(reply, reply.get("origRespCode", ""), reply.get("origRespMsg"))

    # -- the backUrl notify -------------------------------------------------

    def parse_callback(self, body: bytes, content_type: str) -> ChannelCallback:
        """Verify and read a backUrl notify; :class:`CallbackInvalid` if it is not trusted."""
        notify = self.read_notify(body, content_type)
        return ChannelCallback(notify.refund_order_id, notify.outcome, *_ACK)

    def reject_callback(self) -> tuple[int, bytes, str]:
        """Anything but HTTP 200 makes UnionPay send the notify again (§D.6)."""
        return _REJECT

    def read_notify(self, body: bytes, content_type: str) -> UnionPayNotify:
        """The notify with its attempt and amount, which the caller matches to the stored refund."""
        if "application/x-www-form-urlencoded" not in content_type.lower():
            raise CallbackInvalid("a UnionPay notify is a form post")
        try:
            fields = wire.parse_form(body)
            self._verify(fields)
        except (wire.ReplyUnreadable, OutcomeUnknown) as exc:
            raise CallbackInvalid(f"untrusted UnionPay notify: {exc}") from None
        return _notify(fields, self._merchant.mer_id)

    # -- the HTTP exchange ----------------------------------------------------

    def _attempt_one(self, request: ChannelRefund) -> Attempt:
        try:
            return self.first_attempt(request)
        except ValueError as exc:
            raise NotSent(f"cannot name the refund on UnionPay: {exc}") from None

    def _refund_fields(self, request: ChannelRefund, attempt: Attempt) -> dict[str, str]:
        orig_qry_id = request.order.channel_order_no
        if not orig_qry_id:
            raise NotSent("the pay order has no UnionPay queryId (channel_order_no)")
        try:
            return wire.refund_fields(
                self._merchant,
                attempt,
                orig_qry_id=orig_qry_id,
                amount=request.refund.amount,
                currency=request.refund.currency,
                back_url=self._back_url,
                req_reserved=request.refund.refund_order_id,
            )
        except ValueError as exc:
            raise NotSent(f"cannot build the UnionPay refund: {exc}") from None

    async def _call(
        self, operation: str, path: str, fields: dict[str, str], attempt: Attempt
    ) -> dict[str, str]:
        fields["signature"] = signing.sign(fields, self._key)
        try:
            text = await self._post(path, fields)
            reply = self._read_reply(text, attempt)
        except (NotSent, OutcomeUnknown) as exc:
            self._record(Exchange(operation, _masked(fields), error=str(exc)))
            raise
        except asyncio.CancelledError:  # the caller's deadline: sent, maybe received (G6)
            self._record(Exchange(operation, _masked(fields), error=CUT_OFF))
            raise
        self._record(Exchange(operation, _masked(fields), _masked(reply)))
        return reply

    async def _post(self, path: str, fields: Mapping[str, str]) -> str:
        # httpx times each phase; the deadline bounds the whole call, whatever
        # the transport (an in-process one honours no timeout at all).
        try:
            async with asyncio.timeout(self._deadline_s):
                response = await self._send(path, fields)
        except TimeoutError:
            raise OutcomeUnknown("UnionPay did not answer in time") from None
        if response.status_code != 200:
            raise OutcomeUnknown(f"UnionPay answered HTTP {response.status_code}")
        try:
            return response.content.decode("utf-8")
        except UnicodeDecodeError:
            raise OutcomeUnknown("UnionPay answer is not UTF-8") from None

    async def _send(self, path: str, fields: Mapping[str, str]) -> httpx.Response:
        headers = {"content-type": "application/x-www-form-urlencoded; charset=UTF-8"}
        try:
            return await self._client.post(
                self._base_url + path,
                content=wire.encode_form(fields),
                headers=headers,
                timeout=self._timeout,
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise NotSent(f"could not reach UnionPay: {type(exc).__name__}") from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise NotSent(f"bad UnionPay URL: {exc}") from None
        except httpx.HTTPError as exc:
            raise OutcomeUnknown(f"UnionPay call broke off: {type(exc).__name__}") from None

    def _read_reply(self, text: str, attempt: Attempt) -> dict[str, str]:
        try:
            reply = wire.parse_reply(text)
        except wire.ReplyUnreadable as exc:
            raise OutcomeUnknown(f"unreadable UnionPay answer: {exc}") from None
        self._verify(reply)
        echoed = (reply.get("merId"), reply.get("orderId"), reply.get("txnTime"))
        if echoed != (self._merchant.mer_id, attempt.order_id, attempt.txn_time):
            raise OutcomeUnknown("UnionPay answer is about another transaction")
        return reply

    def _verify(self, fields: Mapping[str, str]) -> None:
        """Raise OutcomeUnknown unless UnionPay's certificate and signature check out."""
        at = datetime.fromtimestamp(self._clock.now_ms() / 1000, tz=UTC)
        try:
            key = signing.trusted_signer_key(fields.get("signPubKeyCert", ""), self._trust, at=at)
        except signing.UntrustedCertificate as exc:
            raise OutcomeUnknown(f"unverifiable UnionPay answer: {exc}") from None
        if not signing.verify(fields, key):
            raise OutcomeUnknown("unverifiable UnionPay answer: bad signature")

    def _record(self, exchange: Exchange) -> None:
        if self._recorder is not None:
            self._recorder(exchange)


def _check_refund_reply(reply: Mapping[str, str], amount: int) -> None:
    """A query answer must be about a refund of our amount, or we cannot trust it."""
    if reply.get("txnAmt", str(amount)) != str(amount):
        raise OutcomeUnknown("UnionPay query answer has another amount")


def _orig_outcome(fields: Mapping[str, str], code: str, message: str | None) -> ChannelOutcome:
    """The refund's result from ``origRespCode`` (query) or ``respCode`` (notify)."""
    result = wire.classify_orig(code)
    if result is OrigResult.SUCCEEDED:
        return ChannelOutcome(ChannelResult.SUCCEEDED, fields.get("queryId"), code, message)
    if result is OrigResult.FAILED:
        return ChannelOutcome(ChannelResult.FAILED, None, code, message)
    if result is OrigResult.PROCESSING:
        return ChannelOutcome(ChannelResult.PROCESSING, fields.get("queryId"), code, message)
    raise OutcomeUnknown(f"UnionPay reports the refund as {code!r}: {message}")


def _notify(fields: Mapping[str, str], mer_id: str) -> UnionPayNotify:
    if fields.get("merId") != mer_id or fields.get("txnType") != wire.TXN_REFUND:
        raise CallbackInvalid("UnionPay notify is not about one of our refunds")
    order_id = fields.get("orderId", "")
    refund_order_id = fields.get("reqReserved") or order_id
    if wire.attempt_number(order_id, refund_order_id) is None:
        raise CallbackInvalid("UnionPay notify orderId does not match reqReserved")
    amount = fields.get("txnAmt", "")
    if not amount.isdigit():
        raise CallbackInvalid("UnionPay notify has no txnAmt")
    code, message = fields.get("respCode", ""), fields.get("respMsg")
    try:
        outcome = _orig_outcome(fields, code, message)
    except OutcomeUnknown:
        # An unknown final code is not a failure (G4): keep the refund processing.
        outcome = ChannelOutcome(ChannelResult.PROCESSING, fields.get("queryId"), code, message)
    attempt = Attempt(order_id, fields.get("txnTime", ""))
    return UnionPayNotify(refund_order_id, attempt, int(amount), outcome)


_SHORTENED = ("signature", "signPubKeyCert")


def _masked(fields: Mapping[str, str]) -> Mapping[str, str]:
    """The message for the record: long opaque values cut to a recognisable head."""
    shown = {k: (f"{v[:16]}…" if k in _SHORTENED and len(v) > 16 else v) for k, v in fields.items()}
    return MappingProxyType(shown)
