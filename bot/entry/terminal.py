"""`g21bot chat`: the assistant in a terminal, with line editing and a few commands."""

from __future__ import annotations

import contextlib
import re
import sys

from bot.answering.answer import Turn
from bot.answering.engine import AnswerEngine
from bot.answering.messages import REPLY_LANGUAGES
from bot.ops.settings import Settings

HELP = (
    "Ask about the G-21 statement in Arabic, Chinese, English, French, Russian or Spanish. "
    "Commands: /para N (a paragraph in full), /lang zh|en|fr|es|ru|ar|auto (reply language), "
    "/reset (forget the conversation), /quit."
)


def chat(settings: Settings, lang: str | None = None) -> int:
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401  (line editing and history for input())
    engine = AnswerEngine(settings)
    print("g21bot: loading the statement…", file=sys.stderr)
    engine.load()
    print(HELP)
    history: list[Turn] = []
    try:
        return _converse(engine, history, lang, settings.history_turns)
    finally:
        engine.close()


def _converse(
    engine: AnswerEngine, history: list[Turn], lang: str | None, history_turns: int
) -> int:
    while True:
        try:
            line = input("\n> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if not line:
            continue
        if line in ("/quit", "/exit", "/q"):
            return 0
        if line == "/reset":
            history.clear()
            print("(conversation forgotten)")
            continue
        if line in ("/help", "/start"):
            print(HELP)
            continue
        if line.startswith("/lang"):
            choice = line.removeprefix("/lang").strip().lower()
            if choice not in (*REPLY_LANGUAGES, "auto"):
                print("(usage: /lang zh|en|fr|es|ru|ar|auto)")
                continue
            lang = None if choice == "auto" else choice
            print(f"(reply language: {lang or 'auto'})")
            continue
        match = re.fullmatch(r"/para\s+(\S+)", line)
        reply_lang = lang
        if match:
            line = f"paragraph {match.group(1)}"
            # "paragraph N" reads as English: keep the conversation's language instead.
            reply_lang = lang or (history[-1].lang if history else None)
        elif line.startswith("/"):
            print("(unknown command) " + HELP)
            continue
        answer = engine.answer(line, history, reply_lang)
        print(answer.text)
        history.append(Turn.of(line, answer))
        del history[: -max(1, history_turns)]
