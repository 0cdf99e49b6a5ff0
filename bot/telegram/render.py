"""Answers as Telegram HTML: escaped text, bold [¶N] markers, ≤4096 characters a message."""

from __future__ import annotations

import html
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.answering.answer import Answer
from bot.answering.messages import LANGUAGE_NAMES, REPLY_LANGUAGES

MAX_MESSAGE = 4096
# Button data: c (a citation) or p (a paragraph view), the paragraph, the language.
_CALLBACK = re.compile(rf"([cp]):(\d{{1,4}}):({'|'.join(REPLY_LANGUAGES)})")
# Language buttons a row under a paragraph: five names in one row are cut short on a phone.
LANGUAGES_PER_ROW = 3
_MARKER = re.compile(r"\[¶(\d+)\]")
# A sentence with its end mark, closing quotes, the [¶N] markers that follow it and the white
# space after it: the pieces join back into exactly the text they came from.
_SENTENCE = re.compile(r".+?(?:[。；！？.;!?]+[”’\"」』)）]*(?:\s*\[¶\d+\])*\s*|$)", re.S)


def to_html(text: str) -> str:
    """Escape everything, then make citation markers bold."""
    return _MARKER.sub(r"<b>[¶\1]</b>", html.escape(text, quote=False))


def _pieces(text: str, limit: int) -> list[str]:
    """Split plain text so each piece's HTML fits ``limit``: at blank lines, then lines,
    then sentence ends, then anywhere (a sentence keeps the marker that follows it)."""
    if len(to_html(text)) <= limit:
        return [text]
    for pattern in (r"(?<=\n\n)", r"(?<=\n)", None):
        parts = re.split(pattern, text) if pattern else _SENTENCE.findall(text)
        parts = [p for p in parts if p]
        if len(parts) > 1:
            break
    else:
        cut = _cut(text)
        parts = [text[:cut], text[cut:]]
    out: list[str] = []
    current = ""
    for part in parts:
        if current and len(to_html(current + part)) > limit:
            out.append(current)
            current = ""
        if len(to_html(part)) > limit:
            out.extend(_pieces(part, limit))
        else:
            current += part
    if current:
        out.append(current)
    return [p.strip("\n") for p in out if p.strip()]


def _cut(text: str) -> int:
    """Where to cut text with no line or sentence break: at the last space before the middle
    (else the middle), never inside a [¶N] marker; always strictly inside the text."""
    middle = max(1, len(text) // 2)
    space = text.rfind(" ", 0, middle)
    cut = space + 1 if space >= middle // 2 else middle
    for marker in _MARKER.finditer(text):
        if marker.start() < cut < marker.end():
            cut = marker.start() or marker.end()
    return cut if 0 < cut < len(text) else middle


def split_message(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """HTML messages of at most ``limit`` characters; tags never straddle two messages."""
    return [to_html(piece) for piece in _pieces(text, limit)]


def citation_keyboard(answer: Answer) -> InlineKeyboardMarkup | None:
    """One button per cited paragraph: tapping it shows that paragraph in full."""
    numbers = answer.cited or answer.shown
    if not numbers or answer.shown:
        return None
    buttons = [
        InlineKeyboardButton(f"¶{n}", callback_data=f"c:{n}:{answer.lang}") for n in numbers[:8]
    ]
    return InlineKeyboardMarkup([buttons[i : i + 4] for i in range(0, len(buttons), 4)])


def paragraph_keyboard(n: int, count: int, lang: str) -> InlineKeyboardMarkup:
    """◀ ▶ to the neighbouring paragraphs, then this paragraph in each other language, each
    button with the language's own name (rows of at most three: readable on a phone)."""
    rows: list[list[InlineKeyboardButton]] = []
    nav = []
    if n > 1:
        nav.append(InlineKeyboardButton(f"◀ ¶{n - 1}", callback_data=f"p:{n - 1}:{lang}"))
    if n < count:
        nav.append(InlineKeyboardButton(f"¶{n + 1} ▶", callback_data=f"p:{n + 1}:{lang}"))
    if nav:
        rows.append(nav)
    others = [
        InlineKeyboardButton(LANGUAGE_NAMES.get(code, code), callback_data=f"p:{n}:{code}")
        for code in LANGUAGE_NAMES
        if code != lang and code in REPLY_LANGUAGES
    ]
    step = LANGUAGES_PER_ROW
    rows.extend(others[i : i + step] for i in range(0, len(others), step))
    return InlineKeyboardMarkup(rows)


def parse_callback(data: str | None, count: int) -> tuple[str, int, str] | None:
    """``(kind, paragraph, lang)`` from button data, or None for stale or forged data."""
    match = _CALLBACK.fullmatch(data or "")
    if not match:
        return None
    n = int(match.group(2))
    if not 1 <= n <= count:
        return None
    return match.group(1), n, match.group(3)
