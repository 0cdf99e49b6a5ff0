"""Bounded conversation history: the last few turns, within a token budget."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from bot.answering.answer import Turn
from retrieval.tokens import count_tokens


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
            turn = replace(turn, answer="")
            cost = count_tokens(turn.question)
        kept.append(turn)
        used += cost
    return list(reversed(kept))


def history_text(turns: Sequence[Turn]) -> str:
    lines = []
    for turn in turns:
        lines.append(f"Q: {turn.question}")
        if turn.answer:
            lines.append(f"A: {turn.answer}")
    return "\n".join(lines) or "(none)"
