"""Faults and load, bounded in time and count: the real bot against a Bot API stand-in that
answers 429 / 500 / late / not at all, a Chroma server killed and restarted, a failing LLM,
an unwritable, full or corrupted data folder, duplicate deliveries, a flooding user and
malformed webhook bodies. Every outcome is checked per chat and in order; nothing waits on
the clock except for processes to come up."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from bot.answering.answer import Answer
from bot.answering.messages import message
from bot.answering.stack import run_ingest
from bot.telegram.server import MAX_UPDATE_BYTES, SECRET_HEADER, create_app
from retrieval.store import forget_clients
from tests.answer_support import forget_openai_clients
from tests.bot_harness import (
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
    make_settings,
    sent,
    texts,
)
from tests.fakes.openai import OpenAIStandIn, drop, error, last_user_contains, slow, structured
from tests.fakes.telegram import BotApiStandIn, RecordedRequest

if TYPE_CHECKING:
    from tests.conftest import ChromaServer, CliResult

# AIORateLimiter reads RetryAfter.retry_after, which PTB 22 marks as changing type: not ours.
pytestmark = pytest.mark.filterwarnings(
    "ignore::telegram.warnings.PTBDeprecationWarning",
    "ignore::UserWarning",  # pydantic's serializer note from the openai SDK's stream helper
)

APOLOGY = {message("en", "error"), message("zh", "error")}
UNAVAILABLE = message("en", "unavailable")
SLOW_DOWN = message("en", "slow_down")
MIDDLE_EAST = "What does the Group say about the Middle East?"
PRIORITY = "What is the highest priority of the Conference on Disarmament?"
NPT = "What does the Group say about the Treaty on the Non-Proliferation of Nuclear Weapons?"
USERS = [USER, OTHER_USER, 44, 45]


# --- helpers ----------------------------------------------------------------------------------


def paragraph_questions(api: BotApiStandIn, rounds: int = 3) -> tuple[list[Any], dict[int, list]]:
    """Each user asks for ``rounds`` different paragraphs, interleaved across users; the
    reply to "paragraph N" starts with "Paragraph N", so replies map back to questions."""
    wanted = {user: [(i + 3 * r) % 15 + 1 for r in range(rounds)] for i, user in enumerate(USERS)}
    updates = [
        api.private_text(user, f"paragraph {wanted[user][r]}")
        for r in range(rounds)
        for user in USERS
    ]
    return updates, wanted


def answered_paragraphs(api: BotApiStandIn, chat_id: int) -> list[int]:
    """Paragraph numbers of the "Paragraph N" answers delivered to ``chat_id``, in order."""
    found = []
    for text in texts(api, chat_id):
        match = re.match(r"Paragraph (\d+) \[¶\1\]\n", text)
        assert match, f"not a paragraph answer: {text[:80]!r}"
        found.append(int(match[1]))
    return found


def send_attempts(api: BotApiStandIn, chat_id: int) -> list[RecordedRequest]:
    """Every sendMessage to ``chat_id`` the stand-in saw, faulted ones included, in order."""
    return [r for r in api.requests("sendMessage") if r.params.get("chat_id") == chat_id]


def error_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


def record_answers(bot: RunningBot, monkeypatch: pytest.MonkeyPatch) -> list[Answer]:
    """Every answer the engine composes for the bot, in order."""
    answers: list[Answer] = []
    engine = bot.state.engine
    original = engine.aanswer

    async def recording(*args: Any, **kwargs: Any) -> Answer:
        answer = await original(*args, **kwargs)
        answers.append(answer)
        return answer

    monkeypatch.setattr(engine, "aanswer", recording)
    return answers


# --- Bot API faults on sendMessage ----------------------------------------------------------


@pytest.mark.parametrize("kind", ["429", "slow"])
async def test_retryable_send_faults_lose_nothing(
    api: BotApiStandIn, start_bot: StartBot, kind: str
) -> None:
    """429 (retried by AIORateLimiter, at most 3 retries a call: three 429s in all can never
    use them up) and late answers (inside the read timeout): every answer exactly once, in
    question order per chat."""
    bot = await start_bot()
    if kind == "429":
        api.fail_next("sendMessage", "429", count=3, retry_after=1)
        api.fail_next("sendChatAction", "429", count=1, retry_after=1)
    else:
        api.fail_ratio("sendMessage", "slow", 0.3, seed=1, delay=0.5)
        api.fail_ratio("sendChatAction", "slow", 0.3, seed=2, delay=0.5)
    updates, wanted = paragraph_questions(api)
    await bot.handled(*updates)
    assert [r for r in api.requests() if r.fault == kind], f"no {kind} was injected"
    for user in USERS:
        assert answered_paragraphs(api, user) == wanted[user]


@pytest.mark.parametrize("kind", ["500", "drop"])
async def test_failed_sends_are_resent_and_every_answer_arrives_once_in_order(
    api: BotApiStandIn, start_bot: StartBot, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    """A 500, or a connection dropped before any answer (Telegram has not acted on it), is
    resent after a backoff. Three faults among the first sends: whichever chats they hit, no
    message can meet more than three, and each has four tries (G21_TELEGRAM_RETRIES=3)."""
    bot = await start_bot()
    api.fail_next("sendMessage", kind, count=3)
    updates, wanted = paragraph_questions(api)
    await bot.handled(*updates)
    assert len([r for r in api.requests("sendMessage") if r.fault == kind]) == 3
    for user in USERS:
        assert answered_paragraphs(api, user) == wanted[user]
        delivered = [r for r in send_attempts(api, user) if r.ok]
        assert len(delivered) == len(wanted[user])  # none twice
    assert caplog.text.count("resending in") == 3
    assert error_records(caplog) == []


async def test_answer_later_than_the_read_timeout_is_neither_resent_nor_apologised_for(
    api: BotApiStandIn, start_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    """Telegram answering after the read timeout (5 s) raises TimedOut though the message is
    delivered: the bot logs it and moves on, so the user gets the answer exactly once."""
    bot = await start_bot()
    api.fail_next("sendMessage", "slow", delay=6.0)
    await bot.handled(api.private_text(USER, "paragraph 4"))
    delivered = await api.awaitable_wait_for(lambda: len(sent(api, USER)) == 1)
    assert delivered
    assert len(send_attempts(api, USER)) == 1  # no resend
    assert texts(api, USER)[0].startswith("Paragraph 4 [¶4]\n")
    assert "answered late" in caplog.text and error_records(caplog) == []
    await bot.handled(api.private_text(USER, "paragraph 5"))
    assert [t[:12] for t in texts(api, USER)] == ["Paragraph 4 ", "Paragraph 5 "]


async def test_failed_typing_action_does_not_lose_the_answer(
    api: BotApiStandIn, start_bot: StartBot
) -> None:
    """The "typing…" action is a courtesy: when it fails, the answer is still sent."""
    bot = await start_bot(G21_TYPING_DELAY="0")  # typing before every answer
    api.fail_next("sendChatAction", "500")
    api.fail_next("sendChatAction", "drop")
    updates = [api.private_text(USER, "paragraph 2"), api.private_text(USER, "paragraph 3")]
    await bot.handled(*updates)
    assert answered_paragraphs(api, USER) == [2, 3]
    assert [r.fault for r in api.requests("sendChatAction")][:2] == ["500", "drop"]


# --- Bot API faults on getUpdates -----------------------------------------------------------


@pytest.mark.parametrize("kind", ["429", "500", "drop", "slow"])
async def test_get_updates_faults_are_retried_without_loss_or_duplicates(
    api: BotApiStandIn,
    start_bot: StartBot,
    caplog: pytest.LogCaptureFixture,
    allow_errors: None,
    kind: str,
) -> None:
    bot = await start_bot()
    updater = bot.app.updater
    assert updater is not None
    await updater.stop()  # queue the questions while polling is off, then fault the polls
    updates, wanted = paragraph_questions(api)
    api.fail_next("getUpdates", kind, count=2, retry_after=1, delay=1.0)
    await updater.start_polling(poll_interval=0, timeout=5)
    await bot.handled(*updates)
    assert len([r for r in api.requests("getUpdates") if r.fault == kind]) == 2
    for user in USERS:
        assert answered_paragraphs(api, user) == wanted[user]
    # The updater keeps polling afterwards.
    later = [api.private_text(user, "paragraph 15") for user in USERS]
    await bot.handled(*later)
    assert all(answered_paragraphs(api, u) == [*wanted[u], 15] for u in USERS)
    # 500 and drop: PTB's default polling error callback logs them (ERROR) and retries.
    for record in error_records(caplog):
        assert record.name == "telegram.ext.Updater", record.getMessage()
        assert "while polling for updates" in record.getMessage()
    assert len(error_records(caplog)) == (2 if kind in ("500", "drop") else 0)


# --- the Chroma server killed and restarted -------------------------------------------------


async def test_chroma_server_killed_mid_run_then_restarted(
    api: BotApiStandIn,
    start_bot: StartBot,
    data_dir: Path,
    chroma_server_factory: Callable[[], ChromaServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = chroma_server_factory()
    where = {"CHROMA_HOST": server.host, "CHROMA_PORT": server.port}
    report = await asyncio.to_thread(run_ingest, make_settings(data_dir, **where))
    assert report.added == 90  # six versions of 15 paragraphs
    bot = await start_bot(**where)
    answers = record_answers(bot, monkeypatch)
    transport = httpx.ASGITransport(app=create_app(bot.settings, bot.app, webhook=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as http:
        await bot.handled(api.private_text(USER, MIDDLE_EAST))
        assert (await http.get("/readyz")).status_code == 200
        assert not answers[-1].degraded and "[¶10]" in texts(api, USER)[-1]

        server.process.kill()  # no goodbye: a crash
        server.process.wait(timeout=10)
        # Still able to answer (lexical index): ready for Kubernetes, the degraded part named.
        ready = await http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "degraded"
        down = [api.private_text(user, MIDDLE_EAST) for user in (USER, OTHER_USER)]
        await bot.handled(*down)
        # The engine answers from its lexical index: cited, flagged degraded, no apology.
        assert [a.degraded for a in answers[-2:]] == [True, True]
        for user in (USER, OTHER_USER):
            assert "[¶10]" in texts(api, user)[-1]
            assert texts(api, user)[-1] not in APOLOGY | {UNAVAILABLE}

        # Same port and data path; the session's factory still stops it at the end.
        await asyncio.to_thread(server.restart)
        assert (await http.get("/readyz")).json()["status"] == "ready"  # no bot restart
        await bot.handled(api.private_text(USER, PRIORITY))
        assert answers[-1].degraded is False and answers[-1].citations
        assert "[¶8]" in texts(api, USER)[-1]
    assert bot.state.stats.counts["outcome:degraded"] == 2


# --- the LLM endpoint slow or failing -------------------------------------------------------


@pytest.fixture(name="llm")
def fixture_llm() -> Iterator[OpenAIStandIn]:
    forget_openai_clients()
    with OpenAIStandIn(default=error(503)) as standin:
        yield standin
    forget_openai_clients()


async def test_slow_or_failing_llm_gives_extractive_answers_in_telegram(
    api: BotApiStandIn, llm: OpenAIStandIn, start_bot: StartBot
) -> None:
    good = {"answer": "Nuclear disarmament comes first [¶8].", "citations": []}
    llm.script(
        slow(5.0, structured(good), match=last_user_contains(PRIORITY)),
        drop(match=last_user_contains("Middle East")),
        error(500, match=last_user_contains("Non-Proliferation")),
    )
    bot = await start_bot(
        G21_LLM_MODEL="openai:stand-in",
        OPENAI_BASE_URL=llm.base_url,
        OPENAI_API_KEY="sk-test",
        G21_LLM_RETRIES="0",
        G21_LLM_COOLDOWN="0",
        G21_LLM_TIMEOUT="1",
    )
    questions = {USER: PRIORITY, OTHER_USER: MIDDLE_EAST, 44: NPT}
    first = [api.private_text(user, q) for user, q in questions.items()]
    await bot.handled(*first)
    # A follow-up: the condense step asks the model too (the default reply: 503).
    zones = "What about nuclear-weapon-free zones?"
    second = [api.private_text(user, zones) for user in questions]
    await bot.handled(*second)
    assert llm.pending == [] and len(llm.chat_requests) >= 6  # every fault was met
    for user in questions:
        replies = texts(api, user)
        assert len(replies) == 2
        assert all("[¶" in r and r not in APOLOGY for r in replies), replies
    assert texts(api, USER)[0].startswith("According to the statement:")
    assert "[¶8]" in texts(api, USER)[0] and "[¶10]" in texts(api, OTHER_USER)[0]
    assert bot.state.stats.counts["mode:llm"] == 0


# --- the data folder: unwritable, read-only, full, corrupted --------------------------------


@pytest.fixture(name="cli")
def fixture_cli(run_cli: Callable[..., CliResult]) -> Iterator[Callable[..., CliResult]]:
    forget_clients()
    yield run_cli
    forget_clients()  # a failed open leaves a broken client in Chroma's per-path cache


def one_line_error(result: CliResult, *needles: str) -> None:
    assert result.code != 0, result
    assert "Traceback" not in result.err, result.err
    lines = [line for line in result.err.splitlines() if line.startswith("g21bot: ")]
    assert len(lines) == 1, result.err
    for needle in needles:
        assert needle in lines[0], lines[0]


RUN_ENV = {"TELEGRAM_BOT_TOKEN": "123456:TEST-token"}


def test_data_dir_under_a_regular_file_fails_clearly(
    cli: Callable[..., CliResult], g21_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As root, permissions do not stop writes: a path below a file cannot be written."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("G21_DATA_DIR", str(blocker / "data"))
    for name, value in RUN_ENV.items():
        monkeypatch.setenv(name, value)
    for args in (["ingest"], ["ingest", "--rebuild"], ["run"]):
        one_line_error(cli(*args), "G21_DATA_DIR=", "not writable", "Not a directory")
    assert blocker.read_text() == "x"


@dataclass
class TinyFs:
    path: Path

    def fill(self) -> None:
        with (self.path / "filler").open("wb", buffering=0) as out, contextlib.suppress(OSError):
            while True:
                out.write(b"\0" * 4096)
                os.fsync(out.fileno())

    def remount(self, options: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{options}", str(self.path)], check=True)


@pytest.fixture(name="tiny_fs")
def fixture_tiny_fs(tmp_path: Path) -> Iterator[TinyFs]:
    """A 256 KiB tmpfs (needs root and mount rights, else the test is skipped)."""
    mount = shutil.which("mount")
    target = tmp_path / "tiny"
    target.mkdir()
    if os.geteuid() != 0 or mount is None:
        pytest.skip("mounting a small filesystem needs root")
    done = subprocess.run(
        [mount, "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(target)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace')}")
    try:
        yield TinyFs(target)
    finally:
        forget_clients()
        if subprocess.run(["umount", str(target)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(target)], check=True)


@pytest.mark.parametrize("state", ["full", "read-only"])
def test_full_or_read_only_data_dir_fails_clearly(
    cli: Callable[..., CliResult],
    g21_env: Path,
    tiny_fs: TinyFs,
    monkeypatch: pytest.MonkeyPatch,
    closed_port: int,
    state: str,
) -> None:
    data = tiny_fs.path / "data"
    data.mkdir()
    monkeypatch.setenv("G21_DATA_DIR", str(data))
    # Were the checks to pass, `run` would fail fast on this Bot API URL instead of serving.
    monkeypatch.setenv("TELEGRAM_BASE_URL", f"http://127.0.0.1:{closed_port}/bot")
    for name, value in RUN_ENV.items():
        monkeypatch.setenv(name, value)
    if state == "full":
        tiny_fs.fill()
        reason = "No space left on device"
    else:
        tiny_fs.remount("ro")
        reason = "Read-only file system"
    for args in (["ingest"], ["ingest", "--rebuild"], ["run"]):
        one_line_error(cli(*args), "G21_DATA_DIR=", "not writable", reason)


def corrupt(data_dir: Path) -> None:
    (data_dir / "chroma" / "chroma.sqlite3").write_bytes(b"this is not a database\0" * 512)


def test_corrupted_chroma_dir_is_reported_and_rebuilt(
    cli: Callable[..., CliResult], g21_env: Path
) -> None:
    assert cli("ingest").code == 0
    corrupt(g21_env)
    forget_clients()  # as a new process would: nothing of the healthy store is cached
    one_line_error(cli("search", MIDDLE_EAST), "ingest --rebuild")

    rebuilt = cli("ingest", "--rebuild")
    assert rebuilt.code == 0, rebuilt.err
    assert "90 added" in rebuilt.out
    (damaged,) = g21_env.glob("chroma.damaged-*")
    assert (damaged / "chroma.sqlite3").read_bytes().startswith(b"this is not a database")
    found = cli("search", MIDDLE_EAST, "--json", "-k", "1")
    assert found.code == 0, found.err
    assert found.json()["results"][0]["paragraph"] == 10


async def test_bot_on_a_corrupted_chroma_dir_says_unavailable(
    api: BotApiStandIn,
    start_bot: StartBot,
    data_dir: Path,
    caplog: pytest.LogCaptureFixture,
    allow_errors: None,
) -> None:
    corrupt(data_dir)
    bot = await start_bot()
    transport = httpx.ASGITransport(app=create_app(bot.settings, bot.app, webhook=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as http:
        assert (await http.get("/healthz")).status_code == 200
        ready = await http.get("/readyz")
        assert ready.status_code == 503 and "Chroma" in ready.json()["reason"]
    questions = [api.private_text(USER, MIDDLE_EAST), api.private_text(OTHER_USER, "第3段")]
    await bot.handled(*questions)
    assert texts(api, USER) == [UNAVAILABLE]
    assert texts(api, OTHER_USER) == [message("zh", "unavailable")]
    # Logged as the engine's "cannot answer" (no traceback), not as a handler crash.
    for record in error_records(caplog):
        assert record.getMessage().startswith("cannot answer:") and not record.exc_info
    forget_clients()


# --- duplicates and a flooding user ---------------------------------------------------------


async def test_duplicate_deliveries_by_polling_are_answered_once(
    api: BotApiStandIn, start_bot: StartBot
) -> None:
    bot = await start_bot()
    updater = bot.app.updater
    assert updater is not None
    await updater.stop()
    updates, wanted = paragraph_questions(api)
    for update in updates[::2]:
        api.push_update(update)  # delivered again, later in the same backlog
    await updater.start_polling(poll_interval=0, timeout=5)
    await bot.handled(*updates)
    api.push_update(updates[1])  # and once more, long after it was answered
    # Per chat, a later question is answered after anything queued before it.
    closing = [api.private_text(user, "paragraph 15") for user in USERS]
    await bot.handled(*closing)
    for user in USERS:
        assert answered_paragraphs(api, user) == [*wanted[user], 15]


@dataclass
class Hook:
    bot: RunningBot
    http: httpx.AsyncClient

    async def post(self, body: Any) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {SECRET_HEADER: HOOK_SECRET, "Content-Type": "application/json"}
        return await self.http.post(HOOK_PATH, content=content, headers=headers)


HOOK_PATH = "/tg/hook"
HOOK_SECRET = "fault-Suite_secret_0123"


@pytest.fixture(name="hook")
async def fixture_hook(start_bot: StartBot) -> AsyncIterator[Hook]:
    bot = await start_bot(
        webhook=True,
        G21_WEBHOOK_URL=f"https://bot.example.test{HOOK_PATH}",
        G21_WEBHOOK_SECRET=HOOK_SECRET,
    )
    transport = httpx.ASGITransport(app=create_app(bot.settings, bot.app))
    async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as http:
        yield Hook(bot, http)


async def test_duplicate_webhook_posts_are_answered_once(hook: Hook, api: BotApiStandIn) -> None:
    updates, wanted = paragraph_questions(api, rounds=2)
    # Telegram retrying a post it thinks failed: the same update, concurrently.
    posts = [hook.post(u) for u in updates for _ in range(3)]
    assert {r.status_code for r in await asyncio.gather(*posts)} == {200}
    await hook.bot.handled(*updates)
    assert (await hook.post(updates[0])).status_code == 200  # much later
    closing = [api.private_text(user, "paragraph 15") for user in USERS]
    for update in closing:
        assert (await hook.post(update)).status_code == 200
    await hook.bot.handled(*closing)
    for user in USERS:
        assert answered_paragraphs(api, user) == [*wanted[user], 15]


def record_finished(bot: RunningBot, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Ids of the updates the bot is done with (state committed), in the order it was."""
    finished: list[int] = []
    hooks = bot.app.update_processor.hooks  # type: ignore[attr-defined]
    original = hooks.end

    async def noting(update: Any) -> None:
        await original(update)
        finished.append(update.update_id)

    monkeypatch.setattr(hooks, "end", noting)
    return finished


