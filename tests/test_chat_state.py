"""Durable chat state and the update inbox: SQLite round trips, bounds, the import of an
earlier version's pickle, and real `g21bot run` processes killed with SIGKILL mid-way."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import pickle
import re
import signal
import sqlite3
import subprocess
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram import Bot
from telegram.ext import PersistenceInput, PicklePersistence

from bot.answering.answer import Turn
from bot.answering.messages import message
from bot.ops.chatstore import ChatStore, bound_history, turn_from_json, turn_to_json
from bot.telegram.server import SECRET_HEADER, create_app
from tests.bot_harness import (
    USER,
    StartBot,
    fixture_api,  # noqa: F401  (a fixture)
    fixture_data_dir,  # noqa: F401  (a fixture)
    fixture_end_of_test_checks,  # noqa: F401  (a fixture)
    fixture_ingested_dir,  # noqa: F401  (a fixture)
    fixture_start_bot,  # noqa: F401  (a fixture)
    free_port,
    texts,
)
from tests.fakes.telegram import BotApiStandIn
from tests.process_support import child_process, settings_free_env

START_BOUND = 90.0  # for a process to come up; never reached when green
USERS = [USER, 43, 44, 45]


# --- turns and bounds ---------------------------------------------------------------------------


def test_turns_are_rebuilt_from_older_and_newer_json() -> None:
    turn = Turn("What about zones?", "They matter [¶10].", (10, 6), "en")
    assert turn_from_json(json.loads(json.dumps(turn_to_json(turn)))) == turn
    # A newer version added a field; an older one lacked "lang".
    newer = {**turn_to_json(turn), "mood": "curious", "entity": {"kind": "body"}}
    assert turn_from_json(newer) == turn
    older = {"question": "q", "answer": "a", "paragraphs": [3]}
    assert turn_from_json(older) == Turn("q", "a", (3,), "")
    assert turn_from_json(["not", "a", "turn"]) is None


def test_history_is_bounded_in_turns_and_bytes() -> None:
    """Regression: a 1,000-character question expanding to 3,929 paragraph numbers stored
    27 KB of history per turn, without a bound."""
    huge = Turn("¶" * 1000, "x" * 30_000, tuple(range(1, 3930)), "en")
    kept = bound_history([Turn("q1", "a1", (1,), "en"), huge], max_turns=4, max_bytes=8192)
    size = len(json.dumps([turn_to_json(t) for t in kept], ensure_ascii=False).encode())
    assert size <= 8192 and kept[-1].question.startswith("¶")
    turns = [Turn(f"q{i}", "a" * 100, (i,), "en") for i in range(10)]
    assert [t.question for t in bound_history(turns, 4, 8192)] == ["q6", "q7", "q8", "q9"]
    assert len(bound_history(turns, 10, 1024)) < 10


def test_state_survives_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    store = ChatStore(path, max_turns=4, max_bytes=8192)
    assert store.receive([(7, '{"update_id": 7}'), (8, '{"update_id": 8}')]) == set()
    session = store.load("u:42", 42)
    session.lang = "en"
    session.history.append(Turn("q", "a", (3,), "en"))
    store.commit(7, session)
    store.close()

    again = ChatStore(path)
    reloaded = again.load("u:42", 42)
    assert reloaded.lang == "en" and reloaded.history == [Turn("q", "a", (3,), "en")]
    assert again.pending() == [{"update_id": 8}]
    assert again.receive([(7, '{"update_id": 7}')]) == {7}  # a redelivery of a handled one
    assert again.recent_done() == [7]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again.close()


# --- the pickle of earlier versions -------------------------------------------------------------


async def write_ptb_pickle(path: Path, turn_class: type) -> None:
    """What the landed bot's PicklePersistence wrote: user_data with the language, chat_data
    with each user's turns."""
    persistence = PicklePersistence(
        filepath=path, store_data=PersistenceInput(bot_data=False, callback_data=False)
    )
    persistence.set_bot(Bot("123456:TEST-token"))
    await persistence.get_user_data()
    await persistence.get_chat_data()
    await persistence.update_user_data(USER, {"lang": "en"})
    await persistence.update_user_data(43, {})
    turns = [turn_class("q1", "a1", (10,), "en"), turn_class("q2", "a2", (3, 4), "zh")]
    await persistence.update_chat_data(USER, {"history": {USER: turns}})
    await persistence.flush()


