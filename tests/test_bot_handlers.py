"""Handlers through the real application (``bot.telegram.app.build_application``) with its Bot
API client replaced by ``conftest.RecordingRequest`` (python-telegram-bot's ``BaseRequest``,
no HTTP): one update in (``Application.process_update``), the Bot API calls it made out."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from telegram import Update
from telegram.ext import Application

import bot.telegram.app as telegram_app
from bot.answering.messages import message
from retrieval.corpus import load_corpus
from tests.bot_harness import (
    USER,
    fixture_data_dir,  # noqa: F401
    fixture_end_of_test_checks,  # noqa: F401
    fixture_ingested_dir,  # noqa: F401
    make_settings,
)
from tests.conftest import RecordingRequest
from tests.fakes.telegram import DEFAULT_TOKEN, BotApiStandIn

App = Application[Any, Any, Any, Any, Any, Any]


@pytest.fixture
async def app(
    data_dir: Path, recording_request: RecordingRequest, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[App]:
    """The application as `g21bot run` builds it, every Bot API call going to the recording
    request (build_application makes its clients with ``BotApiRequest(...)``); initialized,
    which asks getMe."""
    monkeypatch.setattr(telegram_app, "BotApiRequest", lambda *args, **kwargs: recording_request)
    settings = make_settings(data_dir, TELEGRAM_BOT_TOKEN=DEFAULT_TOKEN)
    application = telegram_app.build_application(settings, persistence=False)
    async with application:
        yield application


async def process(app: App, name: str, args: str = "") -> None:
    """``/name args`` from ``USER`` in the private chat (an update as Telegram sends it)."""
    data = BotApiStandIn().command(USER, name, args)
    await app.process_update(Update.de_json(data, app.bot))


async def test_start_sends_the_introduction(app: App, recording_request: RecordingRequest) -> None:
    assert [call.method for call in recording_request.calls] == ["getMe"]
    await process(app, "start")
    (sent,) = recording_request.sent("sendMessage")
    assert sent["chat_id"] == USER
    assert sent["text"] == html.escape(message("en", "start"), quote=False)
    assert sent["parse_mode"] == "HTML"
    assert sent["link_preview_options"] == {"is_disabled": True}


async def test_para_3_sends_the_paragraph_with_buttons_to_its_neighbours(
    app: App, recording_request: RecordingRequest
) -> None:
    await process(app, "para", "3")
    (sent,) = recording_request.sent("sendMessage")
    assert sent["chat_id"] == USER
    assert sent["text"].startswith(f"{message('en', 'paragraph_head', n=3)} <b>[¶3]</b>\n")
    first_line = load_corpus().primary.text(3, "en").splitlines()[0]
    assert first_line in html.unescape(sent["text"])
    rows = [[b["callback_data"] for b in row] for row in sent["reply_markup"]["inline_keyboard"]]
    # ◀ ▶ first, then the paragraph in the five other versions.
    assert rows == [["p:2:en", "p:4:en"], ["p:3:zh", "p:3:fr", "p:3:es"], ["p:3:ru", "p:3:ar"]]
