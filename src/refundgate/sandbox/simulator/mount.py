"""Several simulators in one ASGI app, each under its own prefix (``/wechat``, …)."""

from __future__ import annotations

import asyncio

from refundgate.sandbox.simulator.asgi import Receive, Scope, Send, json_response, send_response
from refundgate.sandbox.simulator.core import Simulator

__all__ = ["Mounted"]


class Mounted:
    """Routes each request to the simulator whose prefix it starts with."""

    def __init__(self, *simulators: Simulator) -> None:
        prefixes = [sim.prefix for sim in simulators]
        if len(set(prefixes)) != len(prefixes):
            raise ValueError(f"two simulators share a prefix: {prefixes}")
        self.simulators = simulators

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path = scope["path"]
        for sim in self.simulators:
            if path == sim.prefix or path.startswith(sim.prefix + "/"):
                await sim.handle_http(scope, receive, send)
                return
        await send_response(send, json_response(404, {"error": "not found"}))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                for sim in self.simulators:
                    sim.resume()  # refunds read back from a state file settle again
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def aclose(self) -> None:
        await asyncio.gather(*(sim.aclose() for sim in self.simulators))
