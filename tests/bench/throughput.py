"""Part 4: N private-chat users each sending M questions at once, through the real
python-telegram-bot application (``build_application``, polling) against the local Bot API
stand-in on loopback. Replies are matched to questions per chat by their text (the answer
each question gets, replayed with the same conversation history the bot keeps), so a lost,
duplicated or reordered answer is counted as such."""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .common import TESTS_DIR, bench_settings, percentile, quiet_logs

WATCH_GROUP = 10_000  # after every handler group of the bot
FIRST_USER = 5_000_001


def _standin_class() -> Any:
    """``BotApiStandIn`` from tests/telegram_standin.py (imported as the tests import it)."""
    if str(TESTS_DIR) not in sys.path:
        sys.path.insert(0, str(TESTS_DIR))
    from telegram_standin import BotApiStandIn

    return BotApiStandIn


@dataclass
class Expected:
    """What one question should get: the HTML pieces the bot sends for its answer."""

    user: int
    index: int
    question: str
    pieces: list[str]
    pushed_at: float = 0.0
    delivered: list[float] = field(default_factory=list)  # arrival time of each piece


def expected_replies(engine: Any, settings: Any, questions: list[str]) -> list[list[str]]:
    """One user's questions answered in order with the history the handler keeps."""
    from bot.answer import Turn
    from bot.telegram.render import split_message
    from retrieval.text import clean_user_text

    history: list[Any] = []
    out = []
    for raw in questions:
        question = clean_user_text(raw)
        answer = engine.answer(question, history, None)
        out.append(split_message(answer.text))
        history.append(
            Turn(question, answer.text, tuple(answer.cited or answer.shown), answer.lang)
        )
        del history[: -max(1, settings.history_turns)]
    return out


def score(
    expected: dict[int, list[Expected]], replies: dict[int, list[tuple[str, float]]]
) -> dict[str, Any]:
    """Lost / duplicated / out-of-order / unmatched answers, and per-answer latencies."""
    lost = duplicated = out_of_order = unmatched = 0
    latencies: list[float] = []
    first_push = min(e.pushed_at for items in expected.values() for e in items)
    last_reply = first_push
    for user, items in expected.items():
        slots: dict[str, list[tuple[Expected, int]]] = {}
        for item in items:
            for i, piece in enumerate(item.pieces):
                slots.setdefault(piece, []).append((item, i))
        taken: set[tuple[int, int]] = set()
        latest = -1
        for text, at in replies.get(user, []):
            last_reply = max(last_reply, at)
            candidates = slots.get(text)
            if not candidates:
                unmatched += 1
                continue
            free = [(item, i) for item, i in candidates if (item.index, i) not in taken]
            if not free:
                duplicated += 1
                continue
            item, i = free[0]
            taken.add((item.index, i))
            item.delivered.append(at)
            if item.index < latest:
                out_of_order += 1
            latest = max(latest, item.index)
        for item in items:
            if len(item.delivered) < len(item.pieces):
                lost += 1
            else:
                latencies.append(max(item.delivered) - item.pushed_at)
    answered = len(latencies)
    elapsed = max(last_reply - first_push, 1e-9)
    return {
        "answers": answered,
        "answers_per_s": round(answered / elapsed, 2),
        "elapsed_s": round(elapsed, 2),
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
        "lost": lost,
        "duplicated": duplicated,
        "out_of_order": out_of_order,
        "unmatched": unmatched,
    }


async def _load(
    data_dir: Path, questions: list[str], users: int, messages: int, throttled: bool
) -> dict[str, Any]:
    from telegram import Update
    from telegram.ext import TypeHandler

    from bot.engine import AnswerEngine
    from bot.telegram.app import build_application

    standin = _standin_class()
    with standin() as api:
        settings = bench_settings(
            data_dir,
            TELEGRAM_BOT_TOKEN=api.token,
            TELEGRAM_BASE_URL=api.base_url,
            G21_RATE_LIMIT_PER_MINUTE=max(20, 2 * messages),
            # Unthrottled: the bot's own capacity, as with a local Bot API server.
            G21_TELEGRAM_MAX_RATE=30 if throttled else 0,
        )
        engine = AnswerEngine(settings)
        engine.answer("warm-up 预热")
        plan: dict[int, list[Expected]] = {}
        for u in range(users):
            asked = [questions[(u * messages + k) % len(questions)] for k in range(messages)]
            replies = expected_replies(engine, settings, asked)
            plan[FIRST_USER + u] = [
                Expected(FIRST_USER + u, k, q, r)
                for k, (q, r) in enumerate(zip(asked, replies, strict=True))
            ]
        total = users * messages

        app = build_application(settings, engine=engine, persistence=False)
        handled = 0
        changed = asyncio.Condition()

        async def observe(update: object, context: Any) -> None:
            nonlocal handled
            async with changed:
                handled += 1
                changed.notify_all()

        app.add_handler(TypeHandler(Update, observe), group=WATCH_GROUP)
        await app.initialize()
        if app.post_init:
            await app.post_init(app)
        assert app.updater is not None
        await app.updater.start_polling(
            poll_interval=0, timeout=5, allowed_updates=Update.ALL_TYPES
        )
        await app.start()
        try:
            # every user sends all its questions at once; users interleaved
            for k in range(messages):
                for user, items in plan.items():
                    items[k].pushed_at = time.time()
                    api.private_text(user, items[k].question)
            timeout = 60.0 + total * 0.5
            try:
                async with changed:
                    await asyncio.wait_for(changed.wait_for(lambda: handled >= total), timeout)
            except TimeoutError:
                pass  # what did not arrive is counted as lost
        finally:
            if app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
            await app.shutdown()

        got: dict[int, list[tuple[str, float]]] = {}
        for record in api.requests("sendMessage"):
            chat = record.params.get("chat_id")
            if record.ok and chat in plan:
                got.setdefault(int(chat), []).append(
                    (str(record.params.get("text")), record.timestamp)
                )
        result = score(plan, got)
        result.update(
            users=users,
            messages=messages,
            updates=total,
            handled=handled,
            spec_violations=len(api.violations),
            requests=len(api.requests()),
            requests_per_answer=round(
                sum(1 for r in api.requests() if r.params.get("chat_id") in plan)
                / max(1, result["answers"]),
                2,
            ),
            rate_limiter=throttled,
        )
        return result


def measure(
    data_dir: Path, questions: list[str], users: int, messages: int, throttled: bool = True
) -> dict[str, Any]:
    """The load as configured (``throttled``: with the application's rate limiter)."""
    with quiet_logs("bot", "telegram", "httpx", "httpcore"):
        return asyncio.run(_load(data_dir, questions, users, messages, throttled))
