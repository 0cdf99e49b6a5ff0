"""The allow-list on every update type, throttled notices, fair scheduling between chats and
abusive input, through the real application against the Bot API stand-in."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.answering.answer import Answer
from bot.answering.messages import message
from bot.ops.chatstore import turn_to_json
from retrieval.corpus import load_corpus
from tests.bot_harness import (
    ADMIN,
    GROUP,
    OTHER_USER,
    USER,
    RunningBot,
    StartBot,
    fixture_allow_errors,  # noqa: F401  (a fixture)
    fixture_api,  # noqa: F401  (a fixture)
    fixture_data_dir,  # noqa: F401  (a fixture)
    fixture_end_of_test_checks,  # noqa: F401  (a fixture)
    fixture_ingested_dir,  # noqa: F401  (a fixture)
    fixture_start_bot,  # noqa: F401  (a fixture)
    mention,
    sent,
    texts,
)
from tests.fakes.telegram import BOT_USERNAME, BotApiStandIn

OUTSIDER = 777
OUTSIDER_GROUP = -100_999
ANONYMOUS_ADMIN_BOT = 1087968824  # Telegram's GroupAnonymousBot
REFUSALS = {message("en", "not_allowed"), message("zh", "not_allowed")}
SLOW_DOWN = message("en", "slow_down")
TEXT_ONLY = message("en", "text_only")


def statement_snippets() -> list[str]:
    """The start of every paragraph, both languages: none may reach an outsider."""
    document = load_corpus().primary
    return [document.text(n, lang)[:25] for n in document.numbers for lang in ("zh", "en")]


async def queued(bot: RunningBot, api: BotApiStandIn, make: Callable[[], list[Any]]) -> list[Any]:
    """Updates made while polling is off, so one getUpdates hands them over together."""
    assert bot.app.updater is not None
    await bot.app.updater.stop()
    updates = make()
    await bot.app.updater.start_polling(poll_interval=0, timeout=5)
    return updates


# --- the allow-list ---------------------------------------------------------------------------


async def test_outsider_gets_no_statement_text_through_any_update_type(
    api: BotApiStandIn, start_bot: StartBot, data_dir: Path
) -> None:
    """Regression: /para N, a tapped paragraph button and an inline query used to give an
    outsider the statement's text (the allow-list was checked in answer_question only)."""
    bot = await start_bot(persistence=True, G21_ALLOWED_IDS=f"{USER}", G21_ADMIN_IDS=str(ADMIN))
    outsider = await queued(
        bot,
        api,
        lambda: [
            api.private_text(OUTSIDER, "paragraph 3"),
            api.command(OUTSIDER, "para", "3"),
            api.command(OUTSIDER, "about"),
            api.command(OUTSIDER, "start"),
            api.callback(OUTSIDER, OUTSIDER, "p:3:en"),
            api.callback(OUTSIDER, OUTSIDER, "c:10:zh"),
            api.inline_query(OUTSIDER, "Middle East"),
            api.inline_query(OUTSIDER, ""),
            api.edited_text(OUTSIDER, "paragraph 4"),
            api.sticker(OUTSIDER),
            api.group_text(OUTSIDER_GROUP, OUTSIDER, mention("paragraph 5")),
            api.command(OUTSIDER, "para", "6", chat_id=OUTSIDER_GROUP, mention_bot=True),
        ],
    )
    await bot.handled(*outsider)
    await bot.handled(api.private_text(USER, "paragraph 3"))  # the allowed are served

    to_outsider = [
        r
        for r in api.requests()
        if r.params.get("chat_id") in (OUTSIDER, OUTSIDER_GROUP)
        or r.method in ("answerInlineQuery", "answerCallbackQuery")
    ]
    # One throttled refusal, as a private message; nothing else at all.
    assert [(r.method, r.params.get("text")) for r in to_outsider] == [
        ("sendMessage", message("en", "not_allowed"))
    ]
    sent_anywhere = str([r.params for r in to_outsider])
    assert not [s for s in statement_snippets() if s in sent_anywhere]
    assert texts(api, USER)[0].startswith("Paragraph 3 [¶3]")

    # Nothing was kept for the outsider: no settings, no history, no PTB user/chat data.
    await bot.stop()
    with sqlite3.connect(data_dir / "state.sqlite3") as db:
        senders = {s for (s,) in db.execute("SELECT sender FROM people")}
        senders |= {s for (s,) in db.execute("SELECT sender FROM histories")}
        pending = db.execute("SELECT count(*) FROM inbox WHERE done = 0").fetchone()[0]
    assert senders == {f"u:{USER}"}
    assert pending == 0  # refused updates count as handled: not replayed after a restart
    assert OUTSIDER not in bot.app.user_data and OUTSIDER not in bot.app.chat_data


