"""The emulated Telegram world behind the Bot API stand-in: the bot's identity, users,
chats and stored messages, shared by the update factories and the method emulation."""

from __future__ import annotations

import copy
import threading
import time
from typing import Any

JSONDict = dict[str, Any]

DEFAULT_TOKEN = "123456:TEST-token"
BOT_ID = 1000
BOT_USERNAME = "g21_test_bot"
BOT_FIRST_NAME = "G21 Bot"
BOT_USER: JSONDict = {
    "id": BOT_ID,
    "is_bot": True,
    "first_name": BOT_FIRST_NAME,
    "username": BOT_USERNAME,
}
GET_ME: JSONDict = {
    **BOT_USER,
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": True,
    "can_connect_to_business": False,
    "has_main_web_app": False,
}


class ApiError(Exception):
    """Raised by method implementations to answer ``ok: false``."""

    def __init__(self, code: int, description: str, parameters: JSONDict | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


class ChatState:
    """Users, chats and messages the stand-in knows (mixed into ``BotApiStandIn``, which
    creates the attributes; every helper expects its lock held or takes it)."""

    _cond: threading.Condition
    _stopping: threading.Event
    _updates: list[JSONDict]
    _next_update_id: int
    _next_query_id: int
    _message_ids: dict[int, int]
    _messages: dict[tuple[int, int], JSONDict]
    _chats: dict[int, JSONDict]
    _users: dict[int, JSONDict]

    def _now(self) -> int:
        return int(time.time())

    def _user(self, user_id: int, first_name: str | None = None, **extra: Any) -> JSONDict:
        user = self._users.get(user_id)
        if user is None or first_name is not None or extra:
            base = dict(user or {"id": user_id, "is_bot": False, "first_name": "Ann"})
            if first_name is not None:
                base["first_name"] = first_name
            base.update({k: v for k, v in extra.items() if v is not None})
            self._users[user_id] = user = base
        return dict(user)

    def _private_chat(self, user_id: int) -> JSONDict:
        user = self._user(user_id)
        chat: JSONDict = {"id": user_id, "type": "private", "first_name": user["first_name"]}
        if user.get("username"):
            chat["username"] = user["username"]
        self._chats[user_id] = chat
        return dict(chat)

    def _group_chat(self, chat_id: int, chat_type: str = "supergroup", title: str = "") -> JSONDict:
        chat = self._chats.get(chat_id)
        if chat is None or chat.get("type") != chat_type or title:
            chat = {"id": chat_id, "type": chat_type, "title": title or "G21 Test Group"}
            self._chats[chat_id] = chat
        return dict(chat)

    def _resolve_chat(self, chat_id: object) -> JSONDict:
        if isinstance(chat_id, str):
            if chat_id.lstrip("-").isdigit():
                chat_id = int(chat_id)
            else:
                for chat in self._chats.values():
                    if chat.get("username") and "@" + str(chat["username"]) == chat_id:
                        return dict(chat)
                raise ApiError(400, "Bad Request: chat not found")
        if not isinstance(chat_id, int) or isinstance(chat_id, bool):
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id in self._chats:
            return dict(self._chats[chat_id])
        if chat_id > 0:
            return self._private_chat(chat_id)
        return self._group_chat(chat_id)

    def _next_message_id(self, chat_id: int) -> int:
        self._message_ids[chat_id] = self._message_ids.get(chat_id, 0) + 1
        return self._message_ids[chat_id]

    def _store(self, message: JSONDict) -> JSONDict:
        key = (int(message["chat"]["id"]), int(message["message_id"]))
        self._messages[key] = copy.deepcopy(message)
        chat_id = key[0]
        self._message_ids[chat_id] = max(self._message_ids.get(chat_id, 0), key[1])
        return message

    def _base_message(self, chat: JSONDict, sender: JSONDict | None) -> JSONDict:
        message: JSONDict = {
            "message_id": self._next_message_id(int(chat["id"])),
            "date": self._now(),
            "chat": chat,
        }
        if sender is not None:
            message["from"] = sender
        return message
