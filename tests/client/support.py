"""Helpers for the SDK tests: both clients behind one awaitable face, transports
that inject faults around the real app, and notifications signed as PROTOCOL.md says.

The sync client runs in a worker thread; its transport hands each request to
the test's event loop, where the real app (``httpx.ASGITransport``) answers.
So both clients talk to the same app, database and sandbox ledger.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx

from refundgate.client import AsyncRefundClient, Refund, RefundClient, RetryPolicy
from refundgate.protocol import sign

BASE_URL = "http://gateway.test"
#: Waits in these tests are recorded, never slept.
NO_JITTER = RetryPolicy(attempts=3, first_delay=0.5, max_delay=8.0, jitter=lambda delay: delay)


class LoopBridge(httpx.BaseTransport):
    """A sync transport that has ``inner`` (async) answer on ``loop``."""

    def __init__(self, inner: httpx.AsyncBaseTransport, loop: asyncio.AbstractEventLoop) -> None:
        self._inner = inner
        self._loop = loop

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        content = request.read()

        async def forward() -> tuple[int, httpx.Headers, bytes]:
            copy = httpx.Request(
                request.method, request.url, headers=request.headers, content=content
            )
            response = await self._inner.handle_async_request(copy)
            body = await response.aread()
            return response.status_code, response.headers, body

        status, headers, body = asyncio.run_coroutine_threadsafe(forward(), self._loop).result(30)
        return httpx.Response(status, headers=headers, content=body)


#: What a :class:`Faults` transport does with one request.
PASS = "pass"
TIMEOUT_AFTER = "timeout-after"  # forwarded and answered; the answer is lost (ReadTimeout)
RESET_AFTER = "reset-after"  # forwarded and answered; the connection drops (RemoteProtocolError)
CONNECT_REFUSED = "connect-refused"  # nothing leaves (ConnectError)
HTTP_502 = "http-502"  # forwarded; a proxy answers 502 instead
GARBLED = "garbled"  # forwarded; the answer is not JSON
HTTP_404 = "http-404"  # not forwarded: a misrouting proxy answers 404
SIGN_ERROR = "sign-error"  # not forwarded: an unsigned SIGN_ERROR answer comes back


class Faults(httpx.AsyncBaseTransport):
    """Forwards requests to the app with scripted faults, one per request in order
    (then :data:`PASS`); counts what was sent and what reached the app.

    Pass it as ``make``'s ``wrap``: calling it with the app's transport binds it.
    """

    def __init__(self, *script: str) -> None:
        self._inner: httpx.AsyncBaseTransport | None = None
        self.script = list(script)
        self.sent = 0
        self.forwarded = 0
        self.bodies: list[bytes] = []

    def __call__(self, inner: httpx.AsyncBaseTransport) -> Faults:
        self._inner = inner
        return self

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert self._inner is not None, "bind Faults to a transport first"
        self.sent += 1
        fault = self.script.pop(0) if self.script else PASS
        if fault == CONNECT_REFUSED:
            raise httpx.ConnectError("connection refused", request=request)
        if fault == HTTP_404:
            return httpx.Response(404, content=b"<html>Not Found</html>")
        if fault == SIGN_ERROR:
            answer = {"retCode": "FAIL", "retMsg": "signature error", "errCode": "SIGN_ERROR"}
            return httpx.Response(200, json=answer)
        body = await request.aread()
        self.bodies.append(body)
        self.forwarded += 1
        response = await self._inner.handle_async_request(request)
        await response.aread()
        if fault == TIMEOUT_AFTER:
            raise httpx.ReadTimeout("timed out reading the answer", request=request)
        if fault == RESET_AFTER:
            raise httpx.RemoteProtocolError("server disconnected", request=request)
        if fault == HTTP_502:
            return httpx.Response(502, content=b"<html>Bad Gateway</html>")
        if fault == GARBLED:
            return httpx.Response(200, content=b"<html>maintenance</html>")
        return response


class Rewrite(httpx.AsyncBaseTransport):
    """Changes the request's ``params`` fields before forwarding (signature untouched)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, **changes: str) -> None:
        self._inner = inner
        self._changes = changes

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        pairs = dict(parse_qsl((await request.aread()).decode()))
        fields = {**json.loads(pairs["params"]), **self._changes}
        body = urlencode({"params": json.dumps(fields)}).encode()
        headers = {"content-type": "application/x-www-form-urlencoded"}
        return await self._inner.handle_async_request(
            httpx.Request(request.method, request.url, headers=headers, content=body)
        )