async def test_refusal_is_throttled_per_sender(api: BotApiStandIn, start_bot: StartBot) -> None:
    bot = await start_bot(G21_ALLOWED_IDS=str(USER))
    first = [api.private_text(OUTSIDER, f"paragraph {n}") for n in range(1, 6)]
    await bot.handled(*first)
    assert texts(api, OUTSIDER) == [message("en", "not_allowed")]
    other = api.private_text(OUTSIDER + 1, "第3段")
    await bot.handled(other)
    assert texts(api, OUTSIDER + 1) == [message("zh", "not_allowed")]


async def test_refusal_comes_again_after_the_notice_interval(
    api: BotApiStandIn, start_bot: StartBot
) -> None:
    bot = await start_bot(G21_ALLOWED_IDS=str(USER), G21_NOTICE_INTERVAL="0")
    await bot.handled(*[api.private_text(OUTSIDER, "paragraph 1") for _ in range(3)])
    assert texts(api, OUTSIDER) == [message("en", "not_allowed")] * 3


async def test_allowed_group_serves_button_taps_and_the_admins_keep_their_commands(
    api: BotApiStandIn, start_bot: StartBot
) -> None:
    bot = await start_bot(G21_ALLOWED_IDS=f"{USER},{GROUP}", G21_ADMIN_IDS=str(ADMIN))
    await bot.handled(api.group_text(GROUP, OUTSIDER, mention("paragraph 4")))
    tap = api.callback(OUTSIDER, GROUP, "p:5:en")  # a member of an allowed group
    await bot.handled(tap)
    edits = [r for r in api.requests("editMessageText") if r.ok]
    assert edits and edits[-1].params["text"].startswith("Paragraph 5")
    await bot.handled(api.command(USER, "stats"), api.command(ADMIN, "stats"))
    assert texts(api, USER) == [message("en", "admin_only")]
    assert "latency p50" in texts(api, ADMIN)[0]


def anonymous_admin_message(api: BotApiStandIn, group: int, text: str) -> dict[str, Any]:
    """What Telegram sends when a group admin posts anonymously: ``from`` is
    GroupAnonymousBot (the same user in every group), ``sender_chat`` the group."""
    chat = {"id": group, "type": "supergroup", "title": f"Group {group}"}
    message_ = {
        "message_id": 1_000 + len(api.requests()),
        "date": 1_700_000_000,
        "chat": chat,
        "sender_chat": chat,
        "from": {
            "id": ANONYMOUS_ADMIN_BOT,
            "is_bot": True,
            "first_name": "Group",
            "username": "GroupAnonymousBot",
        },
        "text": text,
        "entities": api.text_entities(text),
    }
    # Through the stand-in's own path for messages, so that replies to it are accepted.
    return api._push_message(message_)


async def test_anonymous_admins_of_different_groups_do_not_share_limits_or_history(
    api: BotApiStandIn, start_bot: StartBot
) -> None:
    """Regression: all anonymous admins are one Telegram user, so they shared one rate
    bucket (and one language) across every group."""
    bot = await start_bot(G21_RATE_LIMIT_PER_MINUTE="1", G21_ADMIN_IDS=str(ANONYMOUS_ADMIN_BOT))
    groups = [-100_201, -100_202, -100_203]
    first = [anonymous_admin_message(api, g, mention("paragraph 7")) for g in groups]
    await bot.handled(*first)
    for group in groups:
        assert texts(api, group)[0].startswith("Paragraph 7 [¶7]"), texts(api, group)
    # The same anonymous sender in the same group is one bucket: the second is slowed.
    await bot.handled(anonymous_admin_message(api, groups[0], mention("paragraph 8")))
    assert texts(api, groups[0])[-1] == SLOW_DOWN
    # Each group keeps its own conversation; an anonymous post is never an admin's command.
    store = bot.state.store
    assert [t.paragraphs for t in store.load(f"c:{groups[1]}:{groups[1]}", groups[1]).history] == [
        (7,)
    ]
    await bot.handled(anonymous_admin_message(api, groups[2], f"/stats@{BOT_USERNAME}"))
    assert texts(api, groups[2])[-1] == message("en", "admin_only")


# --- notices a sender can trigger at will -----------------------------------------------------