async def test_an_earlier_pickle_is_imported_once(tmp_path: Path) -> None:
    pickled = tmp_path / "telegram.pickle"
    await write_ptb_pickle(pickled, Turn)
    store = ChatStore(tmp_path / "state.sqlite3", pickle_path=pickled)
    session = store.load(f"u:{USER}", USER)
    assert session.lang == "en"
    assert [t.paragraphs for t in session.history] == [(10,), (3, 4)]
    assert not pickled.exists() and (tmp_path / "telegram.pickle.migrated").exists()
    store.close()


async def test_turns_pickled_under_an_older_module_path_are_imported(tmp_path: Path) -> None:
    """Before the restructure, Turn lived in another module: unpickling by class path would
    fail; the import reads the fields instead."""
    legacy = types.ModuleType("bot.answer_legacy")

    @dataclasses.dataclass(frozen=True)
    class Turn:
        question: str
        answer: str
        paragraphs: tuple[int, ...]
        lang: str

    Turn.__module__ = legacy.__name__
    Turn.__qualname__ = "Turn"
    legacy.Turn = Turn  # type: ignore[attr-defined]
    sys.modules[legacy.__name__] = legacy
    try:
        pickled = tmp_path / "telegram.pickle"
        await write_ptb_pickle(pickled, Turn)
    finally:
        del sys.modules[legacy.__name__]
    store = ChatStore(tmp_path / "state.sqlite3", pickle_path=pickled)
    assert [t.question for t in store.load(f"u:{USER}", USER).history] == ["q1", "q2"]
    store.close()


@pytest.mark.parametrize("damage", ["truncated", "garbage", "foreign-class"])
async def test_an_unreadable_pickle_is_set_aside_and_does_not_stop_the_bot(
    tmp_path: Path, damage: str
) -> None:
    """Regression: a kill mid-rewrite left a pickle that failed to load, and the bot
    crash-looped."""
    pickled = tmp_path / "telegram.pickle"
    await write_ptb_pickle(pickled, Turn)
    if damage == "truncated":
        pickled.write_bytes(pickled.read_bytes()[:40])
    elif damage == "garbage":
        pickled.write_bytes(b"\x00not a pickle" * 10)
    else:
        pickled.write_bytes(pickle.dumps({"user_data": {1: subprocess.Popen}}))
    store = ChatStore(tmp_path / "state.sqlite3", pickle_path=pickled)
    assert store.load(f"u:{USER}", USER).lang is None
    assert not pickled.exists() and list(tmp_path.glob("telegram.pickle.unreadable-*"))
    store.close()


# --- the webhook stores before it answers 200 ----------------------------------------------------


