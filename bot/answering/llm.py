"""LLM answers through LangChain: structured output, every citation verified, and the
extractive answer whenever the model fails, is slow, or cites what it should not."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, ValidationError

import prompts
from bot.answering.answer import Answer, Citation, Turn
from bot.answering.conversation import history_text
from bot.answering.extractive import extractive_answer, not_covered_answer
from bot.answering.messages import message
from bot.answering.verify import clean_markers, markers, verify_citations
from bot.ops.metrics import LLM_ERRORS
from bot.ops.settings import Settings
from retrieval.errors import RetrievalError
from retrieval.text import clean_user_text, detect_language, split_sentences
from retrieval.tokens import count_tokens

if TYPE_CHECKING:
    from bot.answering.engine import AnswerEngine

log = logging.getLogger(__name__)

CONTEXT_PARAGRAPHS = 4
# Room left in the window for the model's reply.
REPLY_TOKENS = 600


class LLMCitation(BaseModel):
    paragraph: int = Field(description="Number of the paragraph that says it.")
    quote: str = Field(description="Words copied exactly from that paragraph.")


class LLMAnswer(BaseModel):
    """A grounded answer with its citations."""

    answer: str = Field(description="The answer, with [¶N] after each claim.")
    citations: list[LLMCitation] = Field(default_factory=list)
    not_covered: bool = Field(
        default=False, description="True when the paragraphs do not answer the question."
    )


ANSWER_SCHEMA: dict[str, Any] = {
    "title": "cited_answer",
    "description": "A grounded answer with its citations.",
    **LLMAnswer.model_json_schema(),
}


class LLMUnavailable(Exception):
    """The model failed, timed out or returned something unusable."""


def chat_model(settings: Settings) -> Any:
    """The configured LangChain chat model (provider packages load only here)."""
    from langchain.chat_models import init_chat_model

    extra: dict[str, Any] = {}
    if settings.llm_model.startswith("openai:"):
        # `.env` values are not in os.environ, where the OpenAI client would look.
        if settings.openai_base_url:
            extra["base_url"] = settings.openai_base_url
        if settings.openai_api_key.get_secret_value():
            extra["api_key"] = settings.openai_api_key
    try:
        return init_chat_model(
            settings.llm_model,
            temperature=0,
            timeout=settings.llm_timeout,
            max_retries=settings.llm_retries,
            **extra,
        )
    except ImportError as exc:
        raise ValueError(
            f"G21_LLM_MODEL={settings.llm_model!r} needs its LangChain provider package: {exc}"
        ) from exc


class LLMAnswerer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.model = chat_model(settings)
        self._paused_until = 0.0

    async def aclose(self) -> None:
        """Close the model's HTTP connections (at shutdown, on the loop that used them)."""
        client = getattr(self.model, "root_async_client", None)
        close = getattr(client, "close", None)
        if close is not None:
            await close()

    # --- prompt building -------------------------------------------------------------

    def _context(self, paragraphs: list[int], engine: AnswerEngine, lang: str) -> str:
        document = engine.stack().corpus.primary
        return "\n\n".join(f"[¶{n}] {document.text(n, lang)}" for n in paragraphs)

    def _fit(
        self,
        question: str,
        history: Sequence[Turn],
        paragraphs: list[int],
        engine: AnswerEngine,
        lang: str,
    ) -> tuple[list[Any], list[int]]:
        """Messages that fit the window: lowest-ranked paragraphs go first, then old turns."""
        count = engine.stack().corpus.primary.count
        system = prompts.render("system", lang, paragraph_count=count)
        turns = list(history)
        shown = list(paragraphs)
        while True:
            user = prompts.render(
                "answer",
                lang,
                context=self._context(shown, engine, lang),
                history=history_text(turns),
                question=question,
            )
            used = count_tokens(system) + count_tokens(user) + REPLY_TOKENS
            if used <= self.settings.llm_context_tokens or (len(shown) <= 1 and not turns):
                return [("system", system), ("human", user)], shown
            if turns:
                turns.pop(0)
            else:
                shown.pop()

    # --- calls -------------------------------------------------------------------------

    async def condense(self, question: str, history: Sequence[Turn], lang: str) -> str:
        if not history:
            return question
        prompt = prompts.render("condense", lang, history=history_text(history), question=question)
        reply = await asyncio.wait_for(self.model.ainvoke(prompt), self.settings.llm_timeout)
        text = clean_user_text(str(getattr(reply, "content", "") or ""))
        return text[: self.settings.max_question_chars] or question

    async def _structured(self, messages: list[Any]) -> AsyncIterator[dict[str, Any]]:
        try:
            runnable = self.model.with_structured_output(ANSWER_SCHEMA)
        except NotImplementedError:
            runnable = None
        if runnable is None:
            # No structured output here: ask for [¶N] markers and read them back.
            reply = await self.model.ainvoke(messages)
            text = str(getattr(reply, "content", "") or "")
            yield {"answer": text, "citations": [], "markers_only": True}
            return
        async for partial in runnable.astream(messages):
            if isinstance(partial, dict):
                yield partial

    async def astream(
        self, engine: AnswerEngine, question: str, history: Sequence[Turn], lang: str | None
    ) -> AsyncIterator[str | Answer]:
        started = time.perf_counter()
        question = clean_user_text(question)
        question_lang = detect_language(question)
        reply_lang = lang if lang in ("zh", "en") else question_lang
        if not question or time.monotonic() < self._paused_until:
            answer = engine.answer(question, history, lang)
            answer.latency_ms = (time.perf_counter() - started) * 1000
            yield answer
            return
        try:
            stack = engine.stack()
            try:
                standalone = await self.condense(question, history, question_lang)
            except Exception as exc:  # any model failure: fall back to the extractive rule
                log.warning(
                    "condense step failed (%s); using the extractive follow-up rule",
                    type(exc).__name__,
                )
                standalone = engine.resolve(question, history, question_lang)
            result, degraded = engine.search(standalone)
        except RetrievalError as exc:
            log.error("cannot answer: %s", exc)
            yield Answer(
                message(reply_lang, "unavailable"), [], reply_lang, "unavailable", abstained=True
            )
            return
        document = stack.corpus.primary
        gate = stack.retriever.gate
        if result.request is not None or not result.covered:
            # Paragraph requests are shown verbatim; out-of-scope questions never reach the model.
            answer = extractive_answer(
                standalone, result, document, reply_lang, gate, question_lang
            )
            answer.latency_ms = (time.perf_counter() - started) * 1000
            yield answer
            return

        messages, shown = self._fit(
            question, history, result.paragraphs[:CONTEXT_PARAGRAPHS], engine, reply_lang
        )
        final: dict[str, Any] = {}
        try:
            async with asyncio.timeout(self.settings.llm_timeout):
                sent = ""
                async for partial in self._structured(messages):
                    final = partial
                    text = str(partial.get("answer") or "")
                    if len(text) > len(sent):
                        sent = text
                        yield text
            parsed = self._parse(final, document.numbers, shown, reply_lang, engine)
        except (Exception, TimeoutError) as exc:
            log.warning(
                "LLM answer failed (%s: %s); answering extractively", type(exc).__name__, exc
            )
            LLM_ERRORS.inc()
            self._paused_until = time.monotonic() + self.settings.llm_cooldown
            answer = extractive_answer(
                standalone, result, document, reply_lang, gate, question_lang
            )
            answer.degraded = degraded
            answer.latency_ms = (time.perf_counter() - started) * 1000
            yield answer
            return

        if parsed.not_covered and not parsed.citations:
            answer = not_covered_answer(document, reply_lang, result.paragraphs)
        else:
            cited = [Citation(c.paragraph, c.quote) for c in parsed.citations]
            valid = verify_citations(cited, document, shown)
            if not valid:
                log.warning("no citation of the LLM answer survived verification")
                answer = extractive_answer(
                    standalone, result, document, reply_lang, gate, question_lang
                )
                answer.note = message(reply_lang, "llm_unverified")
                answer.text += "\n" + answer.note
            else:
                numbers = {c.paragraph for c in valid}
                text = clean_markers(parsed.answer, numbers)
                missing = [
                    n for n in dict.fromkeys(c.paragraph for c in valid) if n not in markers(text)
                ]
                if missing:
                    text += " " + "".join(f"[¶{n}]" for n in missing)
                answer = Answer(text, valid, reply_lang, "llm", retrieved=result.paragraphs)
        answer.degraded = degraded
        answer.latency_ms = (time.perf_counter() - started) * 1000
        yield answer

    def _parse(
        self,
        raw: dict[str, Any],
        numbers: list[int],
        shown: list[int],
        lang: str,
        engine: AnswerEngine,
    ) -> LLMAnswer:
        if raw.pop("markers_only", False):
            return self._from_markers(str(raw.get("answer", "")), shown, lang, engine)
        try:
            return LLMAnswer.model_validate(raw)
        except ValidationError as exc:
            raise LLMUnavailable(
                f"malformed structured output: {exc.error_count()} errors"
            ) from exc

    def _from_markers(
        self, text: str, shown: list[int], lang: str, engine: AnswerEngine
    ) -> LLMAnswer:
        """Citations from [¶N] markers: each backed by the paragraph sentence that shares
        the most words with the sentence carrying the marker."""
        from retrieval.analyze import terms

        document = engine.stack().corpus.primary
        citations = []
        for sentence in split_sentences(text, lang):
            claim = set(terms(sentence))
            for n in markers(sentence):
                if n not in shown:
                    continue
                options = split_sentences(document.text(n, lang), lang)
                best = max(options, key=lambda s: len(claim & set(terms(s))), default="")
                if best and claim & set(terms(best)):
                    citations.append(LLMCitation(paragraph=n, quote=best))
        return LLMAnswer(answer=text, citations=citations, not_covered=not citations)
