"""The HTTP notification sender: a form POST, checked by the guard, pinned to its address.

Redirects are never followed (a redirect to an internal address is the oldest
way round an SSRF check); the answer's body is read up to
:data:`BODY_LIMIT` bytes, enough to see ``success``; the whole exchange has
one deadline. Every failure becomes a :class:`~refundgate.ports.DeliveryResult`
here, the one place where httpx's exceptions are translated.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import httpx

from refundgate.notify.guard import DestinationRefused, Guard
from refundgate.ports import DeliveryResult

__all__ = ["BODY_LIMIT", "GuardedTransport", "HttpNotificationSender"]

#: Bytes of the merchant's answer kept: the acknowledgement and a log excerpt.
BODY_LIMIT = 1_024

_DEFAULT_PORTS = {"http": 80, "https": 443}


class GuardedTransport(httpx.AsyncBaseTransport):
    """Checks each request's destination, then connects to the checked address.

    The request keeps its ``Host`` header, and TLS its server name (SNI and the
    certificate check use the host as named), while the connection goes to the
    address the guard approved: a second DNS answer is never asked for.
    """

    def __init__(self, guard: Guard, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self._guard = guard
        # No keep-alive: pooled connections are keyed by address, and one opened (and
        # certificate-checked) for one host name must never carry another host's request.
        self._inner = inner or httpx.AsyncHTTPTransport(
            retries=0, limits=httpx.Limits(max_keepalive_connections=0)
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        port = url.port or _DEFAULT_PORTS.get(url.scheme, 0)
        target = await self._guard.check(url.scheme, url.host, port)
        request.url = url.copy_with(host=target.address)
        if url.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": url.host}
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


class HttpNotificationSender:
    """:class:`~refundgate.ports.NotificationSender` over httpx."""

    def __init__(
        self,
        *,
        guard: Guard,
        timeout_s: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._timeout_s = timeout_s
        self._transport = GuardedTransport(guard, transport)
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        # Created on first use, inside the loop that uses it: nothing connects at import.
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self._transport,
                timeout=httpx.Timeout(self._timeout_s, connect=min(self._timeout_s, 5.0)),
                follow_redirects=False,
                headers={"User-Agent": "refundgate-notifier"},
            )
        return self._client

    async def send(self, url: str, form: Mapping[str, str]) -> DeliveryResult:
        """POST ``form`` to ``url``; the answer, or the reason there is none."""
        try:
            async with asyncio.timeout(self._timeout_s):
                return await self._post(url, form)
        except DestinationRefused as exc:
            return DeliveryResult(status_code=None, error=f"destination refused: {exc}")
        except (TimeoutError, httpx.TimeoutException):
            return DeliveryResult(status_code=None, error=f"timeout after {self._timeout_s:g} s")
        except httpx.InvalidURL as exc:
            return DeliveryResult(status_code=None, error=f"invalid URL: {exc}")
        except httpx.HTTPError as exc:
            return DeliveryResult(status_code=None, error=f"{type(exc).__name__}: {exc}"[:256])

    async def _post(self, url: str, form: Mapping[str, str]) -> DeliveryResult:
        async with self._http().stream("POST", url, data=dict(form)) as response:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) >= BODY_LIMIT:
                    break  # enough to judge; the rest is never read
        text = bytes(body[:BODY_LIMIT]).decode("utf-8", "replace")
        return DeliveryResult(status_code=response.status_code, body=text)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        else:
            await self._transport.aclose()
