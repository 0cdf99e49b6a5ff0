"""Bounded conversation history: the last few turns, within a token budget."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.answering.answer import Turn
from retrieval.tokens import count_tokens

# A follow-up that leans on the previous turn: a pronoun, or "what about …" / "那…呢".
_ANAPHOR_ZH = re.compile(
    r"^(?:那|那么|那个|这|这个|它|它们|其|该|此)|(?:它|它们|其|该|此|这|那)(?:个|些|项|段|份|条)?|呢[？?]?$"
)
_ANAPHOR_EN = re.compile(
    r"\b(?:it|its|they|them|their|this|that|these|those|there|he|she)\b"
    r"|^(?:and|what about|how about)\b",
    re.IGNORECASE,
)
# "what about X?" / "那X呢？": the same kind of question about a new topic X.
_SHIFT_EN = re.compile(r"^(?:and\s+)?(?:what|how)\s+about\s+(?=\S)", re.I)
_SHIFT_ZH = re.compile(r"^(?:那么|那)(?=\S.*呢[\s？?。!！]*$)")
_PRONOUN_EN = re.compile(r"\b(?:it|its|they|them|their|this|that|these|those|there)\b", re.I)
_PRONOUN_ZH = re.compile(r"[它其该此这那]")


def trim_history(turns: Sequence[Turn], max_turns: int, max_tokens: int) -> list[Turn]:
    """The newest turns that fit both limits, oldest first."""
    kept: list[Turn] = []
    used = 0
    for turn in reversed(list(turns)[-max_turns:] if max_turns else []):
        cost = count_tokens(turn.question) + count_tokens(turn.answer)
        if kept and used + cost > max_tokens:
            break
        if not kept and cost > max_tokens:
            # Keep the last question even when its answer is long: follow-ups need it.
            turn = Turn(turn.question, "", turn.paragraphs, turn.lang)
            cost = count_tokens(turn.question)
        kept.append(turn)
        used += cost
    return list(reversed(kept))


def refers_back(question: str, lang: str) -> bool:
    """True for a follow-up that cannot be understood without the previous turn."""
    pattern = _ANAPHOR_ZH if lang == "zh" else _ANAPHOR_EN
    return bool(pattern.search(question.strip()))


def shifted_topic(question: str, lang: str) -> str | None:
    """A "what about X?" follow-up without its lead ("X?", "X呢？"); None when the question
    is not one, or when X itself points back ("what about it?")."""
    shift, pronoun = (_SHIFT_ZH, _PRONOUN_ZH) if lang == "zh" else (_SHIFT_EN, _PRONOUN_EN)
    question = question.strip()
    match = shift.match(question)
    if match is None:
        return None
    topic = question[match.end() :]
    return None if pronoun.search(topic) else topic


def history_text(turns: Sequence[Turn]) -> str:
    lines = []
    for turn in turns:
        lines.append(f"Q: {turn.question}")
        if turn.answer:
            lines.append(f"A: {turn.answer}")
    return "\n".join(lines) or "(none)"
