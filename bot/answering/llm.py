"""LLM answers through LangChain: structured output, every citation verified, every sentence
grounded in the paragraph it cites (drafts too), and the extractive answer whenever the model
fails, is slow, or says nothing the statement supports."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from functools import cache
from typing import Any

from pydantic import BaseModel, Field, ValidationError

import prompts
from bot.answering.answer import Answer, Citation, Turn
from bot.answering.backoff import Backoff
from bot.answering.compose import Context
from bot.answering.conversation import history_text
from bot.answering.extractive import not_covered_answer
from bot.answering.grounding import (
    DraftStream,
    Grounded,
    Verdict,
    check_sentence,
    ground,
    split_answer,
    substantial_quote,
)
from bot.answering.markers import cited
from bot.answering.verify import find_quote
from bot.ops.metrics import LLM_ERRORS, LLM_SENTENCES
from bot.ops.settings import Settings
from retrieval.analyze import terms
from retrieval.corpus import Document
from retrieval.text import clean_user_text, split_sentences
from retrieval.tokens import count_tokens

log = logging.getLogger(__name__)

CONTEXT_PARAGRAPHS = 4
# Room left in the window for the model's reply.
REPLY_TOKENS = 600
# The reply language as the English prompt names it (the Chinese prompt says 中文 itself).
LANGUAGE_NAMES = {
    "en": "English",
    "zh": "中文",
    "fr": "French",
    "es": "Spanish",
    "ru": "Russian",
    "ar": "Arabic",
}


class LLMCitation(BaseModel):
    paragraph: int = Field(description="Number of the paragraph that says it.")
    quote: str = Field(description="At least five words copied exactly from that paragraph.")


class LLMAnswer(BaseModel):
    """A grounded answer: the quotes first, then the text that rests on them."""

    # Citations come first: a model fills the schema in order, so each sentence of the
    # answer can be checked against its quotes as soon as it is written.
    citations: list[LLMCitation] = Field(default_factory=list)
    answer: str = Field(description="The answer; every sentence ends with [¶N].")
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


class LLMUnverified(Exception):
    """The model answered, but none of its sentences stands in the statement."""


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


def guarded(text: str) -> str:
    """User text as it enters a prompt: it cannot close or open the tags that fence it."""
    return text.replace("<", "‹").replace(">", "›")


class Quotes:
    """The citations a model has given so far, checked once each: which citable paragraphs
    have a verified quote (the one citation rule, and long enough to prove something)."""

    def __init__(self, document: Document, citable: Sequence[int]) -> None:
        self.document = document
        self.citable = set(citable) & set(document.numbers)
        self._checked: dict[tuple[int, str], str | None] = {}

    def check(self, paragraph: int, quote: str) -> str | None:
        """The paragraph's own words for ``quote``, or None."""
        key = (paragraph, quote)
        if key not in self._checked:
            found = None
            if paragraph in self.citable and substantial_quote(quote):
                found = find_quote(self.document, paragraph, quote)
            self._checked[key] = found
        return self._checked[key]

    def backed(self, citations: Sequence[Any]) -> dict[int, list[str]]:
        """Paragraph → its verified quotes, from raw (possibly partial) citations."""
        out: dict[int, list[str]] = {}
        for raw in citations:
            paragraph = raw.get("paragraph") if isinstance(raw, dict) else None
            quote = raw.get("quote") if isinstance(raw, dict) else None
            if not isinstance(paragraph, int) or not isinstance(quote, str):
                continue
            found = self.check(paragraph, quote)
            if found and found not in out.setdefault(paragraph, []):
                out[paragraph].append(found)
        return {n: quotes for n, quotes in out.items() if quotes}