async def test_text_only_and_slow_down_notices_are_throttled(
    api: BotApiStandIn, start_bot: StartBot
) -> None:
    bot = await start_bot(G21_RATE_LIMIT_PER_MINUTE="2")
    stickers = [api.sticker(USER) for _ in range(4)]
    await bot.handled(*stickers)
    assert texts(api, USER) == [TEXT_ONLY]
    questions = [api.private_text(OTHER_USER, f"paragraph {n}") for n in range(1, 7)]
    await bot.handled(*questions)
    replies = texts(api, OTHER_USER)
    assert [r.split(" [")[0] for r in replies[:2]] == ["Paragraph 1", "Paragraph 2"]
    assert replies[2:] == [SLOW_DOWN]
    assert bot.state.stats.counts["rate_limited"] == 4


async def test_admin_error_alerts_are_throttled_and_deduplicated(
    api: BotApiStandIn,
    start_bot: StartBot,
    monkeypatch: pytest.MonkeyPatch,
    allow_errors: None,
) -> None:
    """Regression: every error sent every admin a message, unthrottled."""
    bot = await start_bot(G21_ADMIN_IDS=f"{ADMIN},901")

    async def broken(*args: Any, **kwargs: Any) -> Answer:
        raise RuntimeError("engine broke")

    monkeypatch.setattr(bot.state.engine, "aanswer", broken)
    users = [USER, OTHER_USER, 44, 45, 46]
    await bot.handled(*[api.private_text(u, "What about zones?") for u in users])
    for user in users:
        assert texts(api, user) == [message("en", "error")]
    for admin in (ADMIN, 901):
        alerts = texts(api, admin)
        assert len(alerts) == 1 and "RuntimeError" in alerts[0], alerts


async def test_admin_alert_after_the_interval_counts_what_was_held_back(
    api: BotApiStandIn,
    start_bot: StartBot,
    monkeypatch: pytest.MonkeyPatch,
    allow_errors: None,
) -> None:
    bot = await start_bot(G21_ADMIN_IDS=str(ADMIN))
    clock = [1000.0]
    monkeypatch.setattr(bot.state.alerts, "clock", lambda: clock[0])

    async def broken(*args: Any, **kwargs: Any) -> Answer:
        raise RuntimeError("engine broke")

    monkeypatch.setattr(bot.state.engine, "aanswer", broken)
    await bot.handled(*[api.private_text(u, "What about zones?") for u in (USER, 44, 45)])
    clock[0] += bot.settings.admin_alert_interval
    await bot.handled(api.private_text(46, "What about zones?"))
    alerts = texts(api, ADMIN)
    assert len(alerts) == 2
    assert "(2 more like it since the last alert)" in alerts[1]


# --- fairness between chats ------------------------------------------------------------------


