"""Requests per caller for the local API: a token bucket per address, so no client can crowd out a visitor.

The API shares the kiosk's loop and cores with the visitor's turn (kiosk/admin/api.py). A button or a badge
reader sends a request now and then; a broken script retrying in a tight loop would send thousands a second,
and even refusing each one costs the loop time. Over its budget a caller is answered 429 with Retry-After,
and the answer itself is held back (at most `HOLD_MAX_S`), so a client that waits for each answer before
sending the next is slowed to the budget whether or not it reads Retry-After.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

HOLD_MAX_S = 1.0
MAX_CALLERS = 1024
"""addresses remembered; the least recently seen is forgotten first (a full bucket, nothing lost)"""


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimit:
    """`rate` requests a second per address on average, `burst` at once; rate 0 = unlimited."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self._clock = rate, max(1, burst), clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self.refused = 0

    def take(self, caller: str) -> float:
        """0.0 when `caller` may go ahead (a token is spent), else the seconds until it may."""
        if self.rate <= 0:
            return 0.0
        now = self._clock()
        bucket = self._buckets.pop(caller, None) or _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        self._buckets[caller] = bucket  # most recently seen last
        while len(self._buckets) > MAX_CALLERS:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        self.refused += 1
        return (1.0 - bucket.tokens) / self.rate
