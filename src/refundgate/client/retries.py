"""When to try again, and how long to wait: a schedule with injectable jitter.

A timeout or a reset after sending is *not* a failure: the refund may have
been made. The clients send the same request again, with the same
``mchRefundNo`` (the gateway answers a repeat from the stored refund, and
never refunds twice), a bounded number of times, waiting longer each time.

>>> policy = RetryPolicy(attempts=4, first_delay=0.5, jitter=lambda delay: delay)
>>> [policy.delay(retry) for retry in (1, 2, 3)]
[0.5, 1.0, 2.0]
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["RetryPolicy", "equal_jitter"]

_random = random.SystemRandom()


def equal_jitter(delay: float) -> float:
    """A random wait between half of ``delay`` and all of it, so that clients that
    failed together do not come back together."""
    return _random.uniform(delay / 2, delay)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many tries a call gets, and the wait before each retry.

    The wait before retry ``n`` (1 for the second try) is
    ``jitter(min(max_delay, first_delay * 2 ** (n - 1)))``. Pass
    ``RetryPolicy(attempts=1)`` to never retry.
    """

    #: Tries in all, the first included (at least 1).
    attempts: int = 3
    first_delay: float = 0.5
    max_delay: float = 8.0
    #: Maps the computed wait to the actual one (tests pass ``lambda d: d``).
    jitter: Callable[[float], float] = field(default=equal_jitter, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int):
            raise TypeError("attempts must be an int")
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        for name in ("first_delay", "max_delay"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number of seconds >= 0")

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1, 2, …)."""
        exponential = self.first_delay * 2.0 ** min(retry - 1, 32)
        return max(0.0, self.jitter(min(self.max_delay, exponential)))
