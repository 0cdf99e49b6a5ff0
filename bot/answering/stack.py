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
from retrieval.ingest import corpus_chunks, ingest, ingest_digest
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


# After a failed call to a Chroma server, answer from the lexical index alone for this long
# before asking the server again (a hung server would otherwise cost every question the
# full timeout); a successful /readyz ping ends it early.
STORE_COOLDOWN = 10.0


def open_store(settings: Settings, corpus: Corpus, choice: EmbeddingChoice) -> VectorStore:
    client = open_client(
        settings.data_dir,
        settings.chroma_host,
        settings.chroma_port,
        auth_token=settings.chroma_auth_token.get_secret_value(),
        timeout=settings.chroma_timeout,
    )
    cooldown = STORE_COOLDOWN if settings.chroma_host else 0.0
    return VectorStore(client, corpus.corpus_id, choice, settings.collection, cooldown)


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
    without a restart; ``auto_ingest`` completes an index that is empty, partial (an ingest
    died half-way) or stale (the corpus, chunk budget or embeddings changed)."""

    def __init__(self, settings: Settings, auto_ingest: bool = True) -> None:
        self.settings = settings
        self.auto_ingest = auto_ingest
        self._stack: Stack | None = None
        self._lock = threading.Lock()

    def get(self) -> Stack:
        # Once loaded, no lock: an event-loop caller never waits behind a reload.
        stack = self._stack
        if stack is not None:
            return stack
        with self._lock:
            if self._stack is None:
                self._stack = self._open()
            return self._stack

    def current(self) -> Stack | None:
        """The loaded stack, or None; never opens anything (for callers that must not wait)."""
        return self._stack

    def reload(self) -> Stack:
        """Open a fresh stack and swap it in; the old one serves until then."""
        with self._lock:
            fresh = self._open()
            self._stack = fresh
            return fresh

    def reset(self) -> None:
        with self._lock:
            self._stack = None

    def invalidate_store(self) -> None:
        """Forget the store handle so the next query reconnects (a restarted server)."""
        stack = self._stack
        if stack is not None:
            stack.store.reconnect()

    def _open(self) -> Stack:
        settings = self.settings
        # The bot answers from the primary document: the others are not parsed into memory.
        corpus = load_corpus(settings.manifest or None, primary_only=True)
        choice = make_embeddings(settings.embeddings)
        store = open_store(settings, corpus, choice)
        self._complete(store, corpus, choice)
        chunks = store.all_chunks(corpus.primary.doc_id)
        if {c.paragraph for c in chunks} != set(corpus.primary.numbers):
            # Another process is ingesting right now: rank from the corpus itself meanwhile.
            chunks = corpus_chunks(corpus, settings.chunk_tokens)
        retriever = Retriever(corpus, store, choice, chunks, settings.min_coverage)
        return Stack(corpus, choice, store, retriever, EntityIndex(corpus.primary))

    def _complete(self, store: VectorStore, corpus: Corpus, choice: EmbeddingChoice) -> None:
        """Ingest unless the store holds a completed ingest of exactly this corpus."""
        settings = self.settings
        want = ingest_digest(corpus, settings.chunk_tokens, choice.embedding_id)
        have = store.ingest_marker() if store.exists() else ""
        if have == want:
            return
        state = "stale (the corpus or settings changed)" if have else "empty or incomplete"
        if not self.auto_ingest:
            raise IndexNotReadyError(
                f"collection '{store.name}' is {state}: run `g21bot ingest` first"
            )
        log.warning("index %s is %s; ingesting the corpus", store.name, state)
        ingest(load_corpus(settings.manifest or None), store, settings.chunk_tokens)
