"""The ASGI application: routing, body limits, and the last line of defence.

No input produces a 500 or a traceback: protocol failures become unsigned
``retCode=FAIL`` answers, and anything unexpected becomes ``SYSTEMERROR``
after being logged. The merchant routes answer HTTP 200 for every
protocol-level answer; only transport problems use other statuses.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
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

_JSON = [(b"content-type", b"application/json; charset=utf-8")]
_log = structlog.get_logger("refundgate.api")


class _BodyTooLarge(Exception):
    pass


async def _read_body(scope: Scope, receive: Receive) -> bytes:
    for name, value in scope.get("headers", ()):
        if name == b"content-length" and value.isdigit() and int(value) > BODY_LIMIT:
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


def _content_type(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return bytes(value).decode("latin-1")
    return None


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class GatewayApp:
    """The gateway's ASGI app, over use-case dependencies built by ``bootstrap``."""

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
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.deps.store.close()
                if self.deps.resolver is not None:
                    await self.deps.resolver.aclose()
                if self.deps.notifier is not None:
                    await self.deps.notifier.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        if path == "/healthz":
            await self._health(send, method)
            return
        if path in CALLBACK_PATHS and method == "POST":
            await self._callback(scope, receive, send)
            return
        handler = self._routes.get(path)
        if handler is None:
            body = encode({"retCode": "FAIL", "retMsg": "not found"})
            await _respond(send, 404, body, _JSON)
            return
        if method != "POST":
            body = encode({"retCode": "FAIL", "retMsg": "use POST"})
            await _respond(send, 405, body, [*_JSON, (b"allow", b"POST")])
            return
        try:
            raw = await _read_body(scope, receive)
        except _BodyTooLarge:
            body = encode(failure_answer(ErrorCode.PARAM_ERROR, "request body too large"))
            await _respond(send, 413, body, _JSON)
            return
        answer = await self._answer(handler, raw, scope)
        await _respond(send, 200, encode(answer), _JSON)

    async def _callback(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            raw = await _read_body(scope, receive)
        except _BodyTooLarge:
            await _respond(send, 413, b"too large", [(b"content-type", b"text/plain")])
            return
        family = CALLBACK_PATHS[scope["path"]]
        try:
            status, body, content_type = await callback_answer(
                self.deps, family, raw, _content_type(scope) or ""
            )
        except Exception:  # never a traceback to a channel; it will send again
            _log.exception("unexpected_error", path=scope["path"])
            status, body, content_type = 500, b"error", "text/plain"
        await _respond(send, status, body, [(b"content-type", content_type.encode("latin-1"))])

    async def _answer(self, handler: Handler, raw: bytes, scope: Scope) -> Answer:
        started = time.perf_counter()
        try:
            fields = decode_request(raw, _content_type(scope), scope.get("query_string", b""))
            answer = await handler(self.deps, fields)
        except ProtocolError as error:
            answer = failure_answer(error.code, error.message)
        except AccessDenied as error:
            answer = failure_answer(code_for(error))
        except StoreError as error:
            _log.error("store_unavailable", path=scope["path"], error=str(error))
            answer = failure_answer(ErrorCode.SYSTEMERROR)
        except Exception:
            _log.exception("unexpected_error", path=scope["path"])
            answer = failure_answer(ErrorCode.SYSTEMERROR)
        # A refund that went through is on record as events (G6); its log line is
        # debug, because at info it cost a quarter of the event loop's CPU per
        # refund (bench/profile_app.py). Every other answer stays at info.
        succeeded = answer.get("retCode") == "SUCCESS" and answer.get("resCode") == "SUCCESS"
        log = _log.debug if succeeded else _log.info
        log(
            "answered",
            path=scope["path"],
            ret_code=answer.get("retCode"),
            res_code=answer.get("resCode"),
            err_code=answer.get("errCode"),
            refund_order_id=answer.get("refundOrderId"),
            ms=round((time.perf_counter() - started) * 1000, 2),
        )
        return answer

    async def _health(self, send: Send, method: str) -> None:
        if method not in ("GET", "HEAD"):
            await _respond(send, 405, b'{"status":"use GET"}', [*_JSON, (b"allow", b"GET")])
            return
        try:
            await self.deps.store.ping()
        except StoreError:
            await _respond(send, 503, b'{"status":"database unavailable"}', _JSON)
            return
        await _respond(send, 200, b'{"status":"ok"}', _JSON)
