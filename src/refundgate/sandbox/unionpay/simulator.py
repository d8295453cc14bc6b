"""The UnionPay ACP 5.1.0 simulator: refund, single query and the backUrl notify.

Mounted at ``/unionpay`` (the ASGI app is :attr:`UnionPaySimulator.sim`):

* ``POST /gateway/api/backTransReq.do``: a refund (``txnType=04``). Checked as
  :mod:`.rules` says, then against the books: the original payment exists
  (``origQryId``, ``35``), is not too old (``35 [4040007]``), has the same
  currency (``36``) and enough left (``36``); an ``orderId`` is used once
  (``12``). Accepted refunds answer ``00`` and settle later.
* ``POST /gateway/api/queryTrans.do``: a query (``txnType=00``) by ``orderId``
  + ``txnTime``: ``34`` when there is no such refund, else ``00`` with the
  refund's own result in ``origRespCode``.
* The notify: once a refund settles, its result is POSTed as a signed form to
  its ``backUrl`` until UnionPay gets an HTTP 200 (§D.6).

Every answer is raw ``k=v&k=v`` signed by the simulated UnionPay, whose
certificate rides in ``signPubKeyCert``. Faults (see
:class:`~refundgate.sandbox.simulator.Fault`) act as the base describes, plus:
``reject`` with code ``03``/``04``/``05`` records the refund and answers that
code (§D.8.6); on a query, ``reject`` answers its code, ``34`` by default (an
early "no such transaction" for a refund that exists).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta

import httpx

from refundgate.sandbox.simulator import (
    CallbackPolicy,
    Fault,
    FaultEntry,
    Notice,
    Operation,
    RefundState,
    Request,
    Response,
    SimClock,
    SimRefund,
    Simulator,
    SimulatorConfig,
    Trade,
)
from refundgate.sandbox.unionpay import acp, rules
from refundgate.sandbox.unionpay.pki import SIGN_IDENTITY, SandboxPki
from refundgate.sandbox.unionpay.rules import Refusal

__all__ = ["DEFAULT_MER_ID", "QUERY_PATH", "REFUND_PATH", "UnionPaySimulator", "callback_policy"]

DEFAULT_MER_ID = "777290058110048"
REFUND_PATH = "/gateway/api/backTransReq.do"
QUERY_PATH = "/gateway/api/queryTrans.do"

_REPLY_TYPE = "text/plain; charset=UTF-8"
_FORM_TYPE = "application/x-www-form-urlencoded; charset=UTF-8"
#: Fields of a refund request that its answer repeats (§D.2, "Synchronous reply").
_ECHOED = (
    "txnType", "txnSubType", "bizType", "accessType", "merId", "orderId", "origQryId",
    "txnTime", "txnAmt", "currencyCode", "reqReserved", "reserved",
)  # fmt: skip
_RAW_UNSAFE = frozenset("&{}[]")
_AFTER_RECORDING = frozenset({"03", "04", "05"})


def _is_200(status: int, body: bytes) -> bool:
    return status == 200


def callback_policy(
    retry_delays: tuple[float, ...] = (60.0, 120.0, 240.0, 300.0), timeout: float = 10.0
) -> CallbackPolicy:
    """UnionPay's notify rule (§D.6): HTTP 200 acknowledges; else resend after 1, 2, 4, 5 min."""
    return CallbackPolicy(is_acknowledged=_is_200, retry_delays=retry_delays, timeout=timeout)


