"""Each connector's record of a call, as the refund's channel-call record (G6).

The connectors mask their own secrets; this only puts their records in one
shape. Requests and answers made of fields are kept as JSON objects.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from refundgate.channels.alipay import Exchange as AlipayExchange
from refundgate.channels.unionpay import Exchange as UnionPayExchange
from refundgate.channels.wechat import Exchange as WeChatExchange
from refundgate.service.exchanges import note

__all__ = ["keep_alipay", "keep_unionpay", "keep_wechat"]


def _fields(fields: Mapping[str, str]) -> str:
    return json.dumps(dict(fields), ensure_ascii=False, sort_keys=True)


def keep_wechat(exchange: WeChatExchange) -> None:
    """Note a WeChat Pay call: its XML as sent and as received, the API key masked."""
    note(
        "wechat", exchange.operation, exchange.request,
        status_code=exchange.status_code, answer=exchange.answer, error=exchange.error,
    )  # fmt: skip


def keep_alipay(exchange: AlipayExchange) -> None:
    """Note an Alipay call: its signed parameters and the answer's body."""
    note(
        "alipay", exchange.method, _fields(exchange.request),
        status_code=exchange.status_code, answer=exchange.answer, error=exchange.error,
    )  # fmt: skip


def keep_unionpay(exchange: UnionPayExchange) -> None:
    """Note a UnionPay call: its fields and the reply's, signature and certificate shortened."""
    note(
        "unionpay", exchange.operation, _fields(exchange.request),
        answer=_fields(exchange.reply) if exchange.reply else None, error=exchange.error,
    )  # fmt: skip
