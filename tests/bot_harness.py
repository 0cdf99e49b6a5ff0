"""Harness for the Telegram bot's end-to-end tests (imported by ``test_bot_*.py``).

The real application (``bot.telegram.app.build_application``) runs unmodified against the
local Bot API stand-in (``tests.fakes.telegram``): settings point ``TELEGRAM_BASE_URL`` at it, and
the data folder is a copy of an index ingested once per test module. The only addition is an
observer around the update processor that notes every update the application has finished
with (errors, refusals and duplicates included), so tests wait on that condition instead of
sleeping.

Test modules import the ``fixture_*`` functions (each registers the fixture named after it
without the prefix). Every test that uses ``api`` ends with ``api.violations == []``, and
every test ends with no ERROR record in the log unless it asks for ``allow_errors``.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from telegram import Update
from telegram.ext import Application, ContextTypes

from bot.answering.engine import AnswerEngine
from bot.answering.stack import run_ingest
from bot.ops.settings import Settings
from tests.fakes.telegram import BOT_USERNAME, BotApiStandIn, RecordedRequest

JSONDict = dict[str, Any]
WAIT = 20.0  # generous upper bound for a condition; tests never wait this long when green
USER = 42
OTHER_USER = 43
ADMIN = 900
GROUP = -100_123


# --- settings and data --------------------------------------------------------------------


def clear_g21_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No setting from the caller's environment leaks into a test."""
    for info in Settings.model_fields.values():
        if info.alias:
            monkeypatch.delenv(info.alias, raising=False)


def make_settings(data_dir: Path, **values: Any) -> Settings:
    """Settings from alias names (``G21_RATE_LIMIT_PER_MINUTE=2``), no `.env` file; Bot API
    resends 10 ms apart rather than 0.5 s (how long is not what the tests look at)."""
    values.setdefault("G21_DATA_DIR", str(data_dir))
    values.setdefault("G21_TELEGRAM_RETRY_BACKOFF", "0.01")
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="module", name="ingested_dir")
def fixture_ingested_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A data folder with the shipped corpus ingested (embedded Chroma). Read only: tests get
    a copy (``data_dir``)."""
    folder = tmp_path_factory.mktemp("ingested")
    with pytest.MonkeyPatch.context() as mp:
        clear_g21_env(mp)
        report = run_ingest(make_settings(folder))
    assert report.summary()
    yield folder


@pytest.fixture(name="data_dir")
def fixture_data_dir(ingested_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own copy of the ingested data folder, and a clean environment."""
    clear_g21_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "data"
    shutil.copytree(ingested_dir, target)
    return target


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- checks every test ends with --------------------------------------------------------------


@pytest.fixture(name="allow_errors")
def fixture_allow_errors() -> None:
    """Request this in tests that provoke ERROR log records on purpose."""


def _error_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    records = caplog.get_records("setup") + caplog.get_records("call") + caplog.records
    return [r for r in records if r.levelno >= logging.ERROR]


@pytest.fixture(autouse=True, name="end_of_test_checks")
def fixture_end_of_test_checks(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    """After the bot stopped: no Bot API spec violations, no ERROR records (unless allowed)."""
    # Requested here, so the stand-in outlives this check (and the bot stops before it).
    standin = request.getfixturevalue("api") if "api" in request.fixturenames else None
    yield
    if standin is not None:
        assert standin.violations == []
    if "allow_errors" not in request.fixturenames:
        errors = _error_records(caplog)
        assert not errors, "unexpected ERROR records:\n" + "\n".join(
            f"{r.name}: {r.getMessage()}" for r in errors
        )


@pytest.fixture(name="api")
def fixture_api() -> Iterator[BotApiStandIn]:
    with BotApiStandIn() as standin:
        if not standin.spec_available:
            # Only the cross-check against the official spec is skipped; HTML and
            # callback-data checks still run.
            warnings.warn(
                "Bot API spec not found (../shared/telegram-bot-api/api.json or "
                "$TELEGRAM_BOT_API_SPEC): requests are not checked against it",
                stacklevel=1,
            )
        yield standin


# --- a running bot -------------------------------------------------------------------------


@dataclass
class RunningBot:
    """A started application (polling the stand-in, or fed by a webhook app)."""

    api: BotApiStandIn
    app: Application  # type: ignore[type-arg]
    settings: Settings
    polling: bool
    handled_ids: set[int] = field(default_factory=set)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    stopped: bool = False

    async def _observe(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if isinstance(update, Update):
            async with self._changed:
                self.handled_ids.add(update.update_id)
                self._changed.notify_all()

    async def handled(self, *updates: JSONDict, timeout: float = WAIT) -> None:
        """Wait until the application finished with every given update (handlers, error
        handler and all their Bot API calls)."""
        ids = {int(u["update_id"]) for u in updates}
        try:
            async with self._changed:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: ids <= self.handled_ids), timeout
                )
        except TimeoutError:
            recent = "\n  ".join(r.describe() for r in self.api.requests()[-10:])
            missing = sorted(ids - self.handled_ids)
            raise AssertionError(
                f"updates {missing} not handled; last requests:\n  {recent}"
            ) from None

    async def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        app = self.app
        if self.polling and app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        if app.post_stop:
            await app.post_stop(app)
        await app.shutdown()
        if app.post_shutdown:
            await app.post_shutdown(app)

    @property
    def state(self) -> Any:
        return self.app.bot_data["state"]