class UnionPaySimulator:
    """A simulated UnionPay backend gateway for one sandbox merchant."""

    name = "unionpay"

    def __init__(
        self,
        *,
        mer_id: str = DEFAULT_MER_ID,
        pki: SandboxPki | None = None,
        config: SimulatorConfig | None = None,
        clock: SimClock | None = None,
        callback_client: httpx.AsyncClient | None = None,
        txn_time_tolerance: timedelta = timedelta(hours=1),
        refund_window: timedelta = timedelta(days=330),
    ) -> None:
        self.pki = pki or SandboxPki.generate(mer_id)
        self.merchant = rules.Merchant(mer_id, self.pki.merchant.cert)
        self.sim = Simulator(
            self,
            config=config or SimulatorConfig(callback_policy=callback_policy()),
            clock=clock,
            callback_client=callback_client,
        )
        self._tolerance = txn_time_tolerance
        self._window = refund_window
        self._serials = itertools.count(1)
        self._serial_lock = threading.Lock()
        self.sim.router.add("POST", REFUND_PATH, self.refund)
        self.sim.router.add("POST", QUERY_PATH, self.query)

    # -- what the base asks of a channel -------------------------------------

    def credentials(self) -> Mapping[str, str]:
        """The sandbox merchant's account; ``verify_cert_pem`` is the root then the middle."""
        return {
            "mer_id": self.merchant.mer_id,
            "cert_id": self.merchant.cert_id,
            "sign_key_pem": self.pki.merchant.key_pem,
            "sign_cert_pem": self.pki.merchant.cert_pem,
            "verify_cert_pem": self.pki.verify_bundle_pem,
            "verify_root_pem": self.pki.root.cert_pem,
            "verify_middle_pem": self.pki.middle.cert_pem,
            "verify_identity": SIGN_IDENTITY,
        }

    def trade_no(self, out_trade_no: str, sequence: int) -> str:
        """A payment's ``queryId``: 21 digits, like UnionPay's."""
        return f"8{sequence:020d}"

    def notice(self, refund: SimRefund) -> Notice | None:
        """The backUrl notify of the refund's current result, as a signed form."""
        if not refund.notify_url:
            return None
        code, message = _result_code(refund)
        fields = {**self._result_fields(refund), "respCode": code, "respMsg": message}
        body = acp.form_body(self._signed(fields))
        return Notice(refund.notify_url, body, _FORM_TYPE, refund.refund_no)

    # -- endpoints -------------------------------------------------------------

    async def refund(self, request: Request) -> Response:
        """``backTransReq.do``: check, take a fault, record, answer."""
        try:
            fields = acp.read_form(request.body)
        except acp.FormError:
            return self._reply({}, "10", "format error [form]")
        try:
            trade = self._admit_refund(fields)
        except Refusal as refusal:
            return self._reply(_echo(fields), refusal.code, refusal.message)
        fault = self.sim.take_fault(trade.out_trade_no, Operation.REFUND)
        early = self._early_answer(fields, fault)
        if early is not None:
            return early
        try:
            refund = self._record(fields, trade, fault)
        except Refusal as refusal:
            return self._reply(_echo(fields), refusal.code, refusal.message)
        code = fault.code if fault and fault.fault is Fault.REJECT and fault.code else "00"
        echo = {**_echo(fields), "queryId": refund.channel_refund_id}
        answer = self._reply(echo, code, "success [0000000]" if code == "00" else "query later")
        return self.sim.shape(answer, fault, bad_signature=_spoil)

    async def query(self, request: Request) -> Response:
        """``queryTrans.do``: the refund named by ``orderId`` + ``txnTime``."""
        try:
            fields = acp.read_form(request.body)
        except acp.FormError:
            return self._reply({}, "10", "format error [form]")
        try:
            rules.check_query(fields, self.merchant)
        except Refusal as refusal:
            return self._reply(_echo(fields), refusal.code, refusal.message)
        refund = self.sim.ledger.refund(fields["orderId"])
        if refund is not None and refund.extra.get("txnTime") != fields["txnTime"]:
            refund = None
        fault = self.sim.take_fault(refund.out_trade_no if refund else None, Operation.QUERY)
        if fault and fault.fault is Fault.HTTP_500:
            return self.sim.server_error()
        answer = self._query_answer(fields, refund, fault)
        return self.sim.shape(answer, fault, bad_signature=_spoil)

    # -- refunds ------------------------------------------------------------------

    def _admit_refund(self, fields: Mapping[str, str]) -> Trade:
        now = self.sim.clock.now()
        rules.check_refund(fields, self.merchant, now=now, tolerance=self._tolerance)
        trade = self.sim.ledger.trade_by_no(fields["origQryId"])
        if trade is None:
            raise Refusal("35", "original transaction does not exist [2011000]")
        if now - trade.paid_at > self._window:
            raise Refusal("35", "original transaction is too old [4040007]")
        if rules.currency_number(trade.currency) != fields["currencyCode"]:
            raise Refusal("36", "inconsistent with the original transaction [2050004]")
        return trade

    def _early_answer(self, fields: Mapping[str, str], fault: FaultEntry | None) -> Response | None:
        """Faults that answer before anything is recorded."""
        if fault is None:
            return None
        if fault.fault is Fault.HTTP_500:
            return self.sim.server_error()
        if fault.fault is Fault.REJECT and (fault.code or "01") not in _AFTER_RECORDING:
            return self._reply(_echo(fields), fault.code or "01", "transaction failed [sandbox]")
        return None

    def _record(
        self, fields: Mapping[str, str], trade: Trade, fault: FaultEntry | None
    ) -> SimRefund:
        amount = int(fields["txnAmt"])
        ledger = self.sim.ledger
        with ledger.atomic():
            if ledger.refund(fields["orderId"]) is not None:
                raise Refusal("12", "duplicate transaction [2010002]")
            if amount > ledger.remaining(trade.out_trade_no):
                raise Refusal("36", "amount exceeds what remains [2050004]")
            refund = SimRefund(
                refund_no=fields["orderId"],
                out_trade_no=trade.out_trade_no,
                trade_no=trade.trade_no,
                amount=amount,
                currency=trade.currency,
                channel_refund_id=self._next_query_id(),
                created_at=self.sim.clock.now(),
                notify_url=fields["backUrl"],
                extra=_kept(fields, fault),
            )
            return self.sim.commit(refund, fault)

    def _next_query_id(self) -> str:
        with self._serial_lock:
            return f"9{next(self._serials):020d}"

    # -- answers --------------------------------------------------------------------

    def _query_answer(
        self, fields: Mapping[str, str], refund: SimRefund | None, fault: FaultEntry | None
    ) -> Response:
        echo = {name: fields[name] for name in ("merId", "orderId", "txnTime", "txnType")}
        if fault and fault.fault is Fault.REJECT:
            return self._reply(echo, fault.code or "34", "transaction does not exist")
        if refund is None:
            return self._reply(echo, "34", "transaction does not exist")
        code, message = _result_code(refund)
        result = {
            **self._result_fields(refund),
            **echo,
            "origRespCode": code,
            "origRespMsg": message,
        }
        return self._reply(result, "00", "success [0000000]")

    def _result_fields(self, refund: SimRefund) -> dict[str, str]:
        """What the notify and the query tell of a recorded refund (§D.5, §D.6)."""
        extra = refund.extra
        fields = {
            "txnType": "04", "txnSubType": "00", "bizType": extra["bizType"],
            "accessType": extra["accessType"], "merId": self.merchant.mer_id,
            "orderId": refund.refund_no, "origQryId": refund.trade_no,
            "txnTime": extra["txnTime"], "txnAmt": str(refund.amount),
            "currencyCode": extra["currencyCode"], "queryId": refund.channel_refund_id,
            "reqReserved": extra.get("reqReserved", ""), "reserved": extra.get("reserved", ""),
        }  # fmt: skip
        if refund.state is RefundState.SUCCEEDED and refund.settled_at is not None:
            fields.update(_settlement(refund, refund.settled_at))
        return {name: value for name, value in fields.items() if value}

    def _reply(self, fields: Mapping[str, str], code: str, message: str) -> Response:
        body = {"version": "5.1.0", "encoding": "UTF-8", "signMethod": "01", **fields}
        body.update(respCode=code, respMsg=message)
        return Response(200, acp.reply_text(self._signed(body)), _REPLY_TYPE)

    def _signed(self, fields: Mapping[str, str]) -> dict[str, str]:
        with_cert = {**fields, "signPubKeyCert": self.pki.unionpay.cert_pem}
        return acp.signed(with_cert, self.pki.unionpay.key)


