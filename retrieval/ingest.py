"""Corpus → chunks → vector store, idempotently."""

from __future__ import annotations

from collections.abc import Callable

from retrieval.chunk import Chunk, chunk_statement
from retrieval.corpus import Corpus
from retrieval.store import IngestReport, VectorStore


def corpus_chunks(corpus: Corpus, max_tokens: int) -> list[Chunk]:
    return [c for s in corpus.statements() for c in chunk_statement(s, max_tokens)]


def ingest(
    corpus: Corpus,
    store: VectorStore,
    max_tokens: int,
    rebuild: bool = False,
    progress: Callable[[int], None] | None = None,
) -> IngestReport:
    """Parse everything first (all or nothing), then bring the store in line with it."""
    chunks = corpus_chunks(corpus, max_tokens)
    if rebuild:
        store.drop()
    return store.sync(chunks, progress)
