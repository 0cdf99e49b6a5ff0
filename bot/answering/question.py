"""A question as the engine sees it: cleaned once at the edge, its language decided once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.answering.answer import Turn
from bot.answering.messages import REPLY_LANGUAGES
from retrieval import language
from retrieval.text import clean_user_text


def _app_language(hint: str | None) -> str:
    code = (hint or "").lower()
    return next((lang for lang in REPLY_LANGUAGES if code.startswith(lang)), "en")


def _written_in(text: str, hint: str | None) -> str | None:
    """The language ``text`` is written in (perhaps one not served); None without letters."""
    return language.detect_language(text, hint) if any(ch.isalpha() for ch in text) else None


def _reply_in(written: str | None, chosen: str | None, hint: str | None) -> str:
    if chosen in REPLY_LANGUAGES:
        return str(chosen)
    if written in REPLY_LANGUAGES:
        return str(written)
    return _app_language(hint)


def reply_language(text: str, chosen: str | None = None, hint: str | None = None) -> str:
    """The chat's chosen language, else the question's, else the user's app language."""
    if chosen in REPLY_LANGUAGES:
        return str(chosen)
    return _reply_in(_written_in(text, hint), chosen, hint)


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
    # Written in traditional characters: ``text`` is simplified (as the statement is), and
    # the reply goes back to traditional.
    traditional: bool = False
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
        # Detected once; the language it is written in may be one not served (German …).
        detected = _written_in(text, hint)
        reply = _reply_in(detected, lang, hint)
        written = detected or reply
        traditional = written == "zh" and language.is_traditional(text)
        if traditional:
            text = language.to_simplified(text)
        chosen = lang if lang in REPLY_LANGUAGES else None
        return cls(raw, text, written, reply, tuple(history), chosen, traditional, user_key)
