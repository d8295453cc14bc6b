"""The UnionPay ACP 5.1.0 simulator (channels.md §D.8), built on the simulator base."""

from refundgate.sandbox.unionpay.pki import SandboxPki
from refundgate.sandbox.unionpay.simulator import (
    DEFAULT_MER_ID,
    QUERY_PATH,
    REFUND_PATH,
    UnionPaySimulator,
    callback_policy,
)

__all__ = [
    "DEFAULT_MER_ID",
    "QUERY_PATH",
    "REFUND_PATH",
    "SandboxPki",
    "UnionPaySimulator",
    "callback_policy",
]
