"""What the benchmark parts share: configuration, percentiles, the machine, settings."""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import statistics
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
TESTS_DIR = REPO_ROOT / "tests"
DEV_QUESTIONS = REPO_ROOT.parent / "shared" / "eval" / "dev.jsonl"
TEST_QUESTIONS = TESTS_DIR / "data" / "questions.jsonl"

# Environment variables of g21bot (and Chroma's client) that must not leak into a run.
_PREFIXES = ("G21_", "CHROMA_", "TELEGRAM_", "OPENAI_")


@dataclass
class Config:
    """One benchmark run. ``quick()`` and ``full()`` are the two presets of the CLI."""

    questions: Path
    repeats: int = 5
    sizes: list[int] = field(default_factory=lambda: [1_000, 10_000, 100_000])
    modes: list[str] = field(default_factory=lambda: ["embedded", "server"])
    users: int = 100
    fault_users: int = 40  # per fault scenario (each run waits out its faults)
    messages: int = 10
    cold_runs: int = 3
    seed: int = 21
    plot: Path | None = None
    parts: list[str] = field(
        default_factory=lambda: ["answer", "peer", "scale", "bot", "bot_faults", "cold_start"]
    )

    @classmethod
    def quick(cls, questions: Path) -> Config:
        return cls(questions, repeats=3, sizes=[200, 2_000], users=20, fault_users=10, messages=5)

    @classmethod
    def full(cls, questions: Path) -> Config:
        return cls(questions)


def default_questions() -> Path:
    """The development questions next to the checkout, else the tests' own."""
    return DEV_QUESTIONS if DEV_QUESTIONS.is_file() else TEST_QUESTIONS


def percentile(values: Sequence[float], share: float) -> float:
    """Linear-interpolation percentile (``share`` in 0..1); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = share * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50 / p95 / max of durations given in seconds, in milliseconds."""
    ms = [s * 1000 for s in seconds]
    return {
        "p50": round(percentile(ms, 0.5), 3),
        "p95": round(percentile(ms, 0.95), 3),
        "max": round(max(ms), 3) if ms else 0.0,
    }


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _memory_gib() -> float:
    with contextlib.suppress(ValueError, OSError, AttributeError):
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    return 0.0


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import chromadb
    import telegram

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cores": cores,
        "cpu": _cpu_model(),
        "memory_gib": _memory_gib(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "chromadb": chromadb.__version__,
        "python_telegram_bot": telegram.__version__,
    }


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without g21bot/Chroma/Telegram settings, telemetry off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_PREFIXES)}
    env["ANONYMIZED_TELEMETRY"] = "False"
    env.update(extra)
    return env


def module_command(module: str, *args: str) -> list[str]:
    """``python -m MODULE ARGS…`` in this interpreter (a part of the benchmark in a fresh
    process); run it with ``checkout_env`` wherever its working directory is."""
    return [sys.executable, "-m", module, *args]


def checkout_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` with the checkout's root first on ``PYTHONPATH``, so that a child started in
    another folder imports ``bench`` and ``tests`` from this checkout."""
    paths = [str(REPO_ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    return {**env, "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}


def bench_settings(data_dir: Path, **values: Any) -> Any:
    """Offline defaults on ``data_dir``: hashing embeddings, embedded Chroma, no LLM, and no
    `.env` file; ``values`` by environment name (``TELEGRAM_BOT_TOKEN=...``)."""
    from bot.ops.settings import Settings

    base: dict[str, Any] = {
        "G21_DATA_DIR": str(data_dir),
        "G21_EMBEDDINGS": "hashing",
        "G21_MANIFEST": "",
        "G21_COLLECTION": "",
        "G21_LLM_MODEL": "",
        "CHROMA_HOST": "",
    }
    base.update(values)
    return Settings(_env_file=None, **base)  # type: ignore[call-arg]


def dir_size_mb(path: Path) -> float:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += (Path(root) / name).stat().st_size
    return round(total / 2**20, 2)


def log(message: str) -> None:
    """Progress on stderr (stdout holds the tables or the JSON object)."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def quiet_logs(*names: str) -> Iterator[None]:
    """Per-request INFO records of the bot and its libraries off while measuring."""
    loggers = [logging.getLogger(n) for n in names or ("bot", "telegram", "httpx", "chromadb")]
    saved = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, saved, strict=True):
            lg.setLevel(level)


# --- a real Chroma server ---------------------------------------------------------------


def start_chroma(path: Path, timeout: float = 60.0) -> Any:
    """`chroma run` on a free loopback port (tests/chroma_process.py), with the caller's
    g21bot settings kept out of its environment."""
    from tests.chroma_process import start_chroma_server

    return start_chroma_server(path, timeout=timeout, env=clean_env())
