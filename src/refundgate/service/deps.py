"""What the use cases are given: ports only, chosen by ``bootstrap``."""

from __future__ import annotations

from dataclasses import dataclass

from refundgate.ports import ChannelRegistry, Clock, IdFactory, RefundStore

__all__ = ["Deps"]


@dataclass(frozen=True, slots=True)
class Deps:
    store: RefundStore
    channels: ChannelRegistry
    clock: Clock
    ids: IdFactory
    channel_timeout_s: float = 10.0
