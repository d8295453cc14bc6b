"""Keys, refunds and a scripted stand-in for Alipay's gateway, for the Alipay tests.

The stand-in signs what a test tells it to with ``cryptography`` directly, so
the connector's own signing code is never the judge of its own output.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import uvicorn
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from refundgate.channels.alipay import AlipayConnector, AlipayCredentials
from refundgate.domain.model import PayOrder, Refund, RefundStatus
from refundgate.domain.secret import Secret
from refundgate.ports import ChannelRefund

APP_ID = "2021000000000001"
NOW_MS = 1_767_268_800_000  # 2026-01-01T12:00:00Z, 20:00:00 in Beijing
GATEWAY = "https://openapi.alipay.test/gateway.do"


@dataclass(frozen=True)
class KeyPair:
    """An RSA key pair in every form Alipay hands keys out in."""

    private: rsa.RSAPrivateKey

    @property
    def private_pem(self) -> str:
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    @property
    def private_pkcs1_pem(self) -> str:
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ).decode()

    @property
    def public_pem(self) -> str:
        return (
            self.private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    @property
    def private_bare(self) -> str:
        """The private key as Alipay's key tool shows it: base64 PKCS#8, no armour."""
        return _bare(self.private_pem)

    @property
    def public_bare(self) -> str:
        return _bare(self.public_pem)

    def sign(self, text: str) -> str:
        signature = self.private.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode()


def _bare(pem: str) -> str:
    return "".join(line for line in pem.splitlines() if not line.startswith("-----"))


def new_pair() -> KeyPair:
    """A fresh 2048-bit key pair (RSA2 refuses shorter keys)."""
    return KeyPair(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def channel_refund(
    amount: int = 1230,
    *,
    refund_order_id: str = "R0000000001",
    pay_order_id: str = "P0000000001",
    channel_order_no: str | None = None,
    currency: str = "CNY",
) -> ChannelRefund:
    """What the service hands a connector: a refund and the order it refunds."""
    order = PayOrder(
        mch_id="10000576",
        pay_order_id=pay_order_id,
        channel_id="ALIPAY_QR",
        currency=currency,
        amount=100_000,
        paid_at=NOW_MS - 86_400_000,
        channel_order_no=channel_order_no,
    )
    refund = Refund(
        refund_order_id=refund_order_id,
        mch_id=order.mch_id,
        mch_refund_no="M-1",
        pay_order_id=pay_order_id,
        channel_id=order.channel_id,
        amount=amount,
        currency=currency,
        status=RefundStatus.PENDING,
        created_at=NOW_MS,
        updated_at=NOW_MS,
    )
    return ChannelRefund(refund, order)


def signed_answer(
    node: dict[str, Any] | str,
    key: KeyPair | None,
    *,
    name: str = "alipay_trade_refund_response",
) -> str:
    """A gateway answer: the node as given (text kept exactly), then its sign."""
    text = node if isinstance(node, str) else json.dumps(node, ensure_ascii=False)
    if key is None:
        return f'{{"{name}":{text}}}'
    return f'{{"{name}":{text},"sign":"{key.sign(text)}"}}'


Responder = Callable[[dict[str, str]], httpx.Response | str]


@dataclass
class FakeGateway:
    """Records each request's parameters and answers with what ``respond`` returns."""

    respond: Responder
    requests: list[dict[str, str]] = field(default_factory=list)
    raw: list[httpx.Request] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        params = dict(parse_qsl(request.content.decode(), keep_blank_values=True))
        params.update(dict(request.url.params))
        self.raw.append(request)
        self.requests.append(params)
        answer = self.respond(params)
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, text=answer, headers={"content-type": "text/html;charset=utf-8"})

    def biz(self, index: int = -1) -> dict[str, Any]:
        content: dict[str, Any] = json.loads(self.requests[index]["biz_content"])
        return content


def make_connector(
    app_keys: KeyPair,
    alipay_keys: KeyPair,
    respond: Responder,
    **options: Any,
) -> tuple[AlipayConnector, FakeGateway]:
    """A connector whose HTTP goes to a :class:`FakeGateway`, at a fixed time."""
    fake = FakeGateway(respond)
    credentials = AlipayCredentials(APP_ID, Secret(app_keys.private_pem), alipay_keys.public_pem)
    connector = AlipayConnector(
        credentials,
        gateway_url=GATEWAY,
        transport=httpx.MockTransport(fake.handle),
        now_ms=lambda: NOW_MS,
        **options,
    )
    return connector, fake


class Switch:
    """An ASGI app that forwards to whichever app a test plugs in (one server, many tests)."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await self.app(scope, receive, send)


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` under uvicorn on a free loopback port, in a thread; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="off", log_level="error", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