StartBot = Callable[..., Awaitable[RunningBot]]


def watch_processor(app: Application, observe: Callable[[object, Any], Awaitable[None]]) -> None:  # type: ignore[type-arg]
    """Call ``observe(update, None)`` once the update processor is done with each update:
    after its handlers and the error handler, and also for an update refused before any
    handler runs (the access gate, a full chat queue) or dropped as a duplicate."""
    processor = app.update_processor
    original = processor.do_process_update

    async def observed(update: object, coroutine: Awaitable[Any]) -> None:
        # A redelivery is dropped at once, perhaps while the first delivery still waits.
        first = not (isinstance(update, Update) and processor.seen(update.update_id))
        try:
            await original(update, coroutine)
        finally:
            if first:
                await observe(update, None)

    processor.do_process_update = observed  # type: ignore[method-assign]


@pytest.fixture(name="start_bot")
async def fixture_start_bot(api: BotApiStandIn, data_dir: Path) -> AsyncIterator[StartBot]:
    """``await start_bot(G21_ADMIN_IDS="900", persistence=False, webhook=False)``: the real
    application on settings pointing at the stand-in; stopped at the end of the test."""
    running: list[RunningBot] = []

    async def start(
        *,
        persistence: bool = False,
        webhook: bool = False,
        engine: AnswerEngine | None = None,
        **values: Any,
    ) -> RunningBot:
        settings = make_settings(
            data_dir,
            TELEGRAM_BOT_TOKEN=api.token,
            TELEGRAM_BASE_URL=api.base_url,
            **values,
        )
        from bot.telegram.app import build_application

        app = build_application(settings, engine=engine, persistence=persistence, webhook=webhook)
        bot = RunningBot(api, app, settings, polling=not webhook)
        watch_processor(app, bot._observe)
        running.append(bot)
        # The order of Application.run_polling, without its signal handling and event loop.
        await app.initialize()
        if app.post_init:
            await app.post_init(app)
        if not webhook:
            assert app.updater is not None
            await app.updater.start_polling(
                poll_interval=0, timeout=5, allowed_updates=Update.ALL_TYPES
            )
        await app.start()
        return bot

    yield start
    for bot in reversed(running):
        await bot.stop()


# --- reading what the bot sent -------------------------------------------------------------


def sent(api: BotApiStandIn, chat_id: int, method: str = "sendMessage") -> list[RecordedRequest]:
    """Successful requests of ``method`` to ``chat_id``, in order."""
    return [r for r in api.requests(method) if r.ok and r.params.get("chat_id") == chat_id]


def texts(api: BotApiStandIn, chat_id: int) -> list[str]:
    """Texts of the messages the bot sent to ``chat_id`` (as Telegram shows them)."""
    return [str(r.result["text"]) for r in sent(api, chat_id)]


def buttons(request: RecordedRequest) -> list[tuple[str, str]]:
    """(text, callback_data) of every inline button of a sent message."""
    markup = request.params.get("reply_markup") or {}
    rows = markup.get("inline_keyboard", []) if isinstance(markup, dict) else []
    return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]


def mention(text: str) -> str:
    return f"@{BOT_USERNAME} {text}"
