"""What the use cases are given: ports only, chosen by ``bootstrap``."""

from __future__ import annotations

from dataclasses import dataclass

from refundgate.ports import (
    ChannelRegistry,
    ChannelResolver,
    Clock,
    IdFactory,
    NotificationSender,
    RefundStore,
)

__all__ = ["Deps"]


@dataclass(frozen=True, slots=True)
class Deps:
    """The ports of the use cases. ``resolver``, when given, picks each merchant's
    connector (channel accounts); else ``channels`` serves every merchant.
    ``notifier`` delivers the notification outbox; without it nothing is sent."""

    store: RefundStore
    channels: ChannelRegistry
    clock: Clock
    ids: IdFactory
    channel_timeout_s: float = 10.0
    resolver: ChannelResolver | None = None
    notifier: NotificationSender | None = None
