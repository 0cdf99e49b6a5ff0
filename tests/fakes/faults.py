"""Fault injection for the Bot API stand-in: ``fail_next`` (the next N calls of a method)
and ``fail_ratio`` (a deterministic pseudo-random share of them) answer 429, 500, 400, late
("slow") or not at all ("drop")."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

FAULT_KINDS = ("429", "500", "400", "slow", "drop")
DEFAULT_400 = "Bad Request: can't parse entities: unsupported start tag at byte offset 0"


@dataclass
class _FaultRule:
    method: str | None
    kind: str
    remaining: int
    retry_after: int
    delay: float
    description: str = DEFAULT_400


@dataclass
class _RatioRule:
    method: str | None
    kind: str
    ratio: float
    rng: random.Random
    retry_after: int
    delay: float
    description: str = DEFAULT_400


def _method_matches(rule_method: str | None, method: str) -> bool:
    return rule_method in (None, "*") or str(rule_method).lower() == method.lower()


def _normalise_kind(kind: str | int) -> str:
    value = str(kind).lower()
    if value not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; use one of {FAULT_KINDS}")
    return value


class FaultInjection:
    """The stand-in's fault rules (mixed into ``BotApiStandIn``; guarded by its lock)."""

    _cond: threading.Condition
    _fault_next: list[_FaultRule]
    _fault_ratio: list[_RatioRule]

    def fail_next(
        self,
        method: str,
        kind: str = "429",
        count: int = 1,
        retry_after: int = 1,
        delay: float = 3.0,
        description: str = DEFAULT_400,
    ) -> None:
        """Fault the next ``count`` calls of ``method`` ("*" = any): "429" (Too Many Requests
        with ``retry_after``), "500", "400" (Bad Request with ``description``), "slow" (answer
        normally after ``delay`` seconds) or "drop" (close the connection without an answer)."""
        with self._cond:
            self._fault_next.append(
                _FaultRule(method, _normalise_kind(kind), count, retry_after, delay, description)
            )

    def fail_ratio(
        self,
        method: str,
        kind: str,
        ratio: float,
        seed: int = 0,
        retry_after: int = 1,
        delay: float = 3.0,
        description: str = DEFAULT_400,
    ) -> None:
        """Fault a deterministic pseudo-random ``ratio`` of the calls of ``method``."""
        if not 0.0 <= ratio <= 1.0:
            raise ValueError("ratio must be within 0..1")
        with self._cond:
            self._fault_ratio.append(
                _RatioRule(
                    method,
                    _normalise_kind(kind),
                    ratio,
                    random.Random(seed),
                    retry_after,
                    delay,
                    description,
                )
            )

    def clear_faults(self) -> None:
        with self._cond:
            self._fault_next.clear()
            self._fault_ratio.clear()

    def _pick_fault(self, method: str) -> _FaultRule | _RatioRule | None:
        for rule in self._fault_next:
            if rule.remaining > 0 and _method_matches(rule.method, method):
                rule.remaining -= 1
                if rule.remaining == 0:
                    self._fault_next.remove(rule)
                return rule
        for ratio_rule in self._fault_ratio:
            hit = _method_matches(ratio_rule.method, method)
            if hit and ratio_rule.rng.random() < ratio_rule.ratio:
                return ratio_rule
        return None
