"""Who sent an update: the key that rate limits, notices and chat state are kept under."""

from __future__ import annotations

from telegram import Update


def sender_key(update: Update) -> str | None:
    """``u:<user id>`` for a person; ``c:<chat id>:<sender chat id>`` for a message sent on
    behalf of a chat (an anonymous group admin, a channel): all anonymous admins share one
    Telegram user (GroupAnonymousBot), so its id would pool them across every group."""
    message = update.effective_message
    chat = update.effective_chat
    if message is not None and message.sender_chat is not None and chat is not None:
        return f"c:{chat.id}:{message.sender_chat.id}"
    user = update.effective_user
    return f"u:{user.id}" if user is not None else None


def chat_id(update: Update) -> int | None:
    chat = update.effective_chat
    return chat.id if chat is not None else None
