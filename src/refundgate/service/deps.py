"""What the use cases are given: ports only, chosen by ``bootstrap``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from refundgate.ports import (
    ChannelRegistry,
    ChannelResolver,
    Clock,
    IdFactory,
    NotificationSender,
    RefundStore,
)
from refundgate.service.access import AccessCache

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
    #: Fault injection for the crash-recovery tests only: called with the name of
    #: each step of the refund path ("reserved", "channel", "apply"). Set by
    #: ``bootstrap`` only when ``REFUNDGATE_TEST_CRASH_AT`` is set; None otherwise.
    checkpoint: Callable[[str], None] | None = None
    #: The merchants and operators recently read, for refunds (service/access.py);
    #: without it every refund reads its merchant from the store.
    access_cache: AccessCache | None = None
