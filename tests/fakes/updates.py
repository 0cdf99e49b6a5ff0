"""Update factories of the Bot API stand-in: what users do (private and group messages,
commands, button presses, inline queries, stickers, photos, edits, channel posts), queued
as updates for getUpdates."""

from __future__ import annotations

import copy
import re
from typing import Any

from tests.fakes.state import BOT_ID, BOT_USER, BOT_USERNAME, ChatState
from tests.fakes.telegram_html import utf16_len

JSONDict = dict[str, Any]


class UpdateFactory(ChatState):
    """Injecting updates (mixed into ``BotApiStandIn``)."""

    # -- update injection ----------------------------------------------------------------
    def push_update(self, update: JSONDict) -> JSONDict:
        """Queue an update (an ``update_id`` is assigned when missing); returns it."""
        with self._cond:
            update = copy.deepcopy(update)
            if "update_id" not in update:
                update["update_id"] = self._next_update_id
            self._next_update_id = max(self._next_update_id, int(update["update_id"])) + 1
            self._updates.append(update)
            self._cond.notify_all()
            return copy.deepcopy(update)

    def _push_message(self, message: JSONDict, kind: str = "message") -> JSONDict:
        with self._cond:
            self._store(message)
            return self.push_update({kind: message})

    @staticmethod
    def text_entities(text: str) -> list[JSONDict]:
        """``bot_command`` and ``mention`` entities Telegram would attach to ``text``."""
        entities: list[JSONDict] = []
        taken: list[tuple[int, int]] = []
        for match in re.finditer(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?", text):
            taken.append(match.span())
            entities.append(
                {
                    "type": "bot_command",
                    "offset": utf16_len(text[: match.start()]),
                    "length": utf16_len(match.group()),
                }
            )
        for match in re.finditer(r"(?<![\w@/])@[A-Za-z0-9_]{5,32}\b", text):
            if any(a <= match.start() < b for a, b in taken):
                continue
            entities.append(
                {
                    "type": "mention",
                    "offset": utf16_len(text[: match.start()]),
                    "length": utf16_len(match.group()),
                }
            )
        return sorted(entities, key=lambda e: e["offset"])

    def private_text(
        self,
        user_id: int,
        text: str,
        language_code: str | None = "en",
        first_name: str = "Ann",
        entities: list[JSONDict] | None = None,
        *,
        username: str | None = None,
    ) -> JSONDict:
        """A text message from ``user_id`` in the private chat with the bot."""
        with self._cond:
            sender = self._user(user_id, first_name, language_code=language_code, username=username)
            message = self._base_message(self._private_chat(user_id), sender)
            message["text"] = text
            found = self.text_entities(text) if entities is None else entities
            if found:
                message["entities"] = found
            return self._push_message(message)

    def group_text(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        chat_type: str = "supergroup",
        entities: list[JSONDict] | None = None,
        reply_to_bot: bool = False,
        *,
        first_name: str | None = None,
        language_code: str | None = None,
        title: str = "",
    ) -> JSONDict:
        """A text message in a group; ``reply_to_bot`` makes it a reply to the bot's last
        message there (one is made up when the bot has not written in that chat)."""
        with self._cond:
            sender = self._user(user_id, first_name, language_code=language_code)
            chat = self._group_chat(chat_id, chat_type, title)
            reply: JSONDict | None = None
            if reply_to_bot:
                reply = self._last_bot_message(chat)
            message = self._base_message(chat, sender)
            message["text"] = text
            found = self.text_entities(text) if entities is None else entities
            if found:
                message["entities"] = found
            if reply is not None:
                message["reply_to_message"] = reply
            return self._push_message(message)

    def _last_bot_message(self, chat: JSONDict) -> JSONDict:
        chat_id = int(chat["id"])
        ids = [
            mid
            for (cid, mid), m in self._messages.items()
            if cid == chat_id and m.get("from", {}).get("id") == BOT_ID
        ]
        if ids:
            return copy.deepcopy(self._messages[(chat_id, max(ids))])
        made_up = self._base_message(chat, dict(BOT_USER))
        made_up["text"] = "An earlier answer of the bot."
        return copy.deepcopy(self._store(made_up))

    def command(
        self,
        user_id: int,
        name: str,
        args: str = "",
        *,
        chat_id: int | None = None,
        chat_type: str = "supergroup",
        mention_bot: bool = False,
        language_code: str | None = "en",
    ) -> JSONDict:
        """``/name args`` privately, or in group ``chat_id`` (``/name@g21_test_bot`` with
        ``mention_bot``)."""
        text = "/" + name.lstrip("/") + (f"@{BOT_USERNAME}" if mention_bot else "")
        if args:
            text += " " + args
        if chat_id is None or chat_id == user_id:
            return self.private_text(user_id, text, language_code=language_code)
        return self.group_text(chat_id, user_id, text, chat_type=chat_type)

    def callback(
        self, user_id: int, chat_id: int, data: str, message_id: int | None = None
    ) -> JSONDict:
        """A press on an inline button with ``data`` under message ``message_id`` (the bot's
        last message in the chat when omitted; a made-up one if unknown)."""
        with self._cond:
            sender = self._user(user_id)
            chat = (
                self._private_chat(user_id) if chat_id == user_id else self._resolve_chat(chat_id)
            )
            stored = self._messages.get((chat_id, message_id)) if message_id is not None else None
            if stored is None and message_id is None:
                stored = self._last_bot_message(chat)
            if stored is None:
                stored = {
                    "message_id": message_id,
                    "from": dict(BOT_USER),
                    "chat": chat,
                    "date": self._now(),
                    "text": "A message of the bot.",
                }
                self._store(stored)
            query_id = str(4_000_000_000_000_000 + self._next_query_id)
            self._next_query_id += 1
            query = {
                "id": query_id,
                "from": sender,
                "message": copy.deepcopy(stored),
                "chat_instance": str(-8_000_000_000_000_000 + abs(chat_id) % 10**12),
                "data": data,
            }
            return self.push_update({"callback_query": query})

    def inline_query(self, user_id: int, query: str, offset: str = "") -> JSONDict:
        with self._cond:
            query_id = str(4_000_000_000_000_000 + self._next_query_id)
            self._next_query_id += 1
            inline = {
                "id": query_id,
                "from": self._user(user_id),
                "query": query,
                "offset": offset,
                "chat_type": "sender",
            }
            return self.push_update({"inline_query": inline})

    def _private_message(self, user_id: int, **content: Any) -> JSONDict:
        with self._cond:
            message = self._base_message(self._private_chat(user_id), self._user(user_id))
            message.update(content)
            return self._push_message(message)

    @staticmethod
    def _file_ids(kind: str, n: int) -> JSONDict:
        return {"file_id": f"{kind}-file-{n}", "file_unique_id": f"{kind}{n}"}

    def sticker(self, user_id: int, emoji: str = "👍") -> JSONDict:
        sticker = {
            **self._file_ids("sticker", self._next_update_id),
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "set_name": "g21_test_stickers",
        }
        return self._private_message(user_id, sticker=sticker)

    def photo(self, user_id: int, caption: str | None = None) -> JSONDict:
        n = self._next_update_id
        sizes = [
            {**self._file_ids("photo-s", n), "width": 90, "height": 60, "file_size": 1_200},
            {**self._file_ids("photo-m", n), "width": 800, "height": 533, "file_size": 48_000},
        ]
        extra: JSONDict = {"photo": sizes}
        if caption is not None:
            extra["caption"] = caption
        return self._private_message(user_id, **extra)

    def voice(self, user_id: int, duration: int = 3) -> JSONDict:
        voice = {
            **self._file_ids("voice", self._next_update_id),
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": 6_000,
        }
        return self._private_message(user_id, voice=voice)

    def document(
        self, user_id: int, file_name: str = "notes.pdf", mime_type: str = "application/pdf"
    ) -> JSONDict:
        document = {
            **self._file_ids("document", self._next_update_id),
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": 34_567,
        }
        return self._private_message(user_id, document=document)

    def location(
        self, user_id: int, latitude: float = 40.7489, longitude: float = -73.968
    ) -> JSONDict:
        return self._private_message(
            user_id, location={"latitude": latitude, "longitude": longitude}
        )

    def edited_text(self, user_id: int, text: str, message_id: int | None = None) -> JSONDict:
        """An edit of the user's message ``message_id`` (their last one when omitted)."""
        with self._cond:
            chat = self._private_chat(user_id)
            sender = self._user(user_id)
            if message_id is None:
                own = [
                    mid
                    for (cid, mid), m in self._messages.items()
                    if cid == user_id and m.get("from", {}).get("id") == user_id
                ]
                message_id = max(own) if own else None
            stored = self._messages.get((user_id, message_id)) if message_id else None
            message = copy.deepcopy(stored) if stored else self._base_message(chat, sender)
            message["text"] = text
            message.pop("entities", None)
            found = self.text_entities(text)
            if found:
                message["entities"] = found
            message["edit_date"] = max(self._now(), int(message["date"]))
            return self._push_message(message, "edited_message")

    def forwarded_text(
        self, user_id: int, text: str, origin_user_id: int = 555, origin_name: str = "Bob"
    ) -> JSONDict:
        origin = {
            "type": "user",
            "date": self._now() - 3600,
            "sender_user": {"id": origin_user_id, "is_bot": False, "first_name": origin_name},
        }
        return self._private_message(user_id, text=text, forward_origin=origin)

    def channel_post(self, chat_id: int, text: str, title: str = "G21 Channel") -> JSONDict:
        with self._cond:
            chat = {"id": chat_id, "type": "channel", "title": title}
            self._chats[chat_id] = chat
            message = self._base_message(dict(chat), None)
            message["sender_chat"] = dict(chat)
            message["text"] = text
            found = self.text_entities(text)
            if found:
                message["entities"] = found
            return self._push_message(message, "channel_post")
