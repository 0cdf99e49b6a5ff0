"""Helpers shared by the answer-engine tests: one ingested data folder per session, settings
isolated from the caller's environment, grounding checks and scripted LLM replies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.answering.answer import Answer
from bot.answering.stack import run_ingest
from bot.entry.evaluate import quote_is_valid
from bot.ops.settings import Settings
from retrieval.corpus import Document

_INGESTED: dict[str, Path] = {}


def clear_g21_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove every g21bot variable (and the OpenAI ones) from the environment."""
    for field in Settings.model_fields.values():
        if field.alias:
            monkeypatch.delenv(field.alias, raising=False)
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_API_BASE"):
        monkeypatch.delenv(name, raising=False)


def settings_for(data_dir: Path, **values: Any) -> Settings:
    """Settings from ``values`` (environment names) only: no `.env`, no outside variables."""
    with pytest.MonkeyPatch.context() as mp:
        clear_g21_env(mp)
        return Settings(_env_file=None, G21_DATA_DIR=str(data_dir), **values)  # type: ignore[call-arg]


def ingested_data_dir(factory: pytest.TempPathFactory) -> Path:
    """A data folder holding the shipped corpus, ingested once per test session (read only)."""
    if "dir" not in _INGESTED:
        data_dir = factory.mktemp("answer-data")
        run_ingest(settings_for(data_dir))
        _INGESTED["dir"] = data_dir
    return _INGESTED["dir"]


def forget_openai_clients() -> None:
    """langchain-openai keeps one httpx client per base URL for the whole process; one made
    on an earlier test's (closed) event loop must not serve a later test."""
    from langchain_openai.chat_models import _client_utils

    for name in ("_cached_async_httpx_client", "_cached_sync_httpx_client"):
        cached = getattr(_client_utils, name, None)
        if cached is not None:
            cached.cache_clear()


def assert_grounded(answer: Answer, document: Document) -> None:
    """Every citation names a real paragraph and quotes words that stand in it, in the
    language of the reply, and the reply text shows its marker."""
    for citation in answer.citations:
        assert quote_is_valid(document, citation.paragraph, citation.quote), citation
        assert citation.quote in document.text(citation.paragraph, answer.lang), citation
        assert f"[¶{citation.paragraph}]" in answer.text


def cited_reply(answer: str, *citations: tuple[int, str], not_covered: bool = False) -> dict:
    """The JSON object a model returns for the structured answer schema."""
    return {
        "answer": answer,
        "citations": [{"paragraph": n, "quote": quote} for n, quote in citations],
        "not_covered": not_covered,
    }
