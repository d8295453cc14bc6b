"""What the use cases are given: ports only, chosen by ``bootstrap``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from refundgate.domain.channels import ChannelFamily
from refundgate.ports import ChannelConnector, Clock, IdFactory, RefundStore

__all__ = ["Deps"]


@dataclass(frozen=True, slots=True)
class Deps:
    store: RefundStore
    channels: Mapping[ChannelFamily, ChannelConnector]
    clock: Clock
    ids: IdFactory
    channel_timeout_s: float = 10.0
