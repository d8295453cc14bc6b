"""The UnionPay ACP 5.1.0 connector (channels.md §D): refund, query, backUrl notify."""

from refundgate.channels.unionpay.connector import (
    AttemptNotFound,
    Exchange,
    UnionPayConnector,
    UnionPayCredentials,
    UnionPayNotify,
)
from refundgate.channels.unionpay.wire import Attempt

__all__ = [
    "Attempt",
    "AttemptNotFound",
    "Exchange",
    "UnionPayConnector",
    "UnionPayCredentials",
    "UnionPayNotify",
]
