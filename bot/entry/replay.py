"""Conversations replayed through the real Telegram front end, in process: the bot's own
python-telegram-bot application and handlers, with a Bot API that lives in this process and
records what the bot sends. What `g21bot eval` scores conversations by."""

from __future__ import annotations

import html
import itertools
import json
import re
import time
from dataclasses import dataclass, field
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


def plain_text(html_text: str) -> str:
    """What a Telegram client shows for an HTML message."""
    return html.unescape(_TAG.sub("", html_text))


@dataclass
class LoopbackRequest(BaseRequest):
    """A Bot API that answers in process: ``getMe``, messages (recorded) and every other
    call the bot makes (acknowledged)."""

    sent: list[tuple[int, str]] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

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
        params = request_data.parameters if request_data else {}
        result: Any = True
        if name == "getMe":
            result = BOT_USER
        elif name in ("sendMessage", "editMessageText"):
            chat_id = int(str(params.get("chat_id") or 0))
            text = str(params.get("text") or "")
            self.sent.append((chat_id, text))
            result = {
                "message_id": next(self._ids),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "from": BOT_USER,
                "text": plain_text(text),
            }
        return 200, json.dumps({"ok": True, "result": result}).encode()


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
        before = len(self.request.sent)
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
        await self.application.process_update(update)
        return "\n".join(plain_text(t) for c, t in self.request.sent[before:] if c == chat_id)
