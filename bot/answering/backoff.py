"""Who may ask the model now: a failure pauses only the user whose question failed; the model
is paused for everyone only when several different users fail within one pause."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

# Callers without an identity (the CLI, eval, scripts) share one key.
ANYONE = "-"
# A user's pause doubles with each failure in a row, up to this many times the base pause.
MAX_FACTOR = 8
# Users remembered (least recently seen forgotten first): bounded memory under any load.
MAX_USERS = 10_000


class Backoff:
    """Per-user pauses after model failures, and a shared one when the model itself is down.
    One user's timeouts (a question built to be slow, say) never pause anyone else."""

    def __init__(
        self,
        pause: float,
        outage_users: int = 3,
        clock: Callable[[], float] = time.monotonic,
        max_users: int = MAX_USERS,
    ) -> None:
        self.pause = pause
        self.outage_users = max(1, outage_users)
        self._clock = clock
        self._max_users = max_users
        # key -> (paused until, failures in a row, time of the last failure)
        self._users: OrderedDict[str, tuple[float, int, float]] = OrderedDict()
        self._everyone_until = 0.0

    def available(self, key: str | None) -> bool:
        """False while ``key`` (or everyone) is paused."""
        now = self._clock()
        if now < self._everyone_until:
            return False
        entry = self._users.get(key or ANYONE)
        return entry is None or now >= entry[0]

    def failed(self, key: str | None) -> None:
        """Pause ``key``; pause everyone when enough users failed within one pause."""
        now, key = self._clock(), key or ANYONE
        _, streak, _ = self._users.pop(key, (0.0, 0, 0.0))
        streak += 1
        factor = min(2 ** (streak - 1), MAX_FACTOR)
        self._users[key] = (now + self.pause * factor, streak, now)
        while len(self._users) > self._max_users:
            self._users.popitem(last=False)
        recent = sum(1 for _, _, at in self._users.values() if now - at < self.pause)
        if self.pause > 0 and recent >= self.outage_users:
            self._everyone_until = now + self.pause

    def succeeded(self, key: str | None) -> None:
        """``key`` got an answer: its failures in a row are forgotten."""
        self._users.pop(key or ANYONE, None)
