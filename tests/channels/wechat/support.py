"""Builders for WeChat connector tests: orders, refunds, a notify receiver."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from refundgate.channels.wechat import (
    ClientCertificate,
    WeChatConnector,
    WeChatCredentials,
)
from refundgate.domain.model import PayOrder, Refund, RefundStatus
from refundgate.domain.secret import Secret
from refundgate.ports import CallbackInvalid, ChannelCallback, ChannelRefund
from refundgate.sandbox.wechat import SandboxMerchant

NOW_MS = 1_767_268_800_000
NOTIFY_URL = "http://gateway.test/callbacks/wechat"


def credentials(merchant: SandboxMerchant, *, with_cert: bool = False) -> WeChatCredentials:
    cert = ClientCertificate(merchant.client.cert_pem, merchant.client.key_pem)
    return WeChatCredentials(
        appid=merchant.appid,
        mch_id=merchant.mch_id,
        api_key=Secret(merchant.api_key.reveal()),
        client_cert=cert if with_cert else None,
    )


def channel_refund(
    refund_order_id: str = "R0000000001",
    *,
    amount: int = 300,
    order_amount: int = 1000,
    pay_order_id: str = "T1",
    channel_order_no: str | None = None,
    currency: str = "CNY",
) -> ChannelRefund:
    order = PayOrder(
        mch_id="10000576",
        pay_order_id=pay_order_id,
        channel_id="WX_NATIVE",
        currency=currency,
        amount=order_amount,
        paid_at=NOW_MS,
        channel_order_no=channel_order_no,
    )
    refund = Refund(
        refund_order_id=refund_order_id,
        mch_id="10000576",
        mch_refund_no="M-" + refund_order_id,
        pay_order_id=pay_order_id,
        channel_id="WX_NATIVE",
        amount=amount,
        currency=currency,
        status=RefundStatus.PENDING,
        created_at=NOW_MS,
        updated_at=NOW_MS,
    )
    return ChannelRefund(refund, order)


class NotifyReceiver:
    """The gateway's callback route in miniature: parse with the connector, ack or refuse."""

    def __init__(self) -> None:
        self.connector: WeChatConnector | None = None
        self.accepted: list[ChannelCallback] = []
        self.refused: list[str] = []
        #: Answer this many notifies with a 500 before reading any (a gateway outage).
        self.fail_first = 0

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        assert self.connector is not None
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if self.fail_first > 0:
            self.fail_first -= 1
            await send({"type": "http.response.start", "status": 500, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        try:
            callback = self.connector.parse_callback(body, "text/xml")
        except CallbackInvalid as exc:
            self.refused.append(str(exc))
            status, answer, content_type = self.connector.reject_callback()
        else:
            self.accepted.append(callback)
            status, answer, content_type = 200, callback.ack_body, callback.ack_content_type
        headers = [(b"content-type", content_type.encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": answer})


async def lifespan(receive: Any, send: Any) -> None:
    """Answer an ASGI lifespan conversation with nothing to start or stop."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        else:
            await send({"type": "lifespan.shutdown.complete"})
            return
