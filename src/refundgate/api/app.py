"""The web application: routing, body limits, and the last line of defence.

No input produces a 500 or a traceback: protocol failures become unsigned
``retCode=FAIL`` answers, and anything unexpected becomes ``SYSTEMERROR``
after being logged. The merchant routes answer HTTP 200 for every
protocol-level answer; only transport problems use other statuses.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import structlog

from refundgate.api.callbacks import CALLBACK_PATHS, callback_answer
from refundgate.api.errors import code_for
from refundgate.api.merchant import query_refund_answer, refund_order_answer
from refundgate.domain.errors import AccessDenied
from refundgate.ports import StoreError
from refundgate.protocol import (
    BODY_LIMIT,
    Answer,
    ErrorCode,
    Fields,
    ProtocolError,
    decode_request,
    encode,
    failure_answer,
)
from refundgate.service import Deps

__all__ = ["GatewayApp"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Handler = Callable[[Deps, Fields], Awaitable[Answer]]
Headers = list[tuple[str, str]]
#: What a route answers, whichever server carries it: status, headers, body.
Response = tuple[int, Headers, bytes]

_JSON: Headers = [("content-type", "application/json; charset=utf-8")]
_log = structlog.get_logger("refundgate.api")


class _BodyTooLarge(Exception):
    pass


@dataclass(frozen=True, slots=True)
class _Request:
    """What the routes need of a request, taken from an ASGI or an RSGI server."""

    path: str
    method: str
    content_type: str | None
    query_string: bytes
    read_body: Callable[[], Awaitable[bytes]]  # raises _BodyTooLarge


def _declared_too_large(content_length: str | bytes | None) -> bool:
    return (
        content_length is not None and content_length.isdigit() and int(content_length) > BODY_LIMIT
    )


async def _read_asgi_body(scope: Scope, receive: Receive) -> bytes:
    for name, value in scope.get("headers", ()):
        if name == b"content-length" and _declared_too_large(value):
            raise _BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > BODY_LIMIT:
            raise _BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _read_rsgi_body(scope: Any, protocol: Any) -> bytes:
    declared = scope.headers.get("content-length")
    if _declared_too_large(declared):
        raise _BodyTooLarge
    if declared is not None:
        return bytes(await protocol())  # the server reads exactly what was declared
    chunks: list[bytes] = []  # chunked: read as it comes, up to the limit
    size = 0
    async for chunk in protocol:
        size += len(chunk)
        if size > BODY_LIMIT:
            raise _BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _asgi_content_type(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return bytes(value).decode("latin-1")
    return None


def _asgi_headers(headers: Headers) -> list[tuple[bytes, bytes]]:
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]


class GatewayApp:
    """The gateway, over use-case dependencies built by ``bootstrap``.

    It speaks ASGI (``__call__``: uvicorn, the tests) and RSGI (``__rsgi__``:
    granian, the faster of the two here); both carry the same routes.
    """

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._routes: dict[str, Handler] = {
            "/v1/refund_order": refund_order_answer,
            "/v1/query_refund": query_refund_answer,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            request = _Request(
                scope["path"],
                scope["method"],
                _asgi_content_type(scope),
                scope.get("query_string", b""),
                lambda: _read_asgi_body(scope, receive),
            )
            status, headers, body = await self._route(request)
            start = {
                "type": "http.response.start",
                "status": status,
                "headers": _asgi_headers(headers),
            }
            await send(start)
            await send({"type": "http.response.body", "body": body})

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        """RSGI entry (granian); websockets are not served."""
        if scope.proto != "http":
            return
        request = _Request(
            scope.path,
            scope.method,
            scope.headers.get("content-type"),
            scope.query_string.encode("latin-1"),
            lambda: _read_rsgi_body(scope, protocol),
        )
        try:
            status, headers, body = await self._route(request)
        except Exception:  # a bug, not an answer: still no traceback to the client
            _log.exception("unexpected_error", path=scope.path)
            status, headers = 500, _JSON
            body = encode(failure_answer(ErrorCode.SYSTEMERROR))
        protocol.response_bytes(status, headers, body)

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        """RSGI stop hook, called once the worker's loop has stopped serving."""
        loop.run_until_complete(self.aclose())

    async def aclose(self) -> None:
        """Close the store, the channel connectors and the notification sender."""
        await self.deps.store.close()
        if self.deps.resolver is not None:
            await self.deps.resolver.aclose()
        if self.deps.notifier is not None:
            await self.deps.notifier.aclose()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _route(self, request: _Request) -> Response:
        path, method = request.path, request.method
        if path == "/healthz":
            return await self._health(method)
        if path in CALLBACK_PATHS and method == "POST":
            return await self._callback(request)
        handler = self._routes.get(path)
        if handler is None:
            return 404, _JSON, encode({"retCode": "FAIL", "retMsg": "not found"})
        if method != "POST":
            body = encode({"retCode": "FAIL", "retMsg": "use POST"})
            return 405, [*_JSON, ("allow", "POST")], body
        try:
            raw = await request.read_body()
        except _BodyTooLarge:
            body = encode(failure_answer(ErrorCode.PARAM_ERROR, "request body too large"))
            return 413, _JSON, body
        answer = await self._answer(handler, raw, request)
        return 200, _JSON, encode(answer)

    async def _callback(self, request: _Request) -> Response:
        try:
            raw = await request.read_body()
        except _BodyTooLarge:
            return 413, [("content-type", "text/plain")], b"too large"
        family = CALLBACK_PATHS[request.path]
        try:
            status, body, content_type = await callback_answer(
                self.deps, family, raw, request.content_type or ""
            )
        except Exception:  # never a traceback to a channel; it will send again
            _log.exception("unexpected_error", path=request.path)
            status, body, content_type = 500, b"error", "text/plain"
        return status, [("content-type", content_type)], body

    async def _answer(self, handler: Handler, raw: bytes, request: _Request) -> Answer:
        started = time.perf_counter()
        try:
            fields = decode_request(raw, request.content_type, request.query_string)
            answer = await handler(self.deps, fields)
        except ProtocolError as error:
            answer = failure_answer(error.code, error.message)
        except AccessDenied as error:
            answer = failure_answer(code_for(error))
        except StoreError as error:
            _log.error("store_unavailable", path=request.path, error=str(error))
            answer = failure_answer(ErrorCode.SYSTEMERROR)
        except Exception:
            _log.exception("unexpected_error", path=request.path)
            answer = failure_answer(ErrorCode.SYSTEMERROR)
        # A refund that went through is on record as events (G6); its log line is
        # debug, because at info it cost a quarter of the event loop's CPU per
        # refund (bench/profile_app.py). Every other answer stays at info.
        succeeded = answer.get("retCode") == "SUCCESS" and answer.get("resCode") == "SUCCESS"
        if succeeded and not _log.is_enabled_for(logging.DEBUG):
            return answer  # its fields would be gathered for nothing
        log = _log.debug if succeeded else _log.info
        log(
            "answered",
            path=request.path,
            ret_code=answer.get("retCode"),
            res_code=answer.get("resCode"),
            err_code=answer.get("errCode"),
            refund_order_id=answer.get("refundOrderId"),
            ms=round((time.perf_counter() - started) * 1000, 2),
        )
        return answer

    async def _health(self, method: str) -> Response:
        if method not in ("GET", "HEAD"):
            return 405, [*_JSON, ("allow", "GET")], b'{"status":"use GET"}'
        try:
            await self.deps.store.ping()
        except StoreError:
            return 503, _JSON, b'{"status":"database unavailable"}'
        return 200, _JSON, b'{"status":"ok"}'
