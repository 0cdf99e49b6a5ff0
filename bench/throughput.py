"""Part 4: N private-chat users each sending M questions at once, through the real
python-telegram-bot application (``build_application``, polling) against the local Bot API
stand-in on loopback, which runs in a process of its own as Telegram would. Replies are
matched to questions per chat by their text (the answer each question gets, replayed with
the same conversation history the bot keeps), so a lost, duplicated or reordered answer is
counted as such."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .common import bench_settings, percentile, quiet_logs
from .remote_standin import RemoteStandIn

WATCH_GROUP = 10_000  # after every handler group of the bot
FIRST_USER = 5_000_001


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
    from bot.answering.answer import Turn
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
    data_dir: Path,
    questions: list[str],
    users: int,
    messages: int,
    throttled: bool,
    faults: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    from telegram import Update
    from telegram.ext import TypeHandler

    from bot.answering.engine import AnswerEngine
    from bot.ops.settings import Settings
    from bot.telegram.app import build_application

    shipped_limit = Settings.model_fields["rate_limit_per_minute"].default
    shipped_rate = Settings.model_fields["telegram_max_rate"].default

    with RemoteStandIn(faults) as api:
        settings = bench_settings(
            data_dir,
            TELEGRAM_BOT_TOKEN=api.token,
            TELEGRAM_BASE_URL=api.base_url,
            G21_RATE_LIMIT_PER_MINUTE=max(shipped_limit, 2 * messages),
            # Unthrottled: the bot's own capacity, as with a local Bot API server.
            G21_TELEGRAM_MAX_RATE=shipped_rate if throttled else 0,
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
            order = [items[k] for k in range(messages) for items in plan.values()]
            stamps = await asyncio.to_thread(api.push, [(e.user, e.question) for e in order])
            for item, stamp in zip(order, stamps, strict=True):
                item.pushed_at = stamp
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

        settled = api.settle()
        records, violations = api.records()
    got: dict[int, list[tuple[str, float]]] = {}
    for record in records:
        if record.method == "sendMessage" and record.ok and record.chat_id in plan:
            got.setdefault(int(record.chat_id), []).append((str(record.text), record.timestamp))
    result = score(plan, got)
    ours = [r for r in records if r.chat_id in plan]
    result.update(
        users=users,
        messages=messages,
        updates=total,
        handled=handled,
        spec_violations=len(violations),
        requests=len(records),
        requests_per_answer=round(len(ours) / max(1, result["answers"]), 2),
        faulted_requests=sum(1 for r in records if r.fault),
        settled=settled,
        rate_limiter=throttled,
    )
    return result


def measure(
    data_dir: Path,
    questions: list[str],
    users: int,
    messages: int,
    throttled: bool = True,
    faults: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The load as configured (``throttled``: with the application's rate limiter;
    ``faults``: the stand-in's ``fail_ratio`` rules)."""
    with quiet_logs("bot", "telegram", "httpx", "httpcore"):
        return asyncio.run(_load(data_dir, questions, users, messages, throttled, faults))


# Bot API faults on a share of the calls (seeded: reproducible) or on the first calls, each
# scenario a run of its own.
FAULTS: dict[str, list[dict[str, Any]]] = {
    "500 on 10% of sends": [{"method": "sendMessage", "kind": "500", "ratio": 0.1, "seed": 1}],
    "dropped connection on 10% of sends": [
        {"method": "sendMessage", "kind": "drop", "ratio": 0.1, "seed": 2}
    ],
    "429 (retry after 1 s) on 2% of sends": [
        {"method": "sendMessage", "kind": "429", "ratio": 0.02, "seed": 3, "retry_after": 1}
    ],
    "1 s late answer on 10% of sends": [
        {"method": "sendMessage", "kind": "slow", "ratio": 0.1, "seed": 4, "delay": 1.0}
    ],
    "answer after the 5 s read timeout on 2% of sends": [
        {"method": "sendMessage", "kind": "slow", "ratio": 0.02, "seed": 5, "delay": 6.0}
    ],
    # A long poll returns up to 100 updates: a load is a handful of polls, so fault the first.
    "500, then dropped connections, on the first 4 getUpdates": [
        {"method": "getUpdates", "kind": "500", "count": 2},
        {"method": "getUpdates", "kind": "drop", "count": 2},
    ],
}


def measure_faults(
    data_dir: Path, questions: list[str], users: int, messages: int
) -> list[dict[str, Any]]:
    """The load once per fault scenario, rate limiter off."""
    rows = []
    for name, rules in FAULTS.items():
        result = measure(data_dir, questions, users, messages, throttled=False, faults=rules)
        rows.append({"scenario": name, **result})
    return rows
