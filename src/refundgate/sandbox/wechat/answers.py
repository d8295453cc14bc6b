"""The words and shapes of the simulator's answers (channels.md §A.3, §A.6, §A.7)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from types import MappingProxyType

from refundgate.sandbox.simulator import RefundState, SimRefund, Trade

__all__ = [
    "MESSAGES",
    "STATUS_WORDS",
    "beijing",
    "notify_fields",
    "query_item",
    "refund_fields",
    "trade_fields",
]

_BEIJING = timezone(timedelta(hours=8))

#: How WeChat words the refusals it sends unsigned (``return_code=FAIL``).
MESSAGES = MappingProxyType(
    {
        "empty": "post数据为空",
        "encoding": "编码格式错误",
        "xml": "XML格式错误",
        "missing": "缺少参数",
        "format": "参数格式校验错误",
        "sign": "签名错误",
        "cert": "证书错误",
        "total_fee": "invalid total_fee",
        "refund_fee": "invalid refund_fee",
        "nonce": "nonce_str重复",
    }
)

STATUS_WORDS: Mapping[RefundState, str] = MappingProxyType(
    {
        RefundState.PROCESSING: "PROCESSING",
        RefundState.SUCCEEDED: "SUCCESS",
        RefundState.FAILED: "REFUNDCLOSE",
        RefundState.ABNORMAL: "CHANGE",
    }
)

_WALLET = "支付用户的零钱"
_FUNDS = "REFUND_SOURCE_UNSETTLED_FUNDS"


def beijing(moment: datetime) -> str:
    return moment.astimezone(_BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def trade_fields(trade: Trade) -> dict[str, str]:
    amount = str(trade.amount)
    return {
        "transaction_id": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "total_fee": amount,
        "settlement_total_fee": amount,
        "fee_type": trade.currency,
        "cash_fee": amount,
    }


def refund_fields(refund: SimRefund) -> dict[str, str]:
    """The business part of a refund's success answer."""
    amount = str(refund.amount)
    return {
        "out_refund_no": refund.refund_no,
        "refund_id": refund.channel_refund_id,
        "refund_fee": amount,
        "settlement_refund_fee": amount,
        "cash_refund_fee": amount,
        "coupon_refund_fee": "0",
        "coupon_refund_count": "0",
    }


def query_item(refund: SimRefund, n: int) -> dict[str, str]:
    """One refund of a refundquery answer, numbered ``n``."""
    item = {
        f"out_refund_no_{n}": refund.refund_no,
        f"refund_id_{n}": refund.channel_refund_id,
        f"refund_channel_{n}": "ORIGINAL",
        f"refund_fee_{n}": str(refund.amount),
        f"settlement_refund_fee_{n}": str(refund.amount),
        f"refund_status_{n}": STATUS_WORDS[refund.state],
        f"refund_account_{n}": _FUNDS,
        # Spelt as WeChat spells it.
        f"refund_recv_accout_{n}": _WALLET,
    }
    if refund.state is RefundState.SUCCEEDED and refund.settled_at is not None:
        item[f"refund_success_time_{n}"] = beijing(refund.settled_at)
    return item


def notify_fields(refund: SimRefund, trade: Trade) -> dict[str, str]:
    """What a refund notify's ``req_info`` holds once decrypted."""
    fields = {
        "transaction_id": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "refund_id": refund.channel_refund_id,
        "out_refund_no": refund.refund_no,
        "total_fee": str(trade.amount),
        "settlement_total_fee": str(trade.amount),
        "refund_fee": str(refund.amount),
        "settlement_refund_fee": str(refund.amount),
        "refund_status": STATUS_WORDS[refund.state],
        "refund_recv_accout": _WALLET,
        "refund_account": _FUNDS,
        "refund_request_source": "API",
    }
    if refund.state is RefundState.SUCCEEDED and refund.settled_at is not None:
        fields["success_time"] = beijing(refund.settled_at)
    return fields