class AnswerRewrite(httpx.AsyncBaseTransport):
    """Passes requests through and changes the answer's JSON with ``edit``."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, edit: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> None:
        self._inner = inner
        self._edit = edit

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        answer = json.loads(await response.aread())
        return httpx.Response(200, json=self._edit(answer))


class Sdk:
    """One of the two clients, behind awaitable ``refund`` and ``query``."""

    def __init__(self, client: RefundClient | AsyncRefundClient, sleeps: list[float]) -> None:
        self.client = client
        self.sleeps = sleeps

    @property
    def kind(self) -> str:
        return "async" if isinstance(self.client, AsyncRefundClient) else "sync"

    async def refund(self, **options: Any) -> Refund:
        if isinstance(self.client, AsyncRefundClient):
            return await self.client.refund(**options)
        return await asyncio.to_thread(self.client.refund, **options)

    async def query(self, **options: Any) -> Refund:
        if isinstance(self.client, AsyncRefundClient):
            return await self.client.query(**options)
        return await asyncio.to_thread(self.client.query, **options)

    async def close(self) -> None:
        if isinstance(self.client, AsyncRefundClient):
            await self.client.aclose()
        else:
            self.client.close()


def make_sdk(
    kind: str,
    transport: httpx.AsyncBaseTransport,
    *,
    base_url: str = BASE_URL,
    **options: Any,
) -> Sdk:
    """A ``kind`` ("sync" or "async") client whose requests ``transport`` answers."""
    sleeps: list[float] = []
    options.setdefault("retries", NO_JITTER)
    if kind == "async":

        async def sleep(seconds: float) -> None:
            sleeps.append(seconds)

        client: RefundClient | AsyncRefundClient = AsyncRefundClient(
            base_url=base_url, transport=transport, sleep=sleep, **options
        )
    else:
        bridge = LoopBridge(transport, asyncio.get_running_loop())
        client = RefundClient(base_url=base_url, transport=bridge, sleep=sleeps.append, **options)
    return Sdk(client, sleeps)


#: The fields of a refund notification, in PROTOCOL.md's order.
NOTIFICATION_FIELDS = (
    "refundOrderId",
    "mchId",
    "mchRefundNo",
    "payOrderId",
    "channelId",
    "refundAmount",
    "currency",
    "status",
    "channelOrderNo",
    "refundSuccTime",
    "backType",
)


def notification(key: str, **fields: str) -> dict[str, str]:
    """A refund notification's fields signed with ``key``, as PROTOCOL.md describes:
    every field but ``sign``, empty ones left out, sorted, ``&key=``, MD5."""
    values = {
        "refundOrderId": "R0000000001",
        "mchId": "10000576",
        "mchRefundNo": "R-1001",
        "payOrderId": "ALI-1",
        "channelId": "ALIPAY_QR",
        "refundAmount": "1999",
        "currency": "CAD",
        "status": "2",
        "channelOrderNo": "2026010122001",
        "refundSuccTime": "1767268800000",
        "backType": "2",
        **fields,
    }
    return {**values, "sign": sign(values, key)}


def form_body(fields: dict[str, str]) -> bytes:
    """The notification as the gateway POSTs it: form fields."""
    return urlencode(fields).encode()


Call = Callable[[], Awaitable[Refund]]
