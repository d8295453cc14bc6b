"""The simulated Alipay gateway: ``alipay.trade.refund`` and its query (channels.md §C).

Mounted at ``/alipay``; the gateway is ``/alipay/gateway.do`` (GET or POST).
Business rules of §C.9: the trade must exist (``trade_no`` wins over
``out_trade_no``) and be inside the refund window; ``refund_amount`` is yuan
with at most two decimals, above zero and within what remains; without
``out_request_no`` only a single full refund is possible. A request number
used again with the same amount answers ``10000`` with ``fund_change=N`` and
the cumulative ``refund_fee`` unchanged; with another amount,
``ACQ.DISCORDANT_REPEAT_REQUEST``.

Refunds complete synchronously. Faults (per trade or per request):
``timeout`` / ``garbage`` / ``bad_signature`` commit and then spoil the answer;
``http_500`` commits nothing; ``reject`` refuses with ``fault.code`` or
``ACQ.TRADE_NOT_ALLOW_REFUND``; ``succeed_then_fail`` answers success and later
fails the refund, so the query no longer shows it; ``settle_failed`` /
``settle_abnormal`` answer ``ACQ.SYSTEM_ERROR`` and settle later to that end.
With ``synchronous=False`` every refund answers ``20000`` and commits only on
a later settle, so queries are empty at first (§C.9 6).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal

from refundgate.sandbox.alipay.answers import Answer, Refusal, render
from refundgate.sandbox.alipay.gateway import BEIJING, Call, check_call, read_params
from refundgate.sandbox.alipay.rsa2 import KeyPair
from refundgate.sandbox.simulator import (
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

__all__ = ["AlipaySimulator"]

REFUND = "alipay.trade.refund"
QUERY = "alipay.trade.fastpay.refund.query"
_AMOUNT = re.compile(r"(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?")
_REQUEST_NO = re.compile(r"[0-9A-Za-z_\-.|*@]{1,64}")
_LATER = (Fault.SETTLE_FAILED, Fault.SETTLE_ABNORMAL)
_OPTIONAL = ("gmt_refund_pay", "refund_detail_item_list", "send_back_fee")


def _yuan(fen: int) -> str:
    return format(Decimal(fen).scaleb(-2).quantize(Decimal("0.01")), "f")


def _beijing(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def _node(method: str) -> str:
    return method.replace(".", "_") + "_response"


class AlipaySimulator:
    """Alipay's refund gateway for one sandbox application. ``self.sim`` is the ASGI app."""

    name = "alipay"

    def __init__(
        self,
        *,
        app_id: str = "2021000000000001",
        app_key: KeyPair | None = None,
        alipay_key: KeyPair | None = None,
        config: SimulatorConfig | None = None,
        clock: SimClock | None = None,
        refund_window: timedelta = timedelta(days=365),
        timestamp_skew: timedelta | None = None,
        synchronous: bool = True,
    ) -> None:
        self.app_id = app_id
        self.app_key = app_key or KeyPair.generate()
        self.alipay_key = alipay_key or KeyPair.generate()
        self.refund_window = refund_window
        self.timestamp_skew = timestamp_skew
        self.synchronous = synchronous
        #: What the seller can still pay out, in fen; None is unlimited.
        self.seller_balance: int | None = None
        self.sim = Simulator(self, config=config, clock=clock)
        for method in ("GET", "POST"):
            self.sim.router.add(method, "/gateway.do", self.gateway)

    # -- the Channel protocol of the simulator base ---------------------------

    def credentials(self) -> Mapping[str, str]:
        return {
            "app_id": self.app_id,
            "app_private_key_pem": self.app_key.private_pem,
            "alipay_public_key_pem": self.alipay_key.public_pem,
        }

    def trade_no(self, out_trade_no: str, sequence: int) -> str:
        day = self.sim.clock.now().astimezone(BEIJING).strftime("%Y%m%d")
        return f"{day}22001{sequence:011d}"

    def notice(self, refund: SimRefund) -> Notice | None:
        return None  # Alipay sends no refund callback; outcomes are read by query

    # -- the gateway ------------------------------------------------------------

    async def gateway(self, request: Request) -> Response:
        method = ""
        try:
            params = read_params(request)
            method = params.get("method", "")
            call = check_call(
                params, app_id=self.app_id, app_key=self.app_key,
                methods=frozenset({REFUND, QUERY}), now=self.sim.clock.now(),
                skew=self.timestamp_skew,
            )  # fmt: skip
            if call.method == REFUND:
                return await self._refund(call)
            return self._query(call)
        except Refusal as refusal:
            node = _node(method) if method in (REFUND, QUERY) else "error_response"
            return self._render(Answer(node, refusal.fields(), signed=refusal.signed))

    def _render(self, answer: Answer, fault: FaultEntry | None = None) -> Response:
        response = render(answer, self.alipay_key)
        spoilt = render(answer, self.alipay_key, sign_over=answer.text() + " ")
        return self.sim.shape(response, fault, bad_signature=lambda _: spoilt)

    def _trade(self, biz: Mapping[str, object]) -> Trade:
        trade_no, out_trade_no = biz.get("trade_no"), biz.get("out_trade_no")
        if not trade_no and not out_trade_no:
            raise Refusal("40004", "ACQ.INVALID_PARAMETER")
        if trade_no:  # Alipay's own number wins when both are given
            trade = self.sim.ledger.trade_by_no(str(trade_no))
        else:
            trade = self.sim.ledger.trade(str(out_trade_no))
        if trade is None:
            raise Refusal("40004", "ACQ.TRADE_NOT_EXIST")
        return trade

    # -- alipay.trade.refund ----------------------------------------------------

    def _amount(self, biz: Mapping[str, object]) -> int:
        value = biz.get("refund_amount")
        text = str(value) if isinstance(value, str | int | Decimal) else ""
        if isinstance(value, bool) or not _AMOUNT.fullmatch(text) or Decimal(text) <= 0:
            raise Refusal("40004", "ACQ.REFUND_FEE_ERROR")
        return int(Decimal(text).scaleb(2))

    def _request_no(self, biz: Mapping[str, object], trade: Trade) -> tuple[str, bool]:
        """The request number, and whether only a full refund may use it."""
        value = biz.get("out_request_no")
        if value is None or value == "":
            return trade.out_trade_no, True  # §C.3: the trade's own number, full refund only
        if not isinstance(value, str) or not _REQUEST_NO.fullmatch(value):
            raise Refusal("40004", "ACQ.INVALID_PARAMETER")
        return value, False

    def _check_trade(self, trade: Trade) -> None:
        if self.sim.clock.now() > trade.paid_at + self.refund_window:
            raise Refusal("40004", "ACQ.TRADE_HAS_FINISHED")

    async def _refund(self, call: Call) -> Response:
        trade = self._trade(call.biz)
        amount = self._amount(call.biz)
        request_no, full_only = self._request_no(call.biz, trade)
        self._check_trade(trade)
        fault = self.sim.take_fault(trade.out_trade_no, Operation.REFUND)
        if fault and fault.fault is Fault.HTTP_500:
            return self.sim.server_error()
        if fault and fault.fault is Fault.REJECT:
            code = fault.code or "ACQ.TRADE_NOT_ALLOW_REFUND"
            refusal = Refusal(code, "") if code.isdigit() else Refusal("40004", code)
            return self._render(Answer(_node(REFUND), refusal.fields()), fault)
        refund, fresh = self._book(trade, amount, request_no, full_only=full_only, fault=fault)
        # A trade with its own settle delay is refunded asynchronously: the refund is
        # committed, answered as not yet done (ACQ.SYSTEM_ERROR), and settled later.
        later = (fault and fault.fault in _LATER) or trade.settle_delay is not None
        if fresh and self.synchronous and not later:
            await self.sim.settle_one(refund)
        return self._render(Answer(_node(REFUND), self._refund_fields(trade, refund, fresh)), fault)

    def _book(
        self, trade: Trade, amount: int, request_no: str, *, full_only: bool,
        fault: FaultEntry | None,
    ) -> tuple[SimRefund, bool]:  # fmt: skip
        """The refund under ``request_no``: the one recorded before, or a new one."""
        ledger = self.sim.ledger
        with ledger.atomic():
            known = ledger.refund(request_no, out_trade_no=trade.out_trade_no)
            if known is not None:
                if known.amount != amount:
                    raise Refusal("40004", "ACQ.DISCORDANT_REPEAT_REQUEST")
                return ledger.seen_again(known), False
            self._check_amount(trade, amount, full_only=full_only)
            refund = SimRefund(
                refund_no=request_no, out_trade_no=trade.out_trade_no, trade_no=trade.trade_no,
                amount=amount, currency=trade.currency, channel_refund_id=trade.trade_no,
                created_at=self.sim.clock.now(),
            )  # fmt: skip
            if self.seller_balance is not None:
                self.seller_balance -= amount
            return self.sim.commit(refund, fault), True

    def _check_amount(self, trade: Trade, amount: int, *, full_only: bool) -> None:
        remaining = self.sim.ledger.remaining(trade.out_trade_no)
        if remaining <= 0:
            raise Refusal("40004", "ACQ.TRADE_HAS_CLOSE")
        if amount > remaining or (full_only and amount != trade.amount):
            raise Refusal("40004", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL")
        if self.seller_balance is not None and amount > self.seller_balance:
            raise Refusal("40004", "ACQ.SELLER_BALANCE_NOT_ENOUGH")

    def _refunded(self, trade: Trade) -> int:
        refunds = self.sim.ledger.refunds(trade.out_trade_no)
        return sum(r.amount for r in refunds if r.state is RefundState.SUCCEEDED)

    def _refund_fields(self, trade: Trade, refund: SimRefund, fresh: bool) -> dict[str, object]:
        if refund.state is RefundState.PROCESSING:
            # Not done at answer time (slow mode, or a fault that settles later).
            if not self.synchronous and fresh:
                return Refusal("20000", "isp.unknow-error").fields()
            return Refusal("40004", "ACQ.SYSTEM_ERROR").fields()
        fields: dict[str, object] = {
            "code": "10000", "msg": "Success", "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no, "buyer_logon_id": "159****5620",
            "fund_change": "Y" if fresh else "N", "refund_fee": _yuan(self._refunded(trade)),
            "send_back_fee": "0.00", "buyer_user_id": "2088101117955611",
        }  # fmt: skip
        if refund.settled_at is not None:
            fields["gmt_refund_pay"] = _beijing(refund.settled_at)
        return fields

    # -- alipay.trade.fastpay.refund.query ---------------------------------------

    def _query(self, call: Call) -> Response:
        trade = self._trade(call.biz)
        request_no = call.biz.get("out_request_no")
        if not isinstance(request_no, str) or not request_no:
            raise Refusal("40004", "ACQ.INVALID_PARAMETER")
        fault = self.sim.take_fault(trade.out_trade_no, Operation.QUERY)
        if fault and fault.fault is Fault.HTTP_500:
            return self.sim.server_error()
        if fault and fault.fault is Fault.REJECT:
            refusal = Refusal("40004", fault.code or "ACQ.SYSTEM_ERROR")
            return self._render(Answer(_node(QUERY), refusal.fields()), fault)
        refund = self.sim.ledger.refund(request_no, out_trade_no=trade.out_trade_no)
        fields = self._query_fields(trade, refund, call.biz.get("query_options"))
        return self._render(Answer(_node(QUERY), fields), fault)

    def _query_fields(
        self, trade: Trade, refund: SimRefund | None, options: object
    ) -> dict[str, object]:
        fields: dict[str, object] = {"code": "10000", "msg": "Success"}
        if refund is None or refund.state is not RefundState.SUCCEEDED:
            return fields  # nothing refunded under this number (yet)
        fields.update(
            trade_no=trade.trade_no, out_trade_no=trade.out_trade_no,
            out_request_no=refund.refund_no, total_amount=_yuan(trade.amount),
            refund_amount=_yuan(refund.amount), refund_status="REFUND_SUCCESS",
        )  # fmt: skip
        asked = set(options) if isinstance(options, list) else set()
        extras: dict[str, object] = {
            "gmt_refund_pay": _beijing(refund.settled_at or refund.created_at),
            "send_back_fee": _yuan(refund.amount),
            "refund_detail_item_list": [
                {"fund_channel": "ALIPAYACCOUNT", "amount": _yuan(refund.amount)}
            ],
        }
        fields.update({name: extras[name] for name in _OPTIONAL if name in asked})
        return fields