async def test_webhook_update_is_in_the_inbox_before_the_200(
    api: BotApiStandIn, start_bot: StartBot, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = await start_bot(
        webhook=True,
        persistence=True,
        G21_WEBHOOK_URL="https://bot.example.test/hook",
        G21_WEBHOOK_SECRET="webhook-Secret_0123456789",
    )
    held: asyncio.Event = asyncio.Event()
    original = bot.state.sessions.begin

    async def hold(update: Any) -> None:
        await held.wait()  # the handler does not start until the test has looked
        await original(update)

    monkeypatch.setattr(bot.state.sessions, "begin", hold)
    transport = httpx.ASGITransport(app=create_app(bot.settings, bot.app))
    update = api.private_text(USER, "paragraph 5")
    async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as http:
        headers = {SECRET_HEADER: "webhook-Secret_0123456789"}
        assert (await http.post("/hook", json=update, headers=headers)).status_code == 200
    with sqlite3.connect(data_dir / "state.sqlite3") as db:
        rows = db.execute("SELECT update_id, done FROM inbox").fetchall()
    assert rows == [(update["update_id"], 0)]
    held.set()
    await bot.handled(update)
    assert texts(api, USER)[0].startswith("Paragraph 5 [¶5]")
    with sqlite3.connect(data_dir / "state.sqlite3") as db:
        assert db.execute("SELECT done FROM inbox").fetchall() == [(1,)]


# --- real processes killed with SIGKILL ---------------------------------------------------------


@contextmanager
def running_bot(api: BotApiStandIn, data_dir: Path, workdir: Path, name: str) -> Iterator[Any]:
    """`g21bot run` (polling) on ``data_dir``; returns once it has polled the stand-in."""
    env = settings_free_env(
        TELEGRAM_BOT_TOKEN=api.token,
        TELEGRAM_BASE_URL=api.base_url,
        G21_DATA_DIR=str(data_dir),
        G21_PORT=str(free_port()),
        G21_TYPING_DELAY="5",  # no "typing…" calls in the record
        G21_RATE_LIMIT_PER_MINUTE="1000",
    )
    g21bot = Path(sys.executable).with_name("g21bot")
    polls = len(api.requests("getUpdates"))
    with child_process(
        [str(g21bot), "run"], env=env, cwd=workdir, stderr_path=workdir / f"{name}.stderr"
    ) as process:
        api.wait_for(lambda: len(api.requests("getUpdates")) > polls, timeout=START_BOUND)
        yield process


def kill_9(process: Any) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def paragraphs_answered(api: BotApiStandIn, chat_id: int) -> list[int]:
    found = []
    for text in api.sent_messages(chat_id):
        match = re.match(r"Paragraph (\d+) \[¶\1\]", text)
        assert match, text[:80]
        found.append(int(match[1]))
    return found


def test_acknowledged_language_survives_kill_9(data_dir: Path, tmp_path: Path) -> None:
    """Regression: PicklePersistence flushed every 30 s, so a /lang the bot had confirmed was
    gone after kill -9 and a restart."""
    with BotApiStandIn() as api:
        with running_bot(api, data_dir, tmp_path, "first") as first:
            api.command(USER, "lang", "en")
            api.wait_for(lambda: api.sent_messages(USER), timeout=30)
            assert api.sent_messages(USER) == [message("en", "lang_set", choice="English")]
            kill_9(first)
        with running_bot(api, data_dir, tmp_path, "second"):
            api.private_text(USER, "第3段", language_code="zh")
            api.wait_for(lambda: len(api.sent_messages(USER)) == 2, timeout=30)
    assert api.sent_messages(USER)[1].startswith("Paragraph 3 [¶3]")


def test_kill_9_mid_burst_loses_no_acknowledged_question(data_dir: Path, tmp_path: Path) -> None:
    """Every question Telegram counted as delivered (getUpdates moved past it) before the
    kill is answered after the restart, or was answered before; in order per chat. An answer
    Telegram received just before the kill, not yet marked handled, may come twice."""
    wanted = {user: [(i * 4 + k) % 15 + 1 for k in range(5)] for i, user in enumerate(USERS)}
    total = sum(len(w) for w in wanted.values())
    with BotApiStandIn() as api:
        with running_bot(api, data_dir, tmp_path, "first") as first:
            # Slow sends keep the burst going; every update is fetched in the first poll.
            api.fail_ratio("sendMessage", "slow", 1.0, delay=0.5)
            for k in range(5):
                for user in USERS:
                    api.private_text(user, f"paragraph {wanted[user][k]}")
            api.wait_for_updates_consumed(timeout=30)  # acknowledged: offset past them all
            api.wait_for(lambda: len(api.sent_messages()) >= 4, timeout=30)
            kill_9(first)
        before_restart = {u: paragraphs_answered(api, u) for u in USERS}
        assert sum(map(len, before_restart.values())) < total, "the kill came too late"
        api.clear_faults()
        with running_bot(api, data_dir, tmp_path, "second"):

            def all_answered() -> bool:
                return all(
                    set(wanted[u]) <= set(paragraphs_answered(api, u))
                    and len(paragraphs_answered(api, u)) >= len(wanted[u])
                    for u in USERS
                )

            api.wait_for(all_answered, timeout=60)
    lost = duplicated = out_of_order = 0
    for user in USERS:
        got = paragraphs_answered(api, user)
        unique = list(dict.fromkeys(got))
        lost += len(set(wanted[user]) - set(got))
        duplicated += len(got) - len(unique)
        out_of_order += int(unique != wanted[user])
    assert (lost, out_of_order) == (0, 0), {u: paragraphs_answered(api, u) for u in USERS}
    assert duplicated <= len(USERS)  # at most the one in flight per chat
    assert api.violations == []
    log = (tmp_path / "second.stderr").read_text(errors="replace")
    assert re.search(r"replaying \d+ update\(s\)", log), log[-2000:]