class Gate:
    """Holds answers to questions containing "HOLD" until opened (a slow answer on demand)."""

    def __init__(self, bot: RunningBot, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()
        # A safety valve only: a regression must fail the test, not hang it.
        self.valve = threading.Timer(30.0, self.opened.set)
        self.valve.start()
        original = bot.state.engine.aanswer

        async def answer(question: Any, *args: Any, **kwargs: Any) -> Answer:
            if "HOLD" in getattr(question, "text", question):
                self.entered.set()
                await asyncio.to_thread(self.opened.wait)
            return await original(question, *args, **kwargs)

        monkeypatch.setattr(bot.state.engine, "aanswer", answer)

    async def wait_entered(self) -> None:
        assert await asyncio.to_thread(self.entered.wait, 20.0)

    def open(self) -> None:
        self.opened.set()
        self.valve.cancel()


async def test_a_chat_queued_behind_a_slow_answer_holds_no_work_slot(
    api: BotApiStandIn, start_bot: StartBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: updates waiting for their chat held a concurrency slot each, so one chat
    with a queue as long as the slots stopped every other chat."""
    bot = await start_bot(G21_CHAT_QUEUE_LIMIT="1000", G21_RATE_LIMIT_PER_MINUTE="1000")
    gate = Gate(bot, monkeypatch)
    backlog = 260  # more than the 256 slots there used to be
    try:
        busy = await queued(
            bot,
            api,
            lambda: [
                api.private_text(USER, "HOLD paragraph 1"),
                *[api.private_text(USER, f"paragraph {n % 15 + 1}") for n in range(backlog)],
            ],
        )
        await gate.wait_entered()
        others = [api.private_text(u, "paragraph 9") for u in (OTHER_USER, 44, 45)]
        await bot.handled(*others)  # while USER's first answer is still held
        assert not gate.opened.is_set()
        for user in (OTHER_USER, 44, 45):
            assert texts(api, user)[0].startswith("Paragraph 9 [¶9]")
    finally:
        gate.open()
    await bot.handled(*busy, timeout=120)
    expected = [1] + [n % 15 + 1 for n in range(backlog)]
    assert [t.split(" [")[0] for t in texts(api, USER)] == [f"Paragraph {n}" for n in expected]


async def test_a_chat_over_its_queue_limit_gets_one_slow_down_and_keeps_its_order(
    api: BotApiStandIn, start_bot: StartBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = await start_bot(G21_CHAT_QUEUE_LIMIT="3")
    gate = Gate(bot, monkeypatch)
    try:
        flood = await queued(
            bot,
            api,
            lambda: [
                api.private_text(USER, "HOLD paragraph 1"),
                *[api.private_text(USER, f"paragraph {n}") for n in range(2, 9)],
            ],
        )
        await gate.wait_entered()
        # Three wait behind the held answer; the other four are dropped with one notice.
        await api.awaitable_wait_for(lambda: SLOW_DOWN in texts(api, USER))
        await bot.handled(api.private_text(OTHER_USER, "paragraph 2"))
    finally:
        gate.open()
    await bot.handled(*flood)
    assert texts(api, USER)[0] == SLOW_DOWN
    assert [t.split(" [")[0] for t in texts(api, USER)[1:]] == [
        f"Paragraph {n}" for n in range(1, 5)
    ]
    assert texts(api, OTHER_USER)[0].startswith("Paragraph 2 [¶2]")


async def test_reindex_does_not_freeze_the_bot(
    api: BotApiStandIn, start_bot: StartBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: /reindex dropped the loaded indexes and reopened them holding a lock that
    every handler then waited for on the event loop."""
    bot = await start_bot(G21_ADMIN_IDS=str(ADMIN))
    holder = bot.state.engine.holder
    entered, opened = threading.Event(), threading.Event()
    valve = threading.Timer(30.0, opened.set)
    valve.start()
    original = holder._open

    def slow_open() -> Any:
        entered.set()
        opened.wait()
        return original()

    monkeypatch.setattr(holder, "_open", slow_open)
    reindex = api.command(ADMIN, "reindex")
    try:
        assert await asyncio.to_thread(entered.wait, 60.0)  # the ingest ran; now reloading
        await bot.handled(api.private_text(USER, "paragraph 3"), api.command(USER, "about"))
        assert not opened.is_set()
        assert texts(api, USER)[0].startswith("Paragraph 3 [¶3]")
    finally:
        opened.set()
        valve.cancel()
    await bot.handled(reindex)
    assert texts(api, ADMIN)[0].startswith("Reindexed: ")


# --- abusive input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argument",
    ["²", "³", "1²", "½", "-1", "+3", "3.0", "9" * 4090, "0" * 7 + "3", "0x3"],
    ids=["superscript-2", "superscript-3", "1-squared", "vulgar-half", "negative", "plus",
         "decimal-point", "4090-digits", "too-long", "hex"],
)  # fmt: skip
async def test_para_argument_is_parsed_strictly(
    api: BotApiStandIn, start_bot: StartBot, argument: str
) -> None:
    """Regression: "²".isdigit() is true (int() then raised), and a 4,090-digit number was
    echoed back in a reply over Telegram's 4096 characters."""
    bot = await start_bot()
    await bot.handled(api.command(USER, "para", argument))
    (reply,) = sent(api, USER)
    assert reply.params["text"] == message("en", "para_usage", count=15)


@pytest.mark.parametrize("argument", ["3", "٣", "３", "03"])
async def test_para_takes_decimal_digits_of_any_script(
    api: BotApiStandIn, start_bot: StartBot, argument: str
) -> None:
    """Arabic-Indic or full-width digits are digits (an Arabic keyboard types ٣)."""
    bot = await start_bot()
    await bot.handled(api.command(USER, "para", argument))
    assert texts(api, USER)[0].startswith("Paragraph 3 [¶3]")


async def test_history_is_bounded_in_bytes(api: BotApiStandIn, start_bot: StartBot) -> None:
    """Regression: a 1,000-character question that expands to thousands of paragraph
    numbers stored tens of kilobytes of history."""
    bot = await start_bot(G21_HISTORY_BYTES="4096")
    question = ("¶1-9999 " * 125)[:1000]
    await bot.handled(*[api.private_text(USER, question) for _ in range(3)])
    session = bot.state.store.load(f"u:{USER}", USER)
    assert session.history, "the question was not kept at all"
    stored = json.dumps([turn_to_json(t) for t in session.history], ensure_ascii=False)
    assert len(stored.encode()) <= 4096
