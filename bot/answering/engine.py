"""The one answering path, for Telegram, the terminal, `ask` and `eval`: resolve a
follow-up, route, retrieve, compose, verify, fall back, stamp timings."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.answering.answer import Answer, Turn
from bot.answering.compose import Context
from bot.answering.conversation import refers_back, shifted_topic, trim_history
from bot.answering.extractive import ExtractiveComposer
from bot.answering.messages import message
from bot.answering.question import Question
from bot.answering.stack import Stack, StackHolder, run_ingest
from bot.ops.metrics import RETRIEVAL_LATENCY
from bot.ops.settings import Settings
from retrieval.corpus import Document
from retrieval.errors import RetrievalError, StoreUnavailableError
from retrieval.refs import find_references, strip_references
from retrieval.search import SearchResult
from retrieval.store import IngestReport

if TYPE_CHECKING:
    from bot.answering.llm import LLMComposer

log = logging.getLogger(__name__)

Draft = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class Plan:
    """What the engine decided before composing: the standalone question and its search."""

    standalone: str
    result: SearchResult
    degraded: bool
    stack: Stack


class AnswerEngine:
    """Question → verified, cited ``Answer``. Front ends use only this class's public
    methods: ``astream`` (drafts, then the answer), ``aanswer`` / ``answer`` (the answer),
    and the document accessors."""

    def __init__(self, settings: Settings, holder: StackHolder | None = None) -> None:
        self.settings = settings
        self.holder = holder or StackHolder(settings)
        self.extractive = ExtractiveComposer()
        self._llm: LLMComposer | None = None
        if settings.llm_model:
            from bot.answering.llm import LLMComposer  # chat models load only when configured

            self._llm = LLMComposer(settings)
        self._runner: asyncio.Runner | None = None
        self._runner_lock = threading.Lock()

    @property
    def mode(self) -> str:
        return "llm" if self._llm else "extractive"

    # --- the document, for front ends ----------------------------------------------------

    def stack(self) -> Stack:
        """The retrieval stack, opened on first use (and again after a failure)."""
        return self.holder.get()

    def load(self) -> None:
        """Open the indexes now rather than on the first question."""
        self.stack()

    def ping(self) -> int:
        """Raise ``RetrievalError`` unless the vector store answers; the paragraph count."""
        stack = self.stack()
        stack.store.ping()
        return stack.corpus.primary.count

    @property
    def document(self) -> Document:
        """The statement the bot answers from (all its language versions)."""
        return self.stack().corpus.primary

    def paragraph(self, n: int, lang: str) -> str:
        """Paragraph ``n`` in ``lang`` (the original where that version is missing)."""
        return self.document.text(n, lang)

    def paragraph_view(self, n: int, lang: str) -> str:
        """Paragraph ``n`` as the bot shows it: heading, citation, text, translation note."""
        document = self.document
        text = f"{message(lang, 'paragraph_head', n=n)} [¶{n}]\n{document.text(n, lang)}"
        if not document.official.get(lang, True):
            text += "\n" + message(lang, "translation_note")
        return text

    def find_paragraphs(self, text: str) -> list[int]:
        """Paragraphs matching ``text`` (lexical index only: fast enough to run as someone
        types), best first; none when the statement does not cover it."""
        result, _ = self._search(self.stack(), text, 10, dense=False)
        return result.paragraphs if (result.covered or result.request) else []

    def search(self, text: str, k: int = 10) -> tuple[SearchResult, bool]:
        """The ranked paragraphs for ``text`` and whether the vector store had failed."""
        return self._search(self.stack(), text, k)

    def reindex(self) -> IngestReport:
        """Ingest the corpus again and reload the indexes (blocking: run it in a thread)."""
        report = run_ingest(self.settings)
        self.holder.reset()
        self.stack()
        return report

    def question(
        self,
        text: str,
        history: Sequence[Turn] = (),
        lang: str | None = None,
        hint: str | None = None,
        user_key: str | None = None,
    ) -> Question:
        """A ``Question`` with the history trimmed to the configured budget; ``lang`` is the
        chat's chosen reply language, ``hint`` the user's app language, ``user_key`` who asks
        (model failures pause only them)."""
        return Question.build(text, self._history(history), lang, hint, user_key)

    # --- answering ------------------------------------------------------------------------

    def answer(
        self, question: Question | str, history: Sequence[Turn] = (), lang: str | None = None
    ) -> Answer:
        """The answer, blocking (the terminal, scripts); not to be called on an event loop."""
        q = self._as_question(question, history, lang)
        if self._llm is None or not q.text:
            return self._answer_extractively(q)
        # One loop for every call: the model's HTTP client keeps its connections on it.
        with self._runner_lock:
            if self._runner is None:
                self._runner = asyncio.Runner()
            return self._runner.run(self.aanswer(q))

    async def aanswer(
        self,
        question: Question | str,
        history: Sequence[Turn] = (),
        lang: str | None = None,
        on_draft: Draft | None = None,
    ) -> Answer:
        """The answer; ``on_draft`` sees the text while a model writes it."""
        final: Answer | None = None
        async for item in self.astream(question, history, lang):
            if isinstance(item, Answer):
                final = item
            elif on_draft is not None:
                await on_draft(item)
        assert final is not None
        return final

    async def astream(
        self, question: Question | str, history: Sequence[Turn] = (), lang: str | None = None
    ) -> AsyncIterator[str | Answer]:
        """Draft text while a model writes (LLM mode only), then the final ``Answer``."""
        q = self._as_question(question, history, lang)
        llm = self._llm
        if llm is None or not q.text or not llm.available_for(q.user_key):
            yield await asyncio.to_thread(self._answer_extractively, q)
            return
        started = time.perf_counter()
        try:
            standalone = await llm.condense(q.text, q.history, q.lang)
        except Exception as exc:  # any model failure: the extractive follow-up rule
            log.warning(
                "condense step failed (%s); using the extractive follow-up rule",
                type(exc).__name__,
            )
            standalone = self._resolve(q)
        try:
            plan = await asyncio.to_thread(self._plan, q, standalone)
        except RetrievalError as exc:
            yield self._unavailable(q, exc)
            return
        ctx = self._context(q, plan)
        if plan.result.request is not None or not plan.result.covered:
            # Paragraph requests are shown verbatim; out-of-scope questions never reach the model.
            yield self._stamp(self.extractive.compose(ctx), plan, started)
            return
        from bot.answering.llm import LLMUnavailable, LLMUnverified

        answer: Answer | None = None
        try:
            async for item in llm.astream(ctx):
                if isinstance(item, Answer):
                    answer = item
                else:
                    yield item
        except LLMUnavailable:
            answer = self.extractive.compose(ctx)
        except LLMUnverified:
            answer = self.extractive.compose(ctx)
            answer.note = message(q.reply_lang, "llm_unverified")
            answer.text += "\n" + answer.note
        assert answer is not None
        yield self._stamp(answer, plan, started)

    async def aclose(self) -> None:
        """Release network clients (the LLM's); the engine is not used afterwards."""
        if self._llm is not None:
            await self._llm.aclose()

    def close(self) -> None:
        """``aclose`` for callers of ``answer``: on the loop their answers ran on."""
        with self._runner_lock:
            if self._runner is None:
                return
            if self._llm is not None:
                self._runner.run(self._llm.aclose())
            self._runner.close()
            self._runner = None

    # --- the steps ---------------------------------------------------------------------

    def _as_question(
        self, question: Question | str, history: Sequence[Turn], lang: str | None
    ) -> Question:
        if isinstance(question, Question):
            return question
        return self.question(question, history, lang)

    def _history(self, history: Sequence[Turn]) -> list[Turn]:
        return trim_history(history, self.settings.history_turns, self.settings.history_tokens)

    def _resolve(self, q: Question) -> str:
        """Extractive follow-ups: a pronoun-led question borrows the previous question's topic;
        "what about X?" asks about X alone (the earlier topic would outrank it)."""
        question, history = q.text, q.history
        if not history or find_references(question) or not refers_back(question, q.lang):
            return question
        topic = shifted_topic(question, q.lang)
        if topic:
            return topic
        return f"{question} {strip_references(history[-1].question)}".strip()

    def _search(
        self, stack: Stack, text: str, k: int, dense: bool = True
    ) -> tuple[SearchResult, bool]:
        """Search, falling back to lexical ranking alone when the vector store fails."""
        started = time.perf_counter()
        try:
            result, degraded = stack.retriever.search(text, k, dense), False
        except StoreUnavailableError as exc:
            log.warning("vector store unavailable, answering from the lexical index: %s", exc)
            self.holder.invalidate_store()
            result, degraded = stack.retriever.search(text, k, dense=False), True
        RETRIEVAL_LATENCY.observe(time.perf_counter() - started)
        return result, degraded

    def _plan(self, q: Question, standalone: str | None = None) -> Plan:
        stack = self.stack()
        standalone = self._resolve(q) if standalone is None else standalone
        result, degraded = self._search(stack, standalone, 10)
        return Plan(standalone, result, degraded, stack)

    def _context(self, q: Question, plan: Plan) -> Context:
        retriever = plan.stack.retriever
        return Context(
            q, plan.standalone, plan.result, retriever.corpus.primary, retriever.gate.weight
        )

    def _answer_extractively(self, q: Question) -> Answer:
        started = time.perf_counter()
        if not q.text:
            return Answer(
                message(q.reply_lang, "empty"), [], q.reply_lang, "abstain", abstained=True
            )
        try:
            plan = self._plan(q)
        except RetrievalError as exc:
            return self._unavailable(q, exc)
        return self._stamp(self.extractive.compose(self._context(q, plan)), plan, started)

    def _unavailable(self, q: Question, exc: RetrievalError) -> Answer:
        log.error("cannot answer: %s", exc)
        text = message(q.reply_lang, "unavailable")
        return Answer(text, [], q.reply_lang, "unavailable", abstained=True)

    @staticmethod
    def _stamp(answer: Answer, plan: Plan, started: float) -> Answer:
        answer.degraded = plan.degraded
        answer.latency_ms = (time.perf_counter() - started) * 1000
        return answer
