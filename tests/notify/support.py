"""A merchant's notification receiver: a tiny ASGI app served by uvicorn on loopback.

Each POST is recorded (body and headers) and answered from a script of
replies: ``("status", body)`` pairs, or ``"slow"`` (sleep past the sender's
deadline), or ``"redirect"`` (a 302 to ``/elsewhere``). When the script runs
out, it answers ``success``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn

Reply = tuple[int, str] | str


@dataclass
class Received:
    path: str
    body: bytes
    headers: dict[str, str]


@dataclass
class Receiver:
    port: int = 0
    script: list[Reply] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    slow_s: float = 1.0
    delay_s: float = 0.0  # before every answer: widens races between workers

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/notify"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        self.received.append(Received(scope["path"], body, headers))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        reply = self.script.pop(0) if self.script else (200, "success")
        if reply == "slow":
            await asyncio.sleep(self.slow_s)
            reply = (200, "success")
        if reply == "redirect":
            await _answer(send, 302, b"", [(b"location", b"/elsewhere")])
            return
        assert isinstance(reply, tuple)
        await _answer(send, reply[0], reply[1].encode())


async def _answer(send: Any, status: int, body: bytes, extra: list[Any] | None = None) -> None:
    headers = [(b"content-type", b"text/plain"), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def serving(receiver: Receiver) -> AsyncIterator[Receiver]:
    """Serve ``receiver`` on its port (else a free one) for the duration of the block."""
    receiver.port = receiver.port or free_port()
    config = uvicorn.Config(
        receiver, host="127.0.0.1", port=receiver.port, log_level="error", lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield receiver
    finally:
        server.should_exit = True
        await task
