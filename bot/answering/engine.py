"""The one answering path, for Telegram, the terminal, `ask` and `eval`: resolve a
follow-up, route, retrieve, compose, verify, fall back, stamp timings."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from bot.answering.answer import Answer, Turn
from bot.answering.compose import Context
from bot.answering.conversation import trim_history
from bot.answering.extractive import ExtractiveComposer, paragraph_answer
from bot.answering.followup import Resolved, cue, resolve
from bot.answering.kinds import FACTOID, Kind, classify
from bot.answering.messages import REPLY_LANGUAGES, message
from bot.answering.question import Question
from bot.answering.stack import Stack, StackHolder, run_ingest
from bot.answering.structural import (
    list_answer,
    metadata_answer,
    outline_answer,
    smalltalk_answer,
    which_paragraph_answer,
)
from bot.ops.metrics import RETRIEVAL_LATENCY, VECTOR_FALLBACKS
from bot.ops.settings import Settings
from retrieval.analyze import terms
from retrieval.corpus import Document
from retrieval.errors import RetrievalError, StoreTimeoutError, StoreUnavailableError
from retrieval.language import to_traditional
from retrieval.refs import ParagraphRequest, strip_references
from retrieval.search import SearchResult
from retrieval.store import IngestReport

if TYPE_CHECKING:
    from bot.answering.llm import LLMComposer

log = logging.getLogger(__name__)

Draft = Callable[[str], Awaitable[None]]


# Kinds answered from a search of the statement (the others from its structure).
SEARCHED = frozenset({"factoid", "stance"})
# A paragraph the conversation is about is preferred when it ranks this high.
FOCUS_RANKS = 5
# … and scores at least this share of the best paragraph's score.
FOCUS_SHARE = 0.5


@dataclass(frozen=True)
class Plan:
    """What the engine decided before composing: the kind of question, how it reads in its
    conversation, and the search for it (none for answers from the document's structure)."""

    question: Question
    kind: Kind
    resolved: Resolved
    result: SearchResult
    degraded: bool
    stack: Stack

    @property
    def searched(self) -> bool:
        return self.kind.name in SEARCHED and self.resolved.intent in ("new", "lean", "shift")


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
        """Open the indexes and read the lexicons now rather than on the first question."""
        stack = self.stack()
        for text, lang in (("warm-up 预热", "zh"), ("What is it about?", "en")):
            q = Question.build(text, (Turn(text, "", (1,), lang),))
            resolve(q, stack.retriever.covers)
            classify(text, lang)
            self._search(stack, text, 10)

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
        self.holder.reload()  # the old indexes answer until the new ones are loaded
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
        if (
            llm is None
            or not q.text
            or not llm.available_for(q.user_key)
            or q.lang not in REPLY_LANGUAGES
        ):
            yield await asyncio.to_thread(self._answer_extractively, q)
            return
        started = time.perf_counter()
        standalone: str | None = None
        try:
            standalone = await llm.condense(q.text, q.history, q.lang)
        except Exception as exc:  # any model failure: the extractive follow-up rule
            log.warning(
                "condense step failed (%s); using the extractive follow-up rule",
                type(exc).__name__,
            )
        try:
            plan = await asyncio.to_thread(self._plan, q, standalone)
        except RetrievalError as exc:
            yield self._unavailable(q, exc)
            return
        ctx = self._context(q, plan)
        modelled = plan.kind.name in ("overview", "list") or plan.searched
        if (
            not modelled
            or plan.result.request is not None
            or (plan.searched and not plan.result.covered)
        ):
            # Paragraph requests are shown verbatim, facts about the document come from the
            # manifest, and out-of-scope questions never reach the model.
            yield self._stamp(self._compose_extractively(q, plan), plan, started)
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
            answer = self._compose_extractively(q, plan)
        except LLMUnverified:
            answer = self._compose_extractively(q, plan)
            answer.note = message(q.reply_lang, "llm_unverified")
            answer.text += "\n" + answer.note
        assert answer is not None
        answer.kind = answer.kind or plan.kind.name
        if plan.searched:
            answer.topic = strip_references(plan.resolved.standalone)
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

    def _search(
        self, stack: Stack, text: str, k: int, dense: bool = True, lang: str | None = None
    ) -> tuple[SearchResult, bool]:
        """Search (in the version of ``lang``, detected when None), falling back to lexical
        ranking alone when the vector store fails."""
        started = time.perf_counter()
        try:
            result, degraded = stack.retriever.search(text, k, dense, lang), False
        except StoreUnavailableError as exc:
            log.warning("vector store unavailable, answering from the lexical index: %s", exc)
            VECTOR_FALLBACKS.labels(
                reason="timeout" if isinstance(exc, StoreTimeoutError) else "unavailable"
            ).inc()
            self.holder.invalidate_store()
            result, degraded = stack.retriever.search(text, k, False, lang), True
        RETRIEVAL_LATENCY.observe(time.perf_counter() - started)
        return result, degraded

    def _plan(self, q: Question, standalone: str | None = None) -> Plan:
        """Classify, read the question in its conversation, and search when it needs one;
        ``standalone`` is a follow-up already made standalone (by a model)."""
        stack = self.stack()
        # Punctuation or emoji alone is no question of any kind (and no small talk either).
        kind = classify(q.text, q.lang) if any(ch.isalnum() for ch in q.text) else FACTOID
        resolved = Resolved("new", q.text)
        if kind.name in SEARCHED:
            resolved = resolve(q, lambda text: stack.retriever.covers(text, q.lang))
            if standalone and resolved.intent in ("lean", "shift"):
                resolved = Resolved(resolved.intent, standalone, resolved.focus)
        result, degraded = SearchResult(resolved.standalone, []), False
        if kind.name in SEARCHED and resolved.intent in ("new", "lean", "shift"):
            result, degraded = self._search(stack, resolved.standalone, 10, lang=q.lang)
            result = _prefer(result, resolved.focus)
            if resolved.focus and not result.covered and not terms(q.text, q.lang):
                # "Why?" after a paragraph: nothing to search for but that paragraph.
                result = stack.retriever.about(resolved.standalone, resolved.focus, q.lang)
        return Plan(q, kind, resolved, result, degraded, stack)

    def _context(self, q: Question, plan: Plan) -> Context:
        retriever = plan.stack.retriever
        return Context(
            q,
            plan.resolved.standalone,
            plan.result,
            retriever.corpus.primary,
            retriever.gate_for(plan.result.lang or q.lang).weight,
            plan.kind.name,
            self._material(q, plan),
            _answer_terms(q, plan),
        )

    def _material(self, q: Question, plan: Plan) -> tuple[tuple[int, str], ...]:
        """What a model answers an overview or a list from (each item stands in its
        paragraph)."""
        document, lang = plan.stack.corpus.primary, q.reply_lang
        if plan.kind.name == "list":
            return tuple(
                (e.paragraph, e.text) for e in plan.stack.entities.items(plan.kind.detail, lang)
            )
        if plan.kind.name == "overview":
            return tuple((n, document.text(n, lang)) for n in document.numbers)
        return ()

    def _structural(self, q: Question, plan: Plan) -> Answer | None:
        """The answer from the document's structure, for kinds and follow-ups that need no
        search; None for the others."""
        document, lang, kind = plan.stack.corpus.primary, q.reply_lang, plan.kind
        resolved = plan.resolved
        if kind.name == "smalltalk":
            return smalltalk_answer(kind.detail, lang)
        if kind.name == "overview":
            return outline_answer(document, lang)
        if kind.name == "metadata":
            return metadata_answer(kind.detail.split(","), document, lang)
        if kind.name == "list":
            return list_answer(kind.detail, plan.stack.entities, document, lang)
        if resolved.intent == "which_paragraph":
            return which_paragraph_answer(resolved.focus, document, lang)
        if resolved.intent == "more":
            request = ParagraphRequest(tuple(resolved.focus), ())
            return paragraph_answer(request, document, lang, list(resolved.focus))
        if resolved.intent == "language" and resolved.lang in REPLY_LANGUAGES:
            # The last question again, in the language asked for.
            last = q.history[-1]
            again = Question(last.question, last.question, last.lang, resolved.lang, q.history[:-1])
            return self._answer_extractively(again)
        return None

    def _compose_extractively(self, q: Question, plan: Plan) -> Answer:
        structural = self._structural(q, plan)
        answer = structural or self.extractive.compose(self._context(q, plan))
        if structural is not None and not answer.retrieved:
            # No search ranked anything: the paragraphs the answer rests on, in its order.
            answer.retrieved = answer.cited or list(answer.shown)
        answer.kind = answer.kind or plan.kind.name
        if plan.searched:
            answer.topic = strip_references(plan.resolved.standalone)
        return answer

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
        answer = self._compose_extractively(q, plan)
        if q.lang not in REPLY_LANGUAGES and answer.abstained and not answer.citations:
            # German, Japanese …: rather than "the statement does not address this", say
            # which languages are served (in English). Read as English first: a short
            # English question can pass for another language ("what's in para twelve").
            answer = Answer(
                message("en", "unserved_language"), [], "en", "abstain", kind="unserved"
            )
        return self._stamp(answer, plan, started)

    def _unavailable(self, q: Question, exc: RetrievalError) -> Answer:
        log.error("cannot answer: %s", exc)
        text = message(q.reply_lang, "unavailable")
        return Answer(text, [], q.reply_lang, "unavailable", abstained=True)

    @staticmethod
    def _stamp(answer: Answer, plan: Plan, started: float) -> Answer:
        answer.degraded = plan.degraded
        if plan.question.traditional and answer.lang == "zh":
            # Asked in traditional characters: answered in them, saying it was converted
            # (the citations keep the statement's own characters).
            note = message("zh", "converted_note")
            answer.text = to_traditional(f"{answer.text}\n{note}")
        answer.latency_ms = (time.perf_counter() - started) * 1000
        return answer


def _prefer(result: SearchResult, focus: Sequence[int]) -> SearchResult:
    """The result with the best-ranked paragraph the conversation is about moved first, when
    it ranks near the top (a follow-up about the same thing)."""
    if not focus or result.request is not None:
        return result
    for i, hit in enumerate(result.hits[:FOCUS_RANKS]):
        if hit.paragraph in focus:
            if i == 0 or hit.score < FOCUS_SHARE * result.hits[0].score:
                return result
            hits = [hit, *result.hits[:i], *result.hits[i + 1 :]]
            return replace(result, hits=hits)
    return result


def _answer_terms(q: Question, plan: Plan) -> tuple[str, ...]:
    """Words the answering sentence of a "when / where / how many" question holds: the
    dates, places or numbers the statement mentions."""
    if not plan.searched:
        return ()
    for asks, kinds in (
        ("date", ("date",)),
        ("place", ("place",)),
        ("number", ("number", "date")),
        ("resolution", ("resolution",)),
    ):
        if cue(q.text, "asks", asks):
            lang = q.reply_lang if q.lang not in plan.stack.corpus.primary.versions else q.lang
            return tuple(e.text for kind in kinds for e in plan.stack.entities.items(kind, lang))
    return ()
