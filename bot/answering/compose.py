"""What a composer gets from the engine, and the one method every composer has."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol

from bot.answering.answer import Answer
from bot.answering.question import Question
from retrieval.corpus import Document
from retrieval.search import SearchResult


@dataclass(frozen=True)
class Context:
    """Everything a composer may use: it holds no reference to the engine."""

    question: Question
    # The question made standalone (a follow-up completed from the earlier turn).
    standalone: str
    result: SearchResult
    document: Document
    # IDF weight of a term over the statement (sentence scoring).
    weight: Callable[[str], float]
    # The question's kind (factoid, stance, overview, list, metadata …) and, for kinds not
    # answered from the search alone, the material to answer from: (paragraph, text) items
    # such as an outline's points or a list's entries, each standing in its paragraph.
    kind: str = "factoid"
    material: tuple[tuple[int, str], ...] = ()
    # Words the answering sentence holds for a "when / where / how many" question.
    answer_terms: tuple[str, ...] = ()


class Composer(Protocol):
    """Turns a search result into a cited answer; drafts (``str``) may come first."""

    name: str

    def astream(self, ctx: Context) -> AsyncIterator[str | Answer]: ...