async def test_flooding_user_is_slowed_down_and_others_are_served(
    api: BotApiStandIn, start_bot: StartBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A queue cap above the flood: this is about the rate limit (the cap has its own test).
    bot = await start_bot(G21_RATE_LIMIT_PER_MINUTE=5, G21_CHAT_QUEUE_LIMIT=100)
    finished = record_finished(bot, monkeypatch)
    flood: list[Any] = []
    others: list[Any] = []
    for i in range(30):
        flood.append(api.private_text(USER, f"paragraph {i % 15 + 1}"))
        if i % 6 == 0:
            others.append(api.private_text(OTHER_USER, f"paragraph {len(others) + 1}"))
    await bot.handled(*flood, *others)

    flooded = texts(api, USER)
    # Five answers, then one "slow down" for the 25 refused (G21_NOTICE_INTERVAL): a reply
    # to each would be a Bot API call per message the flooder sends.
    assert len(flooded) == 6
    assert [t.split(" [")[0] for t in flooded[:5]] == [f"Paragraph {n}" for n in range(1, 6)]
    assert flooded[5:] == [SLOW_DOWN]
    assert answered_paragraphs(api, OTHER_USER) == [1, 2, 3, 4, 5]
    # Served alongside the flood, not behind it: the other user's last question was done
    # before the flooder's backlog was through (most of which gets no reply to order by).
    flood_ids = {u["update_id"] for u in flood}
    last_other = max(i for i, uid in enumerate(finished) if uid not in flood_ids)
    assert len([uid for uid in finished[last_other + 1 :] if uid in flood_ids]) >= 10, finished
    assert bot.state.stats.counts["rate_limited"] == 25


# --- malformed webhook bodies ---------------------------------------------------------------

HUGE = 4 * 1024 * 1024
assert HUGE > MAX_UPDATE_BYTES


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2, 3]",
        b'[{"update_id": 1}]',
        b'{"message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}}',
        b'{"update_id": null}',
        b'{"update_id": 5, "message": {"text": "\xff\xfe broken UTF-8"}}',
        b"\xc3\x28\xa0\xa1",
        b"[" * 100_000 + b"]" * 100_000,
        b"x" * HUGE,
        b'{"update_id": 6, "junk": "' + b"a" * HUGE + b'", "message": 1}',
    ],
    ids=[
        "not-json",
        "array",
        "array-of-update",
        "no-update-id",
        "null-update-id",
        "invalid-utf8-in-json",
        "invalid-utf8",
        "deeply-nested",
        "huge-garbage",
        "huge-invalid-update",
    ],
)
async def test_malformed_webhook_bodies_are_refused(
    hook: Hook, api: BotApiStandIn, body: bytes
) -> None:
    # Bodies over the size cap are refused before parsing (413); the rest as malformed (400).
    expected = 413 if len(body) > MAX_UPDATE_BYTES else 400
    assert (await hook.post(body)).status_code == expected
    assert (await hook.http.get("/healthz")).status_code == 200
    assert (await hook.http.get("/readyz")).status_code == 200
    update = api.private_text(USER, "paragraph 6")
    assert (await hook.post(update)).status_code == 200
    await hook.bot.handled(update)
    assert answered_paragraphs(api, USER) == [6]
    assert sent(api, USER)[0].ok