class LLMComposer:
    """Answers written by a chat model from the top paragraphs; a sentence reaches the user
    only when it is grounded in a paragraph it cites with a verified quote. Raises
    ``LLMUnavailable`` / ``LLMUnverified``: the engine then answers extractively."""

    name = "llm"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.model = chat_model(settings)
        self.backoff = Backoff(settings.llm_cooldown, settings.llm_outage_users)

    def available_for(self, user_key: str | None) -> bool:
        """False for a while after this user's failure (or while the model is down for all),
        so a broken model is not waited for again."""
        return self.backoff.available(user_key)

    async def aclose(self) -> None:
        """Close the model's HTTP connections (at shutdown, on the loop that used them)."""
        client = getattr(self.model, "root_async_client", None)
        close = getattr(client, "close", None)
        if close is not None:
            await close()

    # --- prompt building -------------------------------------------------------------

    def _fit(self, ctx: Context, paragraphs: list[int]) -> tuple[list[Any], list[int]]:
        """Messages that fit the window: lowest-ranked paragraphs go first, then old turns."""
        lang, document = ctx.question.reply_lang, ctx.document
        system = prompts.render(
            "system", lang, paragraph_count=document.count, language=_language_name(lang)
        )
        material = ""
        if ctx.material:
            points = "\n".join(f"[¶{n}] {text}" for n, text in ctx.material)
            material = prompts.render("material", lang, points=points)
        turns = list(ctx.question.history)
        shown = list(paragraphs)
        while True:
            context = "\n\n".join(f"[¶{n}] {document.text(n, lang)}" for n in shown)
            user = prompts.render(
                "answer",
                lang,
                context=context,
                material=material,
                history=guarded(history_text(turns)),
                question=guarded(ctx.question.text),
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
        """The follow-up rewritten as a standalone question by the model (for the search
        only: nothing of it reaches the user)."""
        if not history:
            return question
        prompt = prompts.render(
            "condense", lang, history=guarded(history_text(history)), question=guarded(question)
        )
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

    def _failed(self, exc: BaseException, user_key: str | None) -> LLMUnavailable:
        log.warning("LLM answer failed (%s: %s); answering extractively", type(exc).__name__, exc)
        LLM_ERRORS.inc()
        self.backoff.failed(user_key)
        return LLMUnavailable(type(exc).__name__)

    async def astream(self, ctx: Context) -> AsyncIterator[str | Answer]:
        result, document, lang = ctx.result, ctx.document, ctx.question.reply_lang
        user_key = ctx.question.user_key
        messages, shown = self._fit(ctx, result.paragraphs[:CONTEXT_PARAGRAPHS])
        # The paragraphs the model saw, and those of the points it was given, may be cited.
        quotes = Quotes(document, [*shown, *(n for n, _ in ctx.material)])
        drafts = DraftStream(lang)
        final: dict[str, Any] = {}
        shown_draft = ""
        try:
            async with asyncio.timeout(self.settings.llm_timeout):
                async for partial in self._structured(messages):
                    final = partial
                    if partial.get("markers_only"):
                        continue
                    # Each sentence is shown once it is complete and grounded in a quote
                    # given so far; nothing unverified is ever on screen.
                    citations: list[Any] = partial.get("citations") or []
                    check = _checker(partial_backing(quotes, citations), document, lang)
                    draft = drafts.feed(str(partial.get("answer") or ""), check)
                    if draft:
                        shown_draft = draft
                        yield draft
            parsed = self._parse(final, shown, lang, document)
        except (Exception, TimeoutError) as exc:
            raise self._failed(exc, user_key) from exc
        self.backoff.succeeded(user_key)

        if parsed.not_covered and not parsed.citations:
            yield not_covered_answer(document, lang, result.paragraphs)
            return
        backed = quotes.backed([c.model_dump() for c in parsed.citations])
        grounded = ground(parsed.answer, _checker(lambda: backed, document, lang), lang)
        _record(grounded, lang)
        if not grounded.kept:
            raise LLMUnverified
        if grounded.text != shown_draft:
            yield grounded.text  # the last sentence completes with the answer
        citations = [Citation(n, q) for n in grounded.paragraphs for q in backed[n]]
        yield Answer(grounded.text, citations, lang, "llm", retrieved=result.paragraphs)

    def _parse(
        self, raw: dict[str, Any], shown: list[int], lang: str, document: Document
    ) -> LLMAnswer:
        if raw.pop("markers_only", False):
            return self._from_markers(str(raw.get("answer", "")), shown, lang, document)
        try:
            return LLMAnswer.model_validate(raw)
        except ValidationError as exc:
            raise LLMUnavailable(
                f"malformed structured output: {exc.error_count()} errors"
            ) from exc

    def _from_markers(
        self, text: str, shown: list[int], lang: str, document: Document
    ) -> LLMAnswer:
        """Citations from markers: each backed by the paragraph sentence that shares the
        most words with the sentence carrying the marker."""
        citations = []
        for line in split_answer(text, lang):
            for sentence in line.sentences:
                claim = set(terms(sentence))
                for n in cited(sentence):
                    if n not in shown:
                        continue
                    options = split_sentences(document.text(n, lang), lang)
                    best = max(options, key=lambda s: len(claim & set(terms(s))), default="")
                    if best and claim & set(terms(best)):
                        citations.append(LLMCitation(paragraph=n, quote=best))
        return LLMAnswer(answer=text, citations=citations, not_covered=not citations)


def partial_backing(
    quotes: Quotes, citations: Sequence[Any]
) -> Callable[[], Mapping[int, Sequence[str]]]:
    """The verified quotes of the citations streamed so far, read when first needed."""
    return lambda: quotes.backed(citations)


def _language_name(lang: str) -> str:
    return LANGUAGE_NAMES.get(lang, "English")


def _checker(
    backed: Callable[[], Mapping[int, Sequence[str]]], document: Document, lang: str
) -> Callable[[str], Verdict]:
    """The grounding check of one sentence; the citations are read only when a sentence is
    complete (most stream chunks complete none)."""
    read = cache(backed)

    def check(sentence: str) -> Verdict:
        return check_sentence(sentence, read(), document, lang)

    return check


def _record(grounded: Grounded, lang: str) -> None:
    """Count kept and dropped sentences (a metric, and a log line without any user text)."""
    LLM_SENTENCES.labels(verdict="kept").inc(grounded.kept)
    for reason, count in grounded.dropped.items():
        LLM_SENTENCES.labels(verdict=reason).inc(count)
    if grounded.dropped:
        log.info(
            "LLM answer: %d sentence(s) kept, %d dropped (%s)",
            grounded.kept,
            sum(grounded.dropped.values()),
            ", ".join(f"{r}: {n}" for r, n in sorted(grounded.dropped.items())),
            extra={"lang": lang},
        )
