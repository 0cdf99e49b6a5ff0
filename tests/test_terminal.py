"""`g21bot chat`: /lang takes the six UN languages (and auto), the help names them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from bot.answering.answer import Answer, Turn
from bot.entry import terminal


class RecordingEngine:
    """Answers every question with the language it was asked to reply in."""

    def __init__(self) -> None:
        self.langs: list[str | None] = []

    def answer(self, question: str, history: Sequence[Turn], lang: str | None) -> Answer:
        self.langs.append(lang)
        return Answer(f"answer in {lang}", [], lang or "en", "extractive")


def converse(monkeypatch: pytest.MonkeyPatch, lines: list[str]) -> tuple[RecordingEngine, str]:
    feed = iter(lines)

    def fake_input(prompt: str = "") -> str:
        try:
            return next(feed)
        except StopIteration:
            raise EOFError from None

    printed: list[str] = []
    monkeypatch.setattr("builtins.input", fake_input)
    monkeypatch.setattr("builtins.print", lambda *a, **_: printed.append(" ".join(map(str, a))))
    engine = RecordingEngine()
    engine_any: Any = engine
    assert terminal._converse(engine_any, [], None, 5) == 0
    return engine, "\n".join(printed)


def test_help_names_the_six_languages() -> None:
    for name in ("Arabic", "Chinese", "English", "French", "Russian", "Spanish"):
        assert name in terminal.HELP
    assert "/lang zh|en|fr|es|ru|ar|auto" in terminal.HELP


@pytest.mark.parametrize("code", ["zh", "en", "fr", "es", "ru", "ar"])
def test_lang_sets_the_reply_language(monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    engine, out = converse(monkeypatch, [f"/lang {code}", "What is the priority?"])
    assert f"(reply language: {code})" in out
    assert engine.langs == [code]


def test_lang_auto_and_unknown_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = ["/lang FR", "q1", "/lang de", "q2", "/lang auto", "q3"]
    engine, out = converse(monkeypatch, lines)
    assert "(usage: /lang zh|en|fr|es|ru|ar|auto)" in out
    # An unknown code changes nothing; auto follows each question again.
    assert engine.langs == ["fr", "fr", None]
