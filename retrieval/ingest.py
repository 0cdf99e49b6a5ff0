"""Corpus → chunks → vector store, idempotently."""

from __future__ import annotations

import ctypes
import gc
import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

from retrieval import analyze, tokens
from retrieval.chunk import Chunk, check_budget, chunk_statement
from retrieval.corpus import Corpus, corpus_digest
from retrieval.store import IngestReport, VectorStore


def corpus_chunks(corpus: Corpus, max_tokens: int) -> list[Chunk]:
    return list(iter_chunks(corpus, max_tokens))


def iter_chunks(corpus: Corpus, max_tokens: int) -> Iterator[Chunk]:
    """Every chunk of the corpus, one statement at a time; a bad budget raises here, at the
    call, not on the first chunk taken."""
    check_budget(max_tokens)
    return (c for s in corpus.statements() for c in chunk_statement(s, max_tokens))


def ingest_digest(corpus: Corpus, max_tokens: int, embedding_id: str) -> str:
    """What a complete ingest of ``corpus`` records: its files, the chunk budget and the
    embeddings (any change makes the index stale)."""
    parts = [corpus_digest(corpus.manifest_path), str(max_tokens), embedding_id]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def ingest(
    corpus: Corpus,
    store: VectorStore,
    max_tokens: int,
    rebuild: bool = False,
    progress: Callable[[str, int], None] | None = None,
    spill_dir: str | Path | None = None,
    release_analyzers: bool = False,
) -> IngestReport:
    """Bring the store in line with the corpus, which ``load_corpus`` has parsed and checked
    whole (a malformed file stops everything before any write); chunked as it is written.

    ``release_analyzers`` is for a process that only ingests: jieba and tiktoken are let go
    once everything is embedded, before Chroma's index grows (a 100k-paragraph ingest peaked
    at 365 MB instead of 457); a process that answers next would only load them again.

    The completion marker (the ingest's digest) is cleared first and written last, so an
    ingest killed half-way leaves an index every reader sees as incomplete."""
    chunks = iter_chunks(corpus, max_tokens)  # before the drop: a bad budget drops nothing
    digest = ingest_digest(corpus, max_tokens, store.choice.embedding_id)
    if rebuild:
        store.drop()
    store.set_ingest_marker("")
    report = store.sync(chunks, progress, spill_dir, release if release_analyzers else None)
    store.set_ingest_marker(digest)
    return report


def release() -> None:
    """Let the text analyzers' memory go; they load again on next use."""
    analyze.release()
    tokens.release()
    gc.collect()
    _trim_heap()


def _trim_heap() -> None:
    """Hand freed heap pages back to the OS now. glibc keeps them for reuse by the thread
    that freed them, but Chroma's writer threads allocate from arenas of their own."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return  # not glibc (musl, macOS): nothing to ask
    trim(0)
