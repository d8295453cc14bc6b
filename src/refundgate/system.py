"""The real clock and id factory (tests inject their own)."""

from __future__ import annotations

import secrets
import time

__all__ = ["RandomIds", "SystemClock"]


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class RandomIds:
    """Refund ids like ``R20240101120000A1B2C3D4E5F6``: UTC time, then 48 random bits.

    Alphanumeric and 27 characters, so every channel takes it as its refund
    key (WeChat ``out_refund_no`` ≤ 64, Alipay ``out_request_no`` ≤ 64,
    UnionPay ``orderId`` 8–40 alphanumerics). Uniqueness is enforced by the
    primary key; the random part makes a clash between processes negligible.
    """

    def refund_order_id(self, now_ms: int) -> str:
        stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(now_ms / 1000))
        return f"R{stamp}{secrets.token_hex(6).upper()}"
