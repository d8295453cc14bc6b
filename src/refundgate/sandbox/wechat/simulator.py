"""The WeChat Pay v2 refund simulator, on the shared base, mounted at ``/wechat``.

Endpoints (channels.md §A.1): ``POST /wechat/secapi/pay/refund`` and
``POST /wechat/pay/refundquery``; the control API under ``/wechat/_control/``.
It checks what §A.9 lists, signs every ``return_code=SUCCESS`` answer with the
sign type the request used, settles refunds asynchronously and sends the
encrypted refund notify to the request's ``notify_url``, retrying until the
merchant answers ``SUCCESS``.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import timedelta

import httpx

from refundgate.sandbox.simulator import (
    CallbackPolicy,
    Fault,
    FaultEntry,
    Notice,
    Operation,
    Request,
    Response,
    SimClock,
    SimRefund,
    Simulator,
    SimulatorConfig,
    Trade,
)
from refundgate.sandbox.wechat import answers, codec
from refundgate.sandbox.wechat.account import SandboxMerchant
from refundgate.sandbox.wechat.reading import (
    Asked,
    NonceMemory,
    Refusal,
    check_formats,
    fail,
    read_signed,
)

__all__ = ["NOTIFY_RETRIES", "WeChatSimulator"]

_CONTENT_TYPE = "text/xml; charset=utf-8"
#: WeChat's notify retry schedule, seconds after each unacknowledged attempt (§A.7).
NOTIFY_RETRIES = (15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800,
                  21600, 21600)  # fmt: skip
_REFUND_WINDOW = timedelta(days=365)
_MAX_REFUNDS = 50
_PAGE = 10
# WeChat writes a full-width comma in its messages.
_DEFAULT_REFUSAL = ("NOTENOUGH", "基本账户余额不足\uff0c请充值后重新发起")
_AMOUNTS_DIFFER = "订单金额或退款金额与之前请求不一致\uff0c请核实后再试"
_REFUND_REQUIRED = ("appid", "mch_id", "nonce_str", "sign", "out_refund_no", "total_fee",
                    "refund_fee")  # fmt: skip
_QUERY_REQUIRED = ("appid", "mch_id", "nonce_str", "sign")
_TRADE_KEYS = ("transaction_id", "out_trade_no")
_QUERY_KEYS = ("refund_id", "out_refund_no", "transaction_id", "out_trade_no")


def _acknowledged(status: int, body: bytes) -> bool:
    try:
        return status == 200 and codec.parse(body).get("return_code") == "SUCCESS"
    except codec.BadXml:
        return False


class WeChatSimulator:
    """WeChat Pay v2 refunds for one sandbox merchant. ``.app`` is the ASGI app."""

    name = "wechat"

    def __init__(
        self,
        *,
        config: SimulatorConfig | None = None,
        merchant: SandboxMerchant | None = None,
        clock: SimClock | None = None,
        callback_client: httpx.AsyncClient | None = None,
        notify_retries: Sequence[float] = NOTIFY_RETRIES,
        require_client_cert: bool = False,
    ) -> None:
        self.merchant = merchant or SandboxMerchant.generate()
        base = config or SimulatorConfig()
        policy = CallbackPolicy(_acknowledged, tuple(notify_retries), base.callback_policy.timeout)
        self.sim = Simulator(
            self,
            config=replace(base, callback_policy=policy),
            clock=clock,
            callback_client=callback_client,
        )
        #: Refuse the refund call unless the client proved its certificate (§A.9 item 1).
        self.require_client_cert = require_client_cert
        self._nonces = NonceMemory()
        self._refund_numbers = itertools.count(1)
        self.sim.router.add("POST", "/secapi/pay/refund", self._refund)
        self.sim.router.add("POST", "/pay/refundquery", self._query)

    @property
    def app(self) -> Simulator:
        return self.sim

    # ------------------------------------------------------------ the base's hooks

    def credentials(self) -> Mapping[str, str]:
        return self.merchant.credentials()

    def trade_no(self, out_trade_no: str, sequence: int) -> str:
        day = self.sim.clock.now().strftime("%Y%m%d")
        return f"4200{day}{sequence:016d}"

    def notice(self, refund: SimRefund) -> Notice | None:
        trade = self.sim.ledger.trade(refund.out_trade_no)
        if refund.notify_url is None or trade is None:
            return None
        inner = codec.render(answers.notify_fields(refund, trade), root="root")
        outer = {
            "return_code": "SUCCESS",
            "appid": self.merchant.appid,
            "mch_id": self.merchant.mch_id,
            "nonce_str": secrets.token_hex(16),
            "req_info": codec.encrypt_req_info(inner, self._key),
        }
        return Notice(refund.notify_url, codec.render(outer), _CONTENT_TYPE, refund.refund_no)

    # ------------------------------------------------------------ answers

    @property
    def _key(self) -> str:
        return self.merchant.api_key.reveal()

    def _signed(self, fields: Mapping[str, str], sign_type: str) -> Response:
        answer = {
            "return_code": "SUCCESS",
            "return_msg": "OK",
            "appid": self.merchant.appid,
            "mch_id": self.merchant.mch_id,
            "nonce_str": secrets.token_hex(16),
            **fields,
        }
        answer["sign"] = codec.signature(answer, self._key, sign_type)
        return Response(200, codec.render(answer), _CONTENT_TYPE)

    def _error(self, sign_type: str) -> ErrorMaker:
        return ErrorMaker(self, sign_type)

    def _spoil(self, response: Response) -> Response:
        fields = codec.parse(response.body)
        fields["sign"] = codec.signature(fields, "not-" + self._key, "MD5")
        return replace(response, body=codec.render(fields))

    # ------------------------------------------------------------ refund

    async def _refund(self, request: Request) -> Response:
        try:
            if self.require_client_cert and not request.client_cert_verified:
                raise fail("cert")
            asked = read_signed(
                request, key=self._key, required=_REFUND_REQUIRED, one_of=_TRADE_KEYS,
                nonces=self._nonces,
            )  # fmt: skip
            error = self._error(asked.sign_type)
            check_formats(asked, error)
            self._check_merchant(asked, error)
            trade = self._trade_of(asked, error)
            fault, refund = self._decide(asked, trade, error)
        except Refusal as refusal:
            return refusal.response
        if fault is not None and fault.fault is Fault.HTTP_500:
            return self.sim.server_error()
        if fault is not None and fault.fault is Fault.REJECT:
            code, des = (fault.code, "") if fault.code else _DEFAULT_REFUSAL
            return error.response(code, des)
        assert refund is not None
        fields = {"result_code": "SUCCESS", **answers.trade_fields(trade),
                  **answers.refund_fields(refund)}  # fmt: skip
        return self.sim.shape(
            self._signed(fields, asked.sign_type), fault, bad_signature=self._spoil
        )

    def _check_merchant(self, asked: Asked, error: ErrorMaker) -> None:
        if asked.get("mch_id") != self.merchant.mch_id:
            raise error("MCHID_NOT_EXIST", "商户号不存在")
        if asked.get("appid") != self.merchant.appid:
            raise error("APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")

    def _trade_of(self, asked: Asked, error: ErrorMaker) -> Trade:
        # WeChat's own number wins when both are sent (§A.2).
        if asked.get("transaction_id"):
            trade = self.sim.ledger.trade_by_no(asked.get("transaction_id"))
        else:
            trade = self.sim.ledger.trade(asked.get("out_trade_no"))
        if trade is None:
            raise error("ORDERNOTEXIST", "订单不存在")
        currency = asked.get("refund_fee_type")
        if currency and currency != trade.currency:
            raise error("PARAM_ERROR", "退款币种与订单币种不一致")
        return trade

    def _decide(
        self, asked: Asked, trade: Trade, error: ErrorMaker
    ) -> tuple[FaultEntry | None, SimRefund | None]:
        """Check the refund against the books and commit it, in one step (§A.9 items 4–5)."""
        ledger = self.sim.ledger
        total_fee, refund_fee = int(asked.get("total_fee")), int(asked.get("refund_fee"))
        with ledger.atomic():
            known = ledger.refund(asked.get("out_refund_no"))
            if known is not None:
                same = (known.out_trade_no, known.amount, total_fee) == (
                    trade.out_trade_no, refund_fee, trade.amount,
                )  # fmt: skip
                if not same:
                    raise error("INVALID_REQUEST", _AMOUNTS_DIFFER)
                fault = self.sim.take_fault(trade.out_trade_no, Operation.REFUND)
                return fault, ledger.seen_again(known)
            self._check_new(trade, total_fee, refund_fee, error)
            fault = self.sim.take_fault(trade.out_trade_no, Operation.REFUND)
            if fault is not None and fault.fault in (Fault.HTTP_500, Fault.REJECT):
                return fault, None
            refund = self._new_refund(asked, trade, refund_fee)
            return fault, self.sim.commit(refund, fault)

    def _check_new(self, trade: Trade, total_fee: int, refund_fee: int, error: ErrorMaker) -> None:
        ledger = self.sim.ledger
        if total_fee != trade.amount:
            raise error("INVALID_REQUEST", _AMOUNTS_DIFFER)
        if self.sim.clock.now() - trade.paid_at > _REFUND_WINDOW:
            raise error("TRADE_OVERDUE", "订单已经超过退款期限")
        if len(ledger.refunds(trade.out_trade_no)) >= _MAX_REFUNDS:
            raise error("ERROR", "退款次数超过限制")
        if refund_fee > ledger.remaining(trade.out_trade_no):
            raise error("ERROR", "累计退款金额大于支付金额")

    def _new_refund(self, asked: Asked, trade: Trade, refund_fee: int) -> SimRefund:
        now = self.sim.clock.now()
        refund_id = f"50300{now:%Y%m%d}{next(self._refund_numbers):016d}"
        return SimRefund(
            refund_no=asked.get("out_refund_no"),
            out_trade_no=trade.out_trade_no,
            trade_no=trade.trade_no,
            amount=refund_fee,
            currency=trade.currency,
            channel_refund_id=refund_id,
            created_at=now,
            notify_url=asked.get("notify_url") or None,
            extra={"sign_type": asked.sign_type},
        )

    # ------------------------------------------------------------ refund query

    async def _query(self, request: Request) -> Response:
        try:
            asked = read_signed(
                request, key=self._key, required=_QUERY_REQUIRED, one_of=_QUERY_KEYS,
                nonces=self._nonces,
            )  # fmt: skip
            error = self._error(asked.sign_type)
            self._check_merchant(asked, error)
            found = self._find(asked, error)
            page = self._page(asked, found, error)
        except Refusal as refusal:
            return refusal.response
        trade = self.sim.ledger.trade(found[0].out_trade_no)
        assert trade is not None
        fault = self.sim.take_fault(trade.out_trade_no, Operation.QUERY)
        if fault is not None and fault.fault is Fault.HTTP_500:
            return self.sim.server_error()
        if fault is not None and fault.fault is Fault.REJECT:
            return error.response(fault.code or "SYSTEMERROR", "系统超时")
        fields = {
            "result_code": "SUCCESS",
            **answers.trade_fields(trade),
            "total_refund_count": str(len(found)),
            "refund_count": str(len(page)),
        }
        offset = int(asked.get("offset") or 0)
        for n, refund in enumerate(page):
            fields.update(answers.query_item(refund, offset + n))
        return self.sim.shape(
            self._signed(fields, asked.sign_type), fault, bad_signature=self._spoil
        )

    def _find(self, asked: Asked, error: ErrorMaker) -> list[SimRefund]:
        """The refunds asked about; the first key present wins (§A.6)."""
        ledger = self.sim.ledger
        if asked.get("refund_id"):
            one = ledger.refund_by_channel_id(asked.get("refund_id"))
            found = [one] if one else []
        elif asked.get("out_refund_no"):
            one = ledger.refund(asked.get("out_refund_no"))
            found = [one] if one else []
        else:
            if asked.get("transaction_id"):
                trade = ledger.trade_by_no(asked.get("transaction_id"))
                if trade is None:
                    raise error("INVALID_TRANSACTIONID", "无效transaction_id")
            else:
                trade = ledger.trade(asked.get("out_trade_no"))
            found = ledger.refunds(trade.out_trade_no) if trade else []
        if not found:
            raise error("REFUNDNOTEXIST", "not exist")
        return found

    @staticmethod
    def _page(asked: Asked, found: list[SimRefund], error: ErrorMaker) -> list[SimRefund]:
        offset_text = asked.get("offset") or "0"
        if not offset_text.isdigit() or int(offset_text) >= len(found):
            raise error("PARAM_ERROR", "offset is invalid")
        offset = int(offset_text)
        return found[offset : offset + _PAGE]


class ErrorMaker:
    """Signed ``result_code=FAIL`` answers, in the request's sign type."""

    def __init__(self, simulator: WeChatSimulator, sign_type: str) -> None:
        self._simulator = simulator
        self._sign_type = sign_type

    def response(self, code: str, description: str) -> Response:
        fields = {"result_code": "FAIL", "err_code": code, "err_code_des": description}
        return self._simulator._signed(fields, self._sign_type)

    def __call__(self, code: str, description: str) -> Refusal:
        return Refusal(self.response(code, description))
