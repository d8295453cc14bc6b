"""Use cases: short async functions over the ports."""

from refundgate.service.access import AccessCache
from refundgate.service.deps import Deps
from refundgate.service.refunds import (
    apply_outcome,
    authorize,
    find_merchant,
    query_refund,
    request_refund,
    submit_refund,
)

__all__ = [
    "AccessCache",
    "Deps",
    "apply_outcome",
    "authorize",
    "find_merchant",
    "query_refund",
    "request_refund",
    "submit_refund",
]
