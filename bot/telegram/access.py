"""The allow-list, checked once for every update before any work, and the one throttled reply
a refused sender gets."""

from __future__ import annotations

import html
import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot.answering.messages import message
from bot.answering.question import reply_language
from bot.ops.ratelimit import Throttle
from bot.ops.settings import Settings
from bot.telegram.identity import sender_key

log = logging.getLogger(__name__)


class AccessGate:
    """With ``G21_ALLOWED_IDS`` set, only those users and chats (and the admins) are served:
    messages, edits, commands, button taps and inline queries alike."""

    def __init__(self, settings: Settings) -> None:
        self.allowed = set(settings.allowed_ids)
        self.admins = set(settings.admin_ids)

    def admits(self, update: Update) -> bool:
        if not self.allowed:
            return True
        ids = {
            getattr(update.effective_user, "id", None),
            getattr(update.effective_chat, "id", None),
        }
        return bool(ids & (self.allowed | self.admins))

    def is_admin(self, update: Update) -> bool:
        user = update.effective_user
        # A message sent on behalf of a chat carries GroupAnonymousBot as its user: no admin.
        message_ = update.effective_message
        if message_ is not None and message_.sender_chat is not None:
            return False
        return user is not None and user.id in self.admins


def refusal_language(update: Update) -> str:
    message_ = update.effective_message
    text = (message_.text or "") if message_ is not None else ""
    user = update.effective_user
    return reply_language(text, None, user.language_code if user else None)


async def refuse(update: Update, notices: Throttle) -> None:
    """One "this bot is private" per sender per notice interval, in the way the update
    allows; nothing else (group chatter and other update kinds get no reply at all)."""
    key = ("not_allowed", sender_key(update))
    lang = refusal_language(update)
    text = message(lang, "not_allowed")
    try:
        if update.callback_query is not None:
            if notices.ready(key):
                await update.callback_query.answer(text)
        elif update.inline_query is not None:
            if notices.ready(key):
                await update.inline_query.answer([], cache_time=0, is_personal=True)
        elif (
            update.effective_message is not None
            and update.effective_chat is not None
            and update.effective_chat.type == ChatType.PRIVATE
            and notices.ready(key)
        ):
            await update.effective_message.reply_text(html.escape(text, quote=False))
    except TelegramError as exc:
        log.info("could not tell a refused sender: %s", exc)
