"""What an answer is: text with [¶N] markers, the citations behind them, and how it was made."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Mode = Literal["extractive", "llm", "reference", "abstain", "unavailable"]


@dataclass(frozen=True)
class Citation:
    """A paragraph number and words that stand in that paragraph."""

    paragraph: int
    quote: str


@dataclass
class Answer:
    text: str
    citations: list[Citation]
    lang: str
    mode: Mode
    abstained: bool = False
    retrieved: list[int] = field(default_factory=list)
    note: str = ""
    # Paragraphs shown in full (a paragraph request): the bot offers navigation for these.
    shown: list[int] = field(default_factory=list)
    degraded: bool = False
    latency_ms: float = 0.0
    # What the answer answers: the question's kind and its standalone wording (follow-ups
    # of the next turn lean on it).
    kind: str = ""
    topic: str = ""

    @property
    def cited(self) -> list[int]:
        seen: list[int] = []
        for c in self.citations:
            if c.paragraph not in seen:
                seen.append(c.paragraph)
        return seen

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["cited"] = self.cited
        return data


@dataclass(frozen=True)
class Turn:
    """One question and what was answered, kept for follow-up questions."""

    question: str
    answer: str
    paragraphs: tuple[int, ...]
    lang: str
    topic: str = ""
    kind: str = ""

    @classmethod
    def of(cls, question: str, answer: Answer) -> Turn:
        """The turn to remember for ``answer`` to ``question``."""
        return cls(
            question,
            answer.text,
            tuple(answer.cited or answer.shown),
            answer.lang,
            answer.topic,
            answer.kind,
        )
