"""Asynchronous callbacks: the channel POSTing a refund's result to the merchant.

The sender records every delivery (what was sent, what the receiver said) so
tests and operators can see it. A channel says what its callback body is and
what counts as an acknowledgement; unacknowledged deliveries are retried on
the policy's schedule, which tests compress to milliseconds.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

__all__ = ["CallbackPolicy", "CallbackSender", "Delivery", "Notice"]


@dataclass(frozen=True, slots=True)
class Notice:
    """One callback to send: where, what, labelled how."""

    url: str
    body: bytes
    content_type: str
    refund_no: str = ""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One attempt to deliver a notice, and what came back."""

    refund_no: str
    url: str
    body: bytes
    status: int | None
    answer: bytes
    error: str | None
    acknowledged: bool

    def as_json(self) -> dict[str, object]:
        return {
            "refund_no": self.refund_no,
            "url": self.url,
            "status": self.status,
            "answer": self.answer.decode("utf-8", "replace"),
            "error": self.error,
            "acknowledged": self.acknowledged,
        }


def _ok_status(status: int, body: bytes) -> bool:
    return 200 <= status < 300


@dataclass(frozen=True, slots=True)
class CallbackPolicy:
    """When a delivery counts as acknowledged, and the waits before each retry (seconds)."""

    is_acknowledged: Callable[[int, bytes], bool] = _ok_status
    retry_delays: Sequence[float] = field(default_factory=tuple)
    timeout: float = 5.0


class CallbackSender:
    """POSTs notices with an ``httpx.AsyncClient`` (injected, or one of its own)."""

    def __init__(
        self, policy: CallbackPolicy | None = None, *, client: httpx.AsyncClient | None = None
    ) -> None:
        self.policy = policy or CallbackPolicy()
        self._client = client
        self._owns_client = client is None
        self._deliveries: list[Delivery] = []
        self._lock = threading.Lock()

    @property
    def deliveries(self) -> list[Delivery]:
        """Every attempt so far, oldest first (a copy)."""
        with self._lock:
            return list(self._deliveries)

    async def deliver(self, notice: Notice) -> bool:
        """Send until acknowledged or out of retries; whether it was acknowledged."""
        for delay in (0.0, *self.policy.retry_delays):
            if delay:
                await asyncio.sleep(delay)
            if (await self.attempt(notice)).acknowledged:
                return True
        return False

    async def attempt(self, notice: Notice) -> Delivery:
        """One POST of ``notice``; transport errors are recorded, never raised."""
        client = self._ensure_client()
        status: int | None = None
        answer, error = b"", None
        try:
            response = await client.post(
                notice.url,
                content=notice.body,
                headers={"content-type": notice.content_type},
                timeout=self.policy.timeout,
            )
            status, answer = response.status_code, response.content
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        acknowledged = status is not None and self.policy.is_acknowledged(status, answer)
        delivery = Delivery(
            notice.refund_no, notice.url, notice.body, status, answer, error, acknowledged
        )
        with self._lock:
            self._deliveries.append(delivery)
        return delivery

    def _ensure_client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient()
        return self._client

    async def aclose(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None
