"""Conversations replayed through the real Telegram front end, in process: the bot's own
python-telegram-bot application and handlers, with a Bot API that lives in this process and
records what the bot sends. What `g21bot eval` scores conversations by."""

from __future__ import annotations

import html
import itertools
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr
from telegram import Update
from telegram.ext import Application
from telegram.request import BaseRequest, RequestData

from bot.answering.engine import AnswerEngine
from bot.ops.settings import Settings

BOT_USER = {"id": 7000001, "is_bot": True, "first_name": "G21", "username": "g21bot"}
_TAG = re.compile(r"</?[a-z][^>]*>")
_COMMAND = re.compile(r"^/[A-Za-z0-9_]+(?:@\w+)?")
_SENDING = ("sendMessage", "editMessageText")


def plain_text(html_text: str) -> str:
    """What a Telegram client shows for an HTML message."""
    return html.unescape(_TAG.sub("", html_text))


@dataclass(frozen=True)
class BotApiCall:
    """One Bot API call as python-telegram-bot made it."""

    method: str
    params: dict[str, Any]
    url: str


class LoopbackRequest(BaseRequest):
    """A Bot API that answers in process (python-telegram-bot's own extension point for its
    HTTP client): every call is recorded in ``calls`` and answered at once: ``getMe`` with
    ``bot``, messages as Telegram returns them, anything else ``True``. ``results`` overrides
    the answer to a method: a value, or a function of the call's parameters."""

    def __init__(
        self, results: dict[str, Any] | None = None, bot: dict[str, Any] | None = None
    ) -> None:
        self.bot = bot or BOT_USER
        self.calls: list[BotApiCall] = []
        self.results: dict[str, Any] = {
            "getMe": self.bot,
            "sendMessage": self._message,
            "editMessageText": self._message,
            **(results or {}),
        }
        self._ids = itertools.count(1)

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data is not None else {}
        self.calls.append(BotApiCall(name, params, url))
        result = self.results.get(name, True)
        if callable(result):
            result = result(params)
        return 200, json.dumps({"ok": True, "result": result}).encode()

    def sent(self, method: str = "sendMessage") -> list[dict[str, Any]]:
        """Parameters of the calls of ``method``, in order."""
        return [call.params for call in self.calls if call.method == method]

    def _message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(str(params["chat_id"]))
        return {
            "message_id": params.get("message_id") or next(self._ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
            "from": dict(self.bot),
            "text": plain_text(str(params.get("text", ""))),
        }


class Replay:
    """One bot application that conversations are replayed through, each in its own chat."""

    def __init__(self, settings: Settings, engine: AnswerEngine) -> None:
        from bot.telegram.app import build_application

        # Every answer at once: no Bot API rate to keep to, nothing to persist; the token
        # only has to look like one.
        settings = settings.model_copy(
            update={"telegram_max_rate": 0, "telegram_bot_token": SecretStr("0:replay")}
        )
        self.request = LoopbackRequest()
        self.application: Application = build_application(
            settings, engine, persistence=False, request=self.request
        )
        self._updates = itertools.count(1)
        self._chats = itertools.count(910_000_001)

    async def __aenter__(self) -> Replay:
        await self.application.initialize()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.application.shutdown()

    def new_chat(self) -> int:
        return next(self._chats)

    async def say(self, chat_id: int, text: str, language_code: str = "") -> str:
        """Send ``text`` as the user of ``chat_id``; everything the bot sent back, as shown."""
        before = len(self.request.calls)
        message: dict[str, Any] = {
            "message_id": next(self._updates),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": {
                "id": chat_id,
                "is_bot": False,
                "first_name": "eval",
                "language_code": language_code or None,
            },
            "text": text,
        }
        command = _COMMAND.match(text)
        if command:
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": command.end()}]
        update = Update.de_json(
            {"update_id": next(self._updates), "message": message}, self.application.bot
        )
        # Through the update processor, as polling and the webhook deliver updates: it loads
        # the chat's state before the handlers and stores it after them.
        app = self.application
        await app.update_processor.process_update(update, app.process_update(update))
        sent = [c.params for c in self.request.calls[before:] if c.method in _SENDING]
        return "\n".join(
            plain_text(str(p.get("text", "")))
            for p in sent
            if str(p.get("chat_id")) == str(chat_id)
        )
