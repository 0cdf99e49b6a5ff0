"""Corpus → chunks → vector store, idempotently."""

from __future__ import annotations

import ctypes
import gc
from collections.abc import Callable, Iterator
from pathlib import Path

from retrieval import analyze, tokens
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
    progress: Callable[[str, int], None] | None = None,
    spill_dir: str | Path | None = None,
    release_analyzers: bool = False,
) -> IngestReport:
    """Bring the store in line with the corpus, which ``load_corpus`` has parsed and checked
    whole (a malformed file stops everything before any write); chunked as it is written.

    ``release_analyzers`` is for a process that only ingests: jieba and tiktoken are let go
    once everything is embedded, before Chroma's index grows (a 100k-paragraph ingest peaked
    at 365 MB instead of 457); a process that answers next would only load them again."""
    chunks = iter_chunks(corpus, max_tokens)  # before the drop: a bad budget drops nothing
    if rebuild:
        store.drop()
    return store.sync(chunks, progress, spill_dir, release if release_analyzers else None)


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
