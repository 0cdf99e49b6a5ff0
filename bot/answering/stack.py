"""Builds the retrieval stack from settings, once per process."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.ops.settings import Settings
from retrieval.corpus import Corpus, load_corpus
from retrieval.embeddings import EmbeddingChoice, make_embeddings
from retrieval.entities import EntityIndex
from retrieval.errors import IndexNotReadyError, StoreUnavailableError
from retrieval.ingest import corpus_chunks, ingest
from retrieval.search import Retriever
from retrieval.store import IngestReport, VectorStore, forget_clients, open_client

log = logging.getLogger(__name__)


@dataclass
class Stack:
    corpus: Corpus
    choice: EmbeddingChoice
    store: VectorStore
    retriever: Retriever
    # What the primary document mentions (resolutions, dates, bodies …), per language.
    entities: EntityIndex


def open_store(settings: Settings, corpus: Corpus, choice: EmbeddingChoice) -> VectorStore:
    client = open_client(settings.data_dir, settings.chroma_host, settings.chroma_port)
    return VectorStore(client, corpus.corpus_id, choice, settings.collection)


def run_ingest(
    settings: Settings,
    rebuild: bool = False,
    progress: Callable[[str, int], None] | None = None,
    corpus: Corpus | None = None,
    release_analyzers: bool = False,
) -> IngestReport:
    """The ingest as `g21bot ingest` and the admin command run it; an embedded store parks
    its vectors under the data dir (which it writes anyway), a server's in the temp dir."""
    corpus = corpus or load_corpus(settings.manifest or None)
    choice = make_embeddings(settings.embeddings)
    spill_dir = None if settings.chroma_host else settings.data_dir

    def run(store: VectorStore, drop: bool) -> IngestReport:
        return ingest(
            corpus, store, settings.chunk_tokens, drop, progress, spill_dir, release_analyzers
        )

    try:
        return run(open_store(settings, corpus, choice), rebuild)
    except StoreUnavailableError:
        if not rebuild or settings.chroma_host:
            raise
    # A damaged embedded store: keep it aside for inspection and build a new one.
    damaged = set_aside(settings.data_dir / "chroma")
    log.warning("embedded Chroma could not be used; moved it to %s and rebuilding", damaged)
    forget_clients()
    return run(open_store(settings, corpus, choice), False)


def set_aside(path: Path) -> Path:
    target = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    path.rename(target)
    return target


class StackHolder:
    """Opens the stack lazily and again after a failure, so a store that comes back is used
    without a restart; ``auto_ingest`` fills an empty embedded store on first use."""

    def __init__(self, settings: Settings, auto_ingest: bool = True) -> None:
        self.settings = settings
        self.auto_ingest = auto_ingest
        self._stack: Stack | None = None
        self._lock = threading.Lock()

    def get(self) -> Stack:
        with self._lock:
            if self._stack is None:
                self._stack = self._open()
            return self._stack

    def reset(self) -> None:
        with self._lock:
            self._stack = None

    def invalidate_store(self) -> None:
        """Forget the store handle so the next query reconnects (a restarted server)."""
        with self._lock:
            if self._stack is not None:
                self._stack.store.reconnect()

    def _open(self) -> Stack:
        settings = self.settings
        # The bot answers from the primary document: the others are not parsed into memory.
        corpus = load_corpus(settings.manifest or None, primary_only=True)
        choice = make_embeddings(settings.embeddings)
        store = open_store(settings, corpus, choice)
        if not store.exists() or store.count() == 0:
            if not self.auto_ingest:
                raise IndexNotReadyError(
                    f"collection '{store.name}' is empty: run `g21bot ingest` first"
                )
            log.info("index %s is empty; ingesting the corpus", store.name)
            ingest(load_corpus(settings.manifest or None), store, settings.chunk_tokens)
        chunks = store.all_chunks(corpus.primary.doc_id)
        if not chunks:
            chunks = corpus_chunks(corpus, settings.chunk_tokens)
        retriever = Retriever(corpus, store, choice, chunks, settings.min_coverage)
        return Stack(corpus, choice, store, retriever, EntityIndex(corpus.primary))
