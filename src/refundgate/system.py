"""The real clock and id factory (tests inject their own), and process upkeep."""

from __future__ import annotations

import ctypes
import os
import secrets
import signal
import sys
import time

__all__ = ["RandomIds", "SystemClock", "end_with_parent"]

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def end_with_parent(signal_number: int = signal.SIGTERM) -> None:
    """Have this process sent ``signal_number`` when its parent dies (Linux only).

    For server worker processes: if their supervisor is killed outright, they
    stop (gracefully, on SIGTERM) instead of serving on as orphans.
    """
    if sys.platform != "linux":
        return
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal_number, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # it died before the request took effect
        os.kill(os.getpid(), signal_number)


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

    def __init__(self) -> None:
        self._second = -1
        self._stamp = ""  # of that second; formatting it anew per refund showed in profiles

    def refund_order_id(self, now_ms: int) -> str:
        second = now_ms // 1000
        if second != self._second:
            self._stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(second))
            self._second = second
        return f"R{self._stamp}{secrets.token_hex(6).upper()}"
