"""Per-user question rate limit: a sliding one-minute window."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._seen: dict[int, deque[float]] = {}

    def allow(self, user_id: int) -> bool:
        now = self.clock()
        window = self._seen.setdefault(user_id, deque())
        while window and now - window[0] >= 60.0:
            window.popleft()
        if len(window) >= self.per_minute:
            return False
        window.append(now)
        if len(self._seen) > 10000:
            # Forget idle users so memory stays bounded.
            for uid in [u for u, w in self._seen.items() if not w or now - w[-1] >= 60.0]:
                del self._seen[uid]
        return True
