"""Limits: questions per person (a sliding one-minute window) and how often one person hears
the same notice."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable


class RateLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._seen: dict[Hashable, deque[float]] = {}

    def allow(self, key: Hashable) -> bool:
        now = self.clock()
        window = self._seen.setdefault(key, deque())
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


class Throttle:
    """At most one event per key per ``interval`` seconds: a refused or flooding sender gets
    one notice, not one per message (each would be a Bot API call they can trigger at will).
    Remembers the ``capacity`` most recent keys."""

    def __init__(
        self,
        interval: float,
        capacity: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self.capacity = capacity
        self.clock = clock
        self._last: OrderedDict[Hashable, float] = OrderedDict()
        self._skipped: dict[Hashable, int] = {}

    def ready(self, key: Hashable) -> bool:
        """True (and noted) when ``key`` had no event within the interval."""
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            self._skipped[key] = self._skipped.get(key, 0) + 1
            return False
        self._last[key] = now
        self._last.move_to_end(key)
        while len(self._last) > self.capacity:
            old, _ = self._last.popitem(last=False)
            self._skipped.pop(old, None)
        return True

    def skipped(self, key: Hashable) -> int:
        """Events of ``key`` held back since its last one that went through (then reset)."""
        return self._skipped.pop(key, 0)
