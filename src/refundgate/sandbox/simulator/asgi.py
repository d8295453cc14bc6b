"""Just enough raw ASGI for a simulator: a request, a response, a router.

No framework, as in :mod:`refundgate.api.app`. A handler takes a
:class:`Request` and returns a :class:`Response`; a response may ask to be
*held* before it is sent, which is how a simulator times a client out.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl

__all__ = [
    "BODY_LIMIT",
    "Handler",
    "Receive",
    "Request",
    "Response",
    "Router",
    "Scope",
    "Send",
    "json_response",
    "read_request",
    "send_response",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: Channel requests are small; anything larger is refused before it is read.
BODY_LIMIT = 256 * 1024


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request, read whole. ``path`` is relative to the simulator's prefix."""

    method: str
    path: str
    body: bytes = b""
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    scheme: str = "http"
    #: Whether the client presented a certificate the TLS layer verified (see :func:`read_request`).
    client_cert_verified: bool = False

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


@dataclass(frozen=True, slots=True)
class Response:
    """What to answer, and how long to sit on it first (seconds)."""

    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    hold: float = 0.0

    def held(self, seconds: float) -> Response:
        return replace(self, hold=seconds)


Handler = Callable[[Request], Awaitable[Response]]


def json_response(status: int, payload: object) -> Response:
    """A JSON answer (control API)."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(status, body, "application/json; charset=utf-8")


class Router:
    """Exact-path routes; 404 for an unknown path, 405 for a known path and wrong method."""

    def __init__(self) -> None:
        self._routes: dict[str, dict[str, Handler]] = {}

    def add(self, method: str, path: str, handler: Handler) -> None:
        self._routes.setdefault(path, {})[method.upper()] = handler

    def paths(self) -> list[str]:
        return sorted(self._routes)

    async def dispatch(self, request: Request) -> Response:
        methods = self._routes.get(request.path)
        if methods is None:
            return json_response(404, {"error": "not found"})
        handler = methods.get(request.method)
        if handler is None:
            return json_response(405, {"error": f"use {', '.join(sorted(methods))}"})
        return await handler(request)


class BodyTooLarge(Exception):
    pass


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > BODY_LIMIT:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _verified_peer(scope: Scope, *, tls_requires_client_cert: bool) -> bool:
    # The ASGI "tls" extension carries the peer's chain where a server offers it.
    # uvicorn does not; run with CERT_REQUIRED, its handshake has already refused
    # any client without a certificate signed by our CA, so an https scope is proof.
    tls = scope.get("extensions", {}).get("tls")
    if isinstance(tls, dict) and "client_cert_chain" in tls:
        return bool(tls["client_cert_chain"])
    return tls_requires_client_cert and scope.get("scheme") == "https"


async def read_request(
    scope: Scope, receive: Receive, prefix: str, *, tls_requires_client_cert: bool = False
) -> Request:
    """The request under ``prefix``; raises :class:`BodyTooLarge`.

    ``tls_requires_client_cert`` says the server was started with
    ``cert_reqs=CERT_REQUIRED``, so that any https request carried a verified certificate.
    """
    headers = {
        bytes(name).decode("latin-1").lower(): bytes(value).decode("latin-1")
        for name, value in scope.get("headers", ())
    }
    query_string = bytes(scope.get("query_string", b"")).decode("latin-1")
    return Request(
        method=scope["method"].upper(),
        path=scope["path"][len(prefix) :] or "/",
        body=await _read_body(receive),
        query=dict(parse_qsl(query_string, keep_blank_values=True)),
        headers=headers,
        scheme=str(scope.get("scheme", "http")),
        client_cert_verified=_verified_peer(
            scope, tls_requires_client_cert=tls_requires_client_cert
        ),
    )


async def send_response(send: Send, response: Response) -> None:
    """Send ``response``, after holding it if asked (the client may be gone by then)."""
    if response.hold > 0:
        await asyncio.sleep(response.hold)
    headers = [
        (b"content-type", response.content_type.encode("latin-1")),
        (b"content-length", str(len(response.body)).encode()),
    ]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})
