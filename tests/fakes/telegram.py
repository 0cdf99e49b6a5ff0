"""A local stand-in for the Telegram Bot API, for offline tests: the names tests import.

``BotApiStandIn`` runs a small HTTP server on 127.0.0.1 (free port, background thread) that
answers ``/bot<TOKEN>/<method>`` the way api.telegram.org does, well enough for
python-telegram-bot 22 (``telegram.Bot(token, base_url=api.base_url)``) to work against it:

* realistic results for the methods a chat bot uses (getMe, getUpdates with offset and long
  polling, sendMessage, editMessageText, ...); any other method of the spec answers ``True``,
  a method that is not in the spec gets ``404 Not Found``, a wrong token ``401 Unauthorized``;
* every request is recorded (``requests()``, ``sent_messages()``) and checked against the
  official spec (``../shared/telegram-bot-api/api.json`` or ``$TELEGRAM_BOT_API_SPEC``):
  method exists, required fields present, no unknown fields, value types, documented
  ``N-M characters`` limits, Telegram-flavoured HTML for ``parse_mode=HTML``; problems are
  collected in ``violations`` (only a missing required field is answered with 400);
* updates are injected with helpers (``private_text``, ``group_text``, ``callback``, ...);
* faults are injected with ``fail_next`` / ``fail_ratio`` (429, 500, slow answer, dropped
  connection, or a 400 with a chosen description such as "can't parse entities");
* ``wait_for`` / ``awaitable_wait_for`` wait on a condition that is notified on every
  request, so tests never sleep to synchronise.

Modules: ``server`` (HTTP server, recording, waiting: ``BotApiStandIn``), ``spec`` (the
official spec and checking requests against it), ``telegram_html`` (the HTML parser),
``faults`` (fault rules), ``updates`` (update factories), ``methods`` (method emulation),
``state`` (the bot, users, chats and messages the emulation shares).

Usage::

    with BotApiStandIn() as api:
        bot = telegram.Bot(api.token, base_url=api.base_url)
        api.private_text(42, "hello")
        ...
        api.wait_for(lambda: api.sent_messages(42))
        assert api.violations == []
"""

from __future__ import annotations

from tests.fakes.faults import DEFAULT_400, FAULT_KINDS
from tests.fakes.methods import NOT_MODIFIED
from tests.fakes.server import BotApiStandIn, RecordedRequest
from tests.fakes.spec import (
    DEFAULT_SPEC_PATH,
    SPEC_ENV_VAR,
    ApiSpec,
    SpecChecker,
    UploadedFile,
    formatting_violations,
    load_spec,
    spec_path,
)
from tests.fakes.state import (
    BOT_FIRST_NAME,
    BOT_ID,
    BOT_USER,
    BOT_USERNAME,
    DEFAULT_TOKEN,
    GET_ME,
    ApiError,
)
from tests.fakes.telegram_html import TelegramHTML, check_html, plain_text, utf16_len

__all__ = [
    "BOT_FIRST_NAME",
    "BOT_ID",
    "BOT_USER",
    "BOT_USERNAME",
    "DEFAULT_400",
    "DEFAULT_SPEC_PATH",
    "DEFAULT_TOKEN",
    "FAULT_KINDS",
    "GET_ME",
    "NOT_MODIFIED",
    "SPEC_ENV_VAR",
    "ApiError",
    "ApiSpec",
    "BotApiStandIn",
    "RecordedRequest",
    "SpecChecker",
    "TelegramHTML",
    "UploadedFile",
    "check_html",
    "formatting_violations",
    "load_spec",
    "plain_text",
    "spec_path",
    "utf16_len",
]
