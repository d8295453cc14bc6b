"""Delivering refund notifications to merchants over HTTP, behind an SSRF guard."""

from __future__ import annotations

from refundgate.notify.guard import PRIVATE_CLASSES, DestinationRefused, Guard
from refundgate.notify.sender import HttpNotificationSender

__all__ = ["DestinationRefused", "Guard", "HttpNotificationSender", "build_sender"]


def build_sender(
    timeout_s: float, *, allow_private: bool, allow_loopback: bool = False
) -> HttpNotificationSender:
    """The sender a deployment configures: private destinations only if it allows them,
    loopback alone for the embedded sandbox run (a merchant's test receiver on this host)."""
    allowed = PRIVATE_CLASSES if allow_private else frozenset()
    if allow_loopback:
        allowed |= {"loopback"}
    return HttpNotificationSender(guard=Guard(allowed=allowed), timeout_s=timeout_s)