def _echo(fields: Mapping[str, str]) -> dict[str, str]:
    """Request fields an answer repeats; values the raw reply format cannot carry are left out."""
    return {
        name: fields[name]
        for name in _ECHOED
        if fields.get(name) and not _RAW_UNSAFE.intersection(fields[name])
    }


def _kept(fields: Mapping[str, str], fault: FaultEntry | None) -> dict[str, str]:
    kept = {name: fields.get(name, "") for name in ("txnTime", "bizType", "accessType")}
    kept.update(currencyCode=fields["currencyCode"])
    kept.update({k: fields[k] for k in ("reqReserved", "reserved") if k in _echo(fields)})
    if fault and fault.fault in (Fault.SETTLE_FAILED, Fault.SUCCEED_THEN_FAIL) and fault.code:
        kept["failCode"] = fault.code
    return kept


def _result_code(refund: SimRefund) -> tuple[str, str]:
    """``origRespCode`` (query) or ``respCode`` (notify) of the refund's current state."""
    if refund.state is RefundState.SUCCEEDED:
        return "00", "success [0000000]"
    if refund.state is RefundState.FAILED:
        return refund.extra.get("failCode", "01"), "transaction failed"
    if refund.state is RefundState.ABNORMAL:
        return "04", "status unknown, check reconciliation"
    return "05", "accepted, query the result later"


def _settlement(refund: SimRefund, settled_at: datetime) -> dict[str, str]:
    local = settled_at.astimezone(rules.BEIJING)
    return {
        "settleAmt": str(refund.amount),
        "settleCurrencyCode": refund.extra["currencyCode"],
        "settleDate": local.strftime("%m%d"),
        "traceNo": refund.channel_refund_id[-6:],
        "traceTime": local.strftime("%m%d%H%M%S"),
    }


def _spoil(answer: Response) -> Response:
    """The answer with one byte of its signature changed."""
    body = bytearray(answer.body)
    start = answer.body.find(b"&signature=") + len(b"&signature=")
    body[start] = ord("B") if body[start] != ord("B") else ord("C")
    return replace(answer, body=bytes(body))
