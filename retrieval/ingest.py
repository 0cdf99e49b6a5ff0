"""Corpus → chunks → vector store, idempotently."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from retrieval.chunk import Chunk, check_budget, chunk_statement
from retrieval.corpus import Corpus
from retrieval.store import IngestReport, VectorStore


def corpus_chunks(corpus: Corpus, max_tokens: int) -> list[Chunk]:
    return list(iter_chunks(corpus, max_tokens))


def iter_chunks(corpus: Corpus, max_tokens: int) -> Iterator[Chunk]:
    """Every chunk of the corpus, one statement at a time; a bad budget raises here, at the
    call, not on the first chunk taken."""
    check_budget(max_tokens)
    return (c for s in corpus.statements() for c in chunk_statement(s, max_tokens))


def ingest(
    corpus: Corpus,
    store: VectorStore,
    max_tokens: int,
    rebuild: bool = False,
    progress: Callable[[int], None] | None = None,
) -> IngestReport:
    """Bring the store in line with the corpus, which ``load_corpus`` has parsed and checked
    whole (a malformed file stops everything before any write); chunked as it is written."""
    chunks = iter_chunks(corpus, max_tokens)  # before the drop: a bad budget drops nothing
    if rebuild:
        store.drop()
    return store.sync(chunks, progress)
