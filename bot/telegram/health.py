"""What /healthz and /readyz report: is the update loop alive, and can the bot answer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from telegram.ext import Application

from bot.answering.engine import AnswerEngine
from retrieval.errors import IndexNotReadyError, StoreMismatchError, StoreUnavailableError

# /readyz answers within about this long whatever the dependencies do (a probe's budget).
READY_BUDGET = 0.8
# PTB's names for the tasks that move updates (polling, and from the queue to the handlers).
_LOOP_TASKS = ("update_fetcher", "polling_task")


class Liveness:
    """/healthz: the application runs and the tasks that fetch and dispatch updates live."""

    def __init__(self, application: Application) -> None:
        self.application = application
        self.loops: list[asyncio.Task[Any]] = []

    def watch_loops(self) -> None:
        """Note the update loops once started (a task that ends while the bot runs means no
        update is fetched or handled any more, e.g. polling gave up on a revoked token)."""
        self.loops = [t for t in asyncio.all_tasks() if t.get_name().endswith(_LOOP_TASKS)]

    def problem(self) -> str | None:
        if not self.application.running:
            return "the application is not running"
        updater = self.application.updater
        if self.loops and updater is not None and not updater.running:
            return "polling stopped"
        if any(task.done() for task in self.loops):
            return "the update loop stopped"
        return None


class _Probe:
    """One call at a time in a worker thread; waiting on it is bounded, the call is not
    cancelled (a thread cannot be), and the next caller waits on the same one."""

    def __init__(self) -> None:
        self._task: asyncio.Future[Any] | None = None

    async def result(self, call: Callable[[], Any], budget: float) -> asyncio.Future[Any] | None:
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(asyncio.to_thread(call))
        done, _ = await asyncio.wait({self._task}, timeout=budget)
        return self._task if done else None


class Readiness:
    """/readyz: 200 when questions can be answered, naming what is degraded (the vector store
    down or hung: the lexical index answers alone); 503 when the indexes are not loaded.
    Never waits longer than ``budget``; reasons never carry exception text (host names)."""

    def __init__(self, engine: AnswerEngine, budget: float = READY_BUDGET) -> None:
        self.engine = engine
        self.budget = budget
        self._load = _Probe()
        self._ping = _Probe()

    async def check(self) -> tuple[int, dict[str, Any]]:
        # Once loaded, the document is at hand; else it opens the store (bounded here).
        deadline = time.monotonic() + self.budget
        finished = await self._load.result(lambda: self.engine.document, self.budget)
        if finished is None:
            return 503, {"status": "unavailable", "reason": "the indexes are loading"}
        error = finished.exception()
        if error is not None:
            return 503, {"status": "unavailable", "reason": _reason(error)}
        body: dict[str, Any] = {"status": "ready", "paragraphs": finished.result().count}
        remaining = max(0.05, deadline - time.monotonic())
        pinged = await self._ping.result(self.engine.ping, remaining)
        if pinged is None or pinged.exception() is not None:
            slow = pinged is None
            body.update(
                status="degraded",
                degraded=["vector_store"],
                reason="the vector store (Chroma) "
                + ("does not answer in time" if slow else "is unavailable")
                + "; answering from the lexical index",
            )
        return 200, body


def _reason(error: BaseException) -> str:
    if isinstance(error, StoreMismatchError):
        return "the Chroma collection was built with other embeddings"
    if isinstance(error, StoreUnavailableError):
        return "the vector store (Chroma) cannot be opened"
    if isinstance(error, IndexNotReadyError):
        return "the index is not built"
    return "the corpus or indexes cannot be loaded"
