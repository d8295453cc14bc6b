"""Delivering refund notifications to merchants over HTTP, behind an SSRF guard."""

from refundgate.notify.guard import DestinationRefused, Guard
from refundgate.notify.sender import HttpNotificationSender

__all__ = ["DestinationRefused", "Guard", "HttpNotificationSender"]
