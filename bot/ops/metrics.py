"""Prometheus series and the in-process counters behind /stats."""

from __future__ import annotations

import threading
from collections import Counter, deque

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client import Counter as PCounter

REGISTRY = CollectorRegistry(auto_describe=True)

QUESTIONS = PCounter(
    "questions_total", "Questions answered", ["lang", "mode", "outcome"], registry=REGISTRY
)
ANSWER_LATENCY = Histogram(
    "answer_latency_seconds",
    "Time to compose an answer",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
RETRIEVAL_LATENCY = Histogram(
    "retrieval_latency_seconds",
    "Time to search the statement",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
    registry=REGISTRY,
)
LLM_ERRORS = PCounter("llm_errors_total", "LLM calls that failed", registry=REGISTRY)
LLM_SENTENCES = PCounter(
    "llm_sentences_total",
    "Sentences of LLM answers: kept, or dropped and why (no_marker, bad_marker, number, "
    "negation, modal, reversal, scope, body, support)",
    ["verdict"],
    registry=REGISTRY,
)
TELEGRAM_ERRORS = PCounter(
    "telegram_api_errors_total", "Bot API calls that failed", ["method", "code"], registry=REGISTRY
)
TELEGRAM_RETRIES = PCounter(
    "telegram_api_retries_total",
    "Bot API calls resent after a 5xx answer or a lost connection",
    ["method"],
    registry=REGISTRY,
)
ABSTENTIONS = PCounter(
    "abstentions_total", "Questions the statement does not cover", registry=REGISTRY
)
RATE_LIMITED = PCounter(
    "rate_limited_total", "Questions refused by the rate limit", registry=REGISTRY
)


class Stats:
    """Counts and recent latencies for the admins' /stats."""

    def __init__(self, window: int = 1000) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.latencies: deque[float] = deque(maxlen=window)

    def record(self, lang: str, mode: str, outcome: str, seconds: float) -> None:
        QUESTIONS.labels(lang=lang, mode=mode, outcome=outcome).inc()
        ANSWER_LATENCY.observe(seconds)
        if outcome == "abstained":
            ABSTENTIONS.inc()
        with self._lock:
            self.counts.update(["questions", f"lang:{lang}", f"mode:{mode}", f"outcome:{outcome}"])
            self.latencies.append(seconds * 1000)

    def count(self, key: str) -> None:
        with self._lock:
            self.counts[key] += 1

    def percentile(self, share: float) -> float:
        with self._lock:
            values = sorted(self.latencies)
        if not values:
            return 0.0
        return values[min(len(values) - 1, round(share * (len(values) - 1)))]
