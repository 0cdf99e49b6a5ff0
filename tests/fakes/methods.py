"""Method emulation of the Bot API stand-in: realistic results for the methods a chat bot
uses (getMe, getUpdates with offset and long polling, sendMessage, editMessageText, commands,
descriptions, menu button, webhook); any other method of the spec answers ``True``."""

from __future__ import annotations

import copy
import json
import time
from typing import Any, cast

from tests.fakes.state import BOT_FIRST_NAME, BOT_ID, BOT_USER, GET_ME, ApiError, ChatState
from tests.fakes.telegram_html import TelegramHTML, plain_text

JSONDict = dict[str, Any]

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


class MethodEmulation(ChatState):
    """The ``_m_*`` implementations (mixed into ``BotApiStandIn``)."""

    _commands: dict[tuple[str, str], list[JSONDict]]
    _bot_texts: dict[tuple[str, str], str]
    _menu_buttons: dict[int | None, JSONDict]
    _webhook: JSONDict | None

    def _render(self, params: JSONDict, text_key: str = "text") -> tuple[str, list[JSONDict]]:
        text = str(params.get(text_key) or "")
        mode = params.get("parse_mode")
        if isinstance(mode, str) and mode.lower() == "html":
            parsed = TelegramHTML.parse(text)
            return parsed.text, parsed.entities
        if isinstance(mode, str) and mode:
            return plain_text(text, mode), []
        entities = params.get("entities")
        return text, list(entities) if isinstance(entities, list) else []

    def _stored_message(self, params: JSONDict) -> tuple[tuple[int, int], JSONDict]:
        chat = self._resolve_chat(params.get("chat_id"))
        message_id = params.get("message_id")
        if not isinstance(message_id, int):
            raise ApiError(400, "Bad Request: message identifier is not specified")
        key = (int(chat["id"]), message_id)
        stored = self._messages.get(key)
        if stored is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        return key, stored

    # -- method implementations (called with the lock *not* held) --------------------------
    def _m_get_me(self, params: JSONDict) -> JSONDict:
        return dict(GET_ME)

    def _m_get_updates(self, params: JSONDict) -> list[JSONDict]:
        offset = params.get("offset")
        limit = params.get("limit") or 100
        timeout = params.get("timeout") or 0
        allowed = params.get("allowed_updates")
        limit = max(1, min(100, int(limit))) if isinstance(limit, int | float) else 100
        timeout = max(0.0, min(60.0, float(timeout))) if isinstance(timeout, int | float) else 0
        deadline = time.monotonic() + timeout
        with self._cond:
            if self._webhook is not None:
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            if isinstance(offset, int) and not isinstance(offset, bool):
                if offset < 0:
                    self._updates = self._updates[offset:]
                else:
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]
                self._cond.notify_all()

            def available() -> list[JSONDict]:
                if isinstance(allowed, list) and allowed:
                    return [u for u in self._updates if set(u) & set(allowed)]
                return list(self._updates)

            while True:
                ready = available()
                remaining = deadline - time.monotonic()
                if ready or remaining <= 0 or self._stopping.is_set():
                    return copy.deepcopy(ready[:limit])
                self._cond.wait(remaining)

    def _m_send_message(self, params: JSONDict) -> JSONDict:
        with self._cond:
            chat = self._resolve_chat(params.get("chat_id"))
            text, entities = self._render(params)
            if not text.strip():
                raise ApiError(400, "Bad Request: message text is empty")
            message = self._base_message(chat, dict(BOT_USER))
            message["text"] = text
            if entities:
                message["entities"] = entities
            reply = params.get("reply_parameters")
            if isinstance(reply, dict) and isinstance(reply.get("message_id"), int):
                target_chat = self._resolve_chat(reply.get("chat_id", chat["id"]))["id"]
                stored = self._messages.get((int(target_chat), reply["message_id"]))
                if stored is not None:
                    replied = copy.deepcopy(stored)
                    replied.pop("reply_to_message", None)
                    message["reply_to_message"] = replied
                elif not reply.get("allow_sending_without_reply"):
                    raise ApiError(400, "Bad Request: message to be replied not found")
            markup = params.get("reply_markup")
            if isinstance(markup, dict) and "inline_keyboard" in markup:
                message["reply_markup"] = markup
            if isinstance(params.get("link_preview_options"), dict):
                message["link_preview_options"] = params["link_preview_options"]
            return copy.deepcopy(self._store(message))

    def _m_send_message_draft(self, params: JSONDict) -> bool:
        return True

    def _m_send_chat_action(self, params: JSONDict) -> bool:
        with self._cond:
            self._resolve_chat(params.get("chat_id"))
        return True

    def _m_edit_message_text(self, params: JSONDict) -> JSONDict | bool:
        if params.get("inline_message_id"):
            return True
        with self._cond:
            key, stored = self._stored_message(params)
            if stored.get("from", {}).get("id") != BOT_ID:
                raise ApiError(400, "Bad Request: message can't be edited")
            text, entities = self._render(params)
            if not text.strip():
                raise ApiError(400, "Bad Request: message text is empty")
            markup = params.get("reply_markup")
            new = copy.deepcopy(stored)
            new["text"] = text
            new.pop("entities", None)
            if entities:
                new["entities"] = entities
            new.pop("reply_markup", None)
            if isinstance(markup, dict) and markup.get("inline_keyboard"):
                new["reply_markup"] = markup
            if new == stored:
                raise ApiError(400, NOT_MODIFIED)
            new["edit_date"] = self._now()
            self._messages[key] = new
            return copy.deepcopy(new)

    def _m_edit_message_reply_markup(self, params: JSONDict) -> JSONDict | bool:
        if params.get("inline_message_id"):
            return True
        with self._cond:
            key, stored = self._stored_message(params)
            new = copy.deepcopy(stored)
            new.pop("reply_markup", None)
            markup = params.get("reply_markup")
            if isinstance(markup, dict) and markup.get("inline_keyboard"):
                new["reply_markup"] = markup
            if new == stored:
                raise ApiError(400, NOT_MODIFIED)
            new["edit_date"] = self._now()
            self._messages[key] = new
            return copy.deepcopy(new)

    def _m_delete_message(self, params: JSONDict) -> bool:
        with self._cond:
            chat = self._resolve_chat(params.get("chat_id"))
            key = (int(chat["id"]), params.get("message_id"))
            if key not in self._messages:
                raise ApiError(400, "Bad Request: message to delete not found")
            del self._messages[cast(tuple[int, int], key)]
        return True

    def _m_answer_callback_query(self, params: JSONDict) -> bool:
        return True

    def _m_answer_inline_query(self, params: JSONDict) -> bool:
        return True

    @staticmethod
    def _commands_key(params: JSONDict) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    def _m_set_my_commands(self, params: JSONDict) -> bool:
        commands = params.get("commands")
        with self._cond:
            self._commands[self._commands_key(params)] = list(commands or [])
        return True

    def _m_get_my_commands(self, params: JSONDict) -> list[JSONDict]:
        with self._cond:
            return copy.deepcopy(self._commands.get(self._commands_key(params), []))

    def _m_delete_my_commands(self, params: JSONDict) -> bool:
        with self._cond:
            self._commands.pop(self._commands_key(params), None)
        return True

    def _set_bot_text(self, kind: str, params: JSONDict) -> bool:
        key = (kind, str(params.get("language_code") or ""))
        with self._cond:
            value = params.get(kind)
            if value:
                self._bot_texts[key] = str(value)
            else:
                self._bot_texts.pop(key, None)
        return True

    def _get_bot_text(self, kind: str, params: JSONDict, default: str = "") -> JSONDict:
        lang = str(params.get("language_code") or "")
        with self._cond:
            value = self._bot_texts.get((kind, lang), self._bot_texts.get((kind, ""), default))
        return {kind: value}

    def _m_set_my_description(self, params: JSONDict) -> bool:
        return self._set_bot_text("description", params)

    def _m_get_my_description(self, params: JSONDict) -> JSONDict:
        return self._get_bot_text("description", params)

    def _m_set_my_short_description(self, params: JSONDict) -> bool:
        return self._set_bot_text("short_description", params)

    def _m_get_my_short_description(self, params: JSONDict) -> JSONDict:
        return self._get_bot_text("short_description", params)

    def _m_set_my_name(self, params: JSONDict) -> bool:
        return self._set_bot_text("name", params)

    def _m_get_my_name(self, params: JSONDict) -> JSONDict:
        return self._get_bot_text("name", params, BOT_FIRST_NAME)

    def _m_set_chat_menu_button(self, params: JSONDict) -> bool:
        chat_id = params.get("chat_id")
        with self._cond:
            key = chat_id if isinstance(chat_id, int) else None
            button = params.get("menu_button")
            self._menu_buttons[key] = button if isinstance(button, dict) else {"type": "default"}
        return True

    def _m_get_chat_menu_button(self, params: JSONDict) -> JSONDict:
        chat_id = params.get("chat_id")
        with self._cond:
            key = chat_id if isinstance(chat_id, int) else None
            button = self._menu_buttons.get(key) or self._menu_buttons.get(None)
        return copy.deepcopy(button) if button else {"type": "commands"}

    def _m_set_webhook(self, params: JSONDict) -> bool:
        url = str(params.get("url") or "")
        with self._cond:
            if params.get("drop_pending_updates"):
                self._updates.clear()
            if not url:
                self._webhook = None
                return True
            webhook: JSONDict = {"url": url, "max_connections": 40}
            if isinstance(params.get("max_connections"), int):
                webhook["max_connections"] = params["max_connections"]
            if isinstance(params.get("allowed_updates"), list):
                webhook["allowed_updates"] = params["allowed_updates"]
            self._webhook = webhook
            self._cond.notify_all()
        return True

    def _m_delete_webhook(self, params: JSONDict) -> bool:
        with self._cond:
            self._webhook = None
            if params.get("drop_pending_updates"):
                self._updates.clear()
            self._cond.notify_all()
        return True

    def _m_get_webhook_info(self, params: JSONDict) -> JSONDict:
        with self._cond:
            info: JSONDict = {
                "url": "",
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }
            if self._webhook is not None:
                info.update(self._webhook)
        return info

    def _m_close(self, params: JSONDict) -> bool:
        return True

    def _m_log_out(self, params: JSONDict) -> bool:
        return True


def _camel(attribute: str) -> str:
    first, *rest = attribute.removeprefix("_m_").split("_")
    return first + "".join(part.capitalize() for part in rest)


# lower-case method name -> (canonical name, implementation attribute) for every ``_m_*``
_IMPLEMENTED_NAMES: dict[str, str] = {
    _camel(a).lower(): _camel(a) for a in dir(MethodEmulation) if a.startswith("_m_")
}
_IMPLEMENTED: dict[str, str] = {
    _camel(a).lower(): a for a in dir(MethodEmulation) if a.startswith("_m_")
}
