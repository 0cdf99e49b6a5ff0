"""One answering path for the terminal, `eval` and the Telegram bot."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator, Sequence

from bot.answering.answer import Answer, Turn
from bot.answering.conversation import refers_back, shifted_topic, trim_history
from bot.answering.extractive import extractive_answer
from bot.answering.messages import message
from bot.answering.stack import Stack, StackHolder
from bot.ops.metrics import RETRIEVAL_LATENCY, VECTOR_FALLBACKS
from bot.ops.settings import Settings
from retrieval.errors import RetrievalError, StoreTimeoutError, StoreUnavailableError
from retrieval.refs import find_references
from retrieval.search import SearchResult
from retrieval.text import clean_user_text, detect_language

log = logging.getLogger(__name__)

_REF_WORDS = re.compile(r"第\s*\S{1,4}\s*段|\b(?:paragraphs?|paras?\.?)\s*\d+|[¶§]\s*\d+", re.I)


def reply_language(question: str, override: str | None = None) -> str:
    if override in ("zh", "en"):
        return override
    return detect_language(question)


class AnswerEngine:
    """Question + recent turns → verified, cited ``Answer``; the LLM is optional."""

    def __init__(self, settings: Settings, holder: StackHolder | None = None) -> None:
        self.settings = settings
        self.holder = holder or StackHolder(settings)
        self._llm = None
        if settings.llm_model:
            # LangChain chat models load only when configured.
            from bot.answering.llm import LLMAnswerer

            self._llm = LLMAnswerer(settings)

    @property
    def mode(self) -> str:
        return "llm" if self._llm else "extractive"

    def stack(self) -> Stack:
        return self.holder.get()

    def _history(self, history: Sequence[Turn]) -> list[Turn]:
        return trim_history(history, self.settings.history_turns, self.settings.history_tokens)

    def resolve(self, question: str, history: Sequence[Turn], lang: str) -> str:
        """Extractive follow-ups: a pronoun-led question borrows the previous question's topic;
        "what about X?" asks about X alone (the earlier topic would outrank it)."""
        if not history or find_references(question) or not refers_back(question, lang):
            return question
        topic = shifted_topic(question, lang)
        if topic:
            return topic
        previous = _REF_WORDS.sub(" ", history[-1].question)
        return f"{question} {previous}".strip()

    def search(self, question: str, k: int = 10) -> tuple[SearchResult, bool]:
        """Search, falling back to lexical ranking alone when the vector store fails."""
        stack = self.stack()
        started = time.perf_counter()
        try:
            result, degraded = stack.retriever.search(question, k), False
        except StoreUnavailableError as exc:
            log.warning("vector store unavailable, answering from the lexical index: %s", exc)
            VECTOR_FALLBACKS.labels(
                reason="timeout" if isinstance(exc, StoreTimeoutError) else "unavailable"
            ).inc()
            self.holder.invalidate_store()
            result, degraded = stack.retriever.search(question, k, dense=False), True
        RETRIEVAL_LATENCY.observe(time.perf_counter() - started)
        return result, degraded

    def answer(
        self, question: str, history: Sequence[Turn] = (), lang: str | None = None
    ) -> Answer:
        """The extractive answer (no network): what the bot says without an LLM."""
        started = time.perf_counter()
        question = clean_user_text(question)
        question_lang = detect_language(question)
        reply_lang = reply_language(question, lang)
        if not question:
            return Answer(message(reply_lang, "empty"), [], reply_lang, "abstain", abstained=True)
        try:
            stack = self.stack()
            resolved = self.resolve(question, self._history(history), question_lang)
            result, degraded = self.search(resolved)
        except RetrievalError as exc:
            log.error("cannot answer: %s", exc)
            return Answer(
                message(reply_lang, "unavailable"), [], reply_lang, "unavailable", abstained=True
            )
        answer = extractive_answer(
            resolved, result, stack.corpus.primary, reply_lang, stack.retriever.gate, question_lang
        )
        answer.degraded = degraded
        answer.latency_ms = (time.perf_counter() - started) * 1000
        return answer

    async def aanswer(
        self, question: str, history: Sequence[Turn] = (), lang: str | None = None
    ) -> Answer:
        """The answer in the configured mode (LLM when set, falling back to extractive)."""
        final: Answer | None = None
        async for item in self.astream(question, history, lang):
            if isinstance(item, Answer):
                final = item
        assert final is not None
        return final

    async def aclose(self) -> None:
        """Release network clients (the LLM's); the engine is not used afterwards."""
        if self._llm is not None:
            await self._llm.aclose()

    async def astream(
        self, question: str, history: Sequence[Turn] = (), lang: str | None = None
    ) -> AsyncIterator[str | Answer]:
        """Partial answer text while an LLM writes, then the final verified ``Answer``."""
        if self._llm is None:
            yield self.answer(question, history, lang)
            return
        async for item in self._llm.astream(self, question, self._history(history), lang):
            yield item
