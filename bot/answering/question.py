"""A question as the engine sees it: cleaned once at the edge, its language decided once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.answering.answer import Turn
from bot.answering.messages import REPLY_LANGUAGES
from retrieval.text import clean_user_text, detect_language


def reply_language(text: str, chosen: str | None = None, hint: str | None = None) -> str:
    """The chat's chosen language, else the question's, else the user's app language."""
    if chosen in REPLY_LANGUAGES:
        return str(chosen)
    if any(ch.isalpha() for ch in text):
        detected = detect_language(text)
        if detected in REPLY_LANGUAGES:
            return detected
    code = (hint or "").lower()
    return next((lang for lang in REPLY_LANGUAGES if code.startswith(lang)), "en")


@dataclass(frozen=True)
class Question:
    """What a user asked, with the chat's state: the only input of the answer engine."""

    raw: str
    text: str
    # The language the question is written in, and the one the reply is written in.
    lang: str
    reply_lang: str
    history: tuple[Turn, ...] = ()
    # The reply language the chat chose (/lang), None to follow each question.
    chosen_lang: str | None = None
    # Who asks (a Telegram user id, say): model failures pause only them. None: anonymous
    # callers (the CLI, eval), who share one key.
    user_key: str | None = None

    @classmethod
    def build(
        cls,
        raw: str,
        history: Sequence[Turn] = (),
        lang: str | None = None,
        hint: str | None = None,
        user_key: str | None = None,
    ) -> Question:
        """Clean ``raw`` and decide its languages; ``lang`` is the chat's chosen reply
        language, ``hint`` Telegram's ``language_code`` (a tie-breaker only)."""
        text = clean_user_text(raw)
        reply = reply_language(text, lang, hint)
        written = detect_language(text) if any(ch.isalpha() for ch in text) else reply
        chosen = lang if lang in REPLY_LANGUAGES else None
        return cls(raw, text, written, reply, tuple(history), chosen, user_key)
