"""The Chroma collection holding chunk vectors: embedded by default, a server when asked."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import chromadb
import httpx
import numpy as np

from retrieval.chunk import Chunk
from retrieval.embeddings import EmbeddingChoice
from retrieval.errors import StoreMismatchError, StoreTimeoutError, StoreUnavailableError
from retrieval.spill import Spill

log = logging.getLogger(__name__)

_BATCH = 256
_PAGE = 5000
_MISSING = object()
DEFAULT_TIMEOUT = 2.0
# Collection metadata written last by an ingest: the digest of what it indexed. An ingest
# that died half-way leaves it empty (or naming another corpus), so a reader can tell.
INGEST_MARKER = "ingest_complete"
_TOKEN_AUTH = "chromadb.auth.token_authn.TokenAuthClientProvider"


@dataclass(frozen=True)
class IngestReport:
    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0

    def summary(self) -> str:
        return (
            f"{self.added} added, {self.updated} updated, {self.deleted} deleted, "
            f"{self.unchanged} unchanged"
        )


def open_client(
    data_dir: str | Path,
    host: str = "",
    port: int = 8000,
    *,
    auth_token: str = "",
    timeout: float = DEFAULT_TIMEOUT,
) -> Any:
    """A Chroma server client when ``host`` is set (every call bounded by ``timeout``
    seconds, ``auth_token`` sent as a bearer token), else the embedded store under
    ``data_dir``."""
    try:
        if host:
            return _http_client(host, port, auth_token, timeout)
        path = Path(data_dir) / "chroma"
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path))
    except StoreUnavailableError:
        raise
    except Exception as exc:  # chromadb raises several unrelated types for "cannot reach"
        if host:
            where = f"{host}:{port}"
            raise StoreUnavailableError(f"cannot reach Chroma server at {where}: {exc}") from exc
        raise StoreUnavailableError(
            f"cannot open embedded Chroma in {data_dir}: {exc}; if it is damaged, "
            "`g21bot ingest --rebuild` sets it aside and builds it again"
        ) from exc


def _http_client(host: str, port: int, auth_token: str, timeout: float) -> Any:
    """``chromadb.HttpClient`` with timeouts. chromadb builds its httpx client with
    ``timeout=None`` and offers no setting for it (chroma-core/chroma#5805), and its
    constructor already calls the server: a probe with a timeout goes first, so a server
    that accepts connections and never answers fails here in ``timeout`` seconds, then the
    client's own session gets the same bound for every later call."""
    headers = {"Authorization": f"Bearer {auth_token}"} if auth_token else {}
    url = f"http://{host}:{port}/api/v2/heartbeat"
    try:
        httpx.get(url, headers=headers, timeout=timeout).raise_for_status()
    except httpx.TimeoutException as exc:
        raise StoreTimeoutError(
            f"Chroma server at {host}:{port} did not answer within {timeout:g} s"
        ) from exc
    except httpx.HTTPError as exc:
        raise StoreUnavailableError(
            f"cannot reach Chroma server at {host}:{port}: {type(exc).__name__}"
        ) from exc
    settings = chromadb.Settings(anonymized_telemetry=False)
    if auth_token:
        settings = chromadb.Settings(
            anonymized_telemetry=False,
            chroma_client_auth_provider=_TOKEN_AUTH,
            chroma_client_auth_credentials=auth_token,
        )
    client = chromadb.HttpClient(host=host, port=port, settings=settings)
    set_http_timeout(client, timeout)
    return client


def set_http_timeout(client: Any, timeout: float) -> None:
    """Bound every request of a chromadb HTTP client (its httpx session) by ``timeout``."""
    session = getattr(getattr(client, "_server", None), "_session", None)
    if not isinstance(session, httpx.Client):
        # A chromadb upgrade moved it: fail loudly rather than run without a timeout.
        raise StoreUnavailableError("chromadb's HTTP session not found: cannot set a timeout")
    session.timeout = httpx.Timeout(timeout)


def forget_clients() -> None:
    """Drop Chroma's per-path client cache (a failed open leaves a broken client in it)."""
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


def collection_name(corpus_id: str, embedding_id: str) -> str:
    """A valid Chroma name (3-512 chars of [a-zA-Z0-9._-], alphanumeric ends)."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{corpus_id}--{embedding_id}").strip("-._")
    return (name or "g21")[:200]


def _chunk_from(doc: str, meta: dict[str, Any]) -> Chunk:
    return Chunk(
        doc_id=str(meta["doc_id"]),
        lang=str(meta["lang"]),
        paragraph=int(meta["paragraph"]),
        index=int(meta["chunk"]),
        text=doc,
        tokens=int(meta["tokens"]),
    )


class VectorStore:
    """One collection per corpus and embedding; never lets Chroma embed anything itself."""

    def __init__(
        self,
        client: Any,
        corpus_id: str,
        choice: EmbeddingChoice,
        name: str = "",
        cooldown: float = 0.0,
    ) -> None:
        """``cooldown``: seconds after a failed call during which calls fail at once instead
        of waiting on a server that is down or hung (``ping`` still tries, and ends it)."""
        self.client = client
        self.choice = choice
        self.name = name or collection_name(corpus_id, choice.embedding_id)
        self.cooldown = cooldown
        self._collection: Any = None
        self._dimension: int | None = None
        self._retry_at = 0.0

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = len(self.choice.embeddings.embed_query("dimension probe"))
        return self._dimension

    def _guard(self, action: str, call: Callable[[], Any], probe: bool = False) -> Any:
        if not probe and time.monotonic() < self._retry_at:
            raise StoreUnavailableError(f"vector store {action} skipped: it failed moments ago")
        try:
            result = call()
        except StoreMismatchError:
            raise
        except Exception as exc:
            # Drop the handle: a restarted server hands out new collection ids.
            self._collection = None
            self._retry_at = time.monotonic() + self.cooldown
            if isinstance(exc, StoreUnavailableError):
                raise
            if isinstance(exc, httpx.TimeoutException):
                raise StoreTimeoutError(f"vector store {action} timed out") from exc
            raise StoreUnavailableError(f"vector store {action} failed: {exc}") from exc
        if probe:
            self._retry_at = 0.0
        return result

    def _open(self, create: bool) -> Any:
        if self._collection is not None:
            return self._collection
        meta = {"embedding_id": self.choice.embedding_id, "embedding_dim": self.dimension}
        if create:
            collection = self.client.get_or_create_collection(
                self.name,
                configuration={"hnsw": {"space": "cosine"}},
                metadata=meta,
                embedding_function=None,
            )
        else:
            collection = self.client.get_collection(self.name, embedding_function=None)
        found = collection.metadata or {}
        if (found.get("embedding_id"), found.get("embedding_dim")) != (
            meta["embedding_id"],
            meta["embedding_dim"],
        ):
            raise StoreMismatchError(
                f"collection '{self.name}' was built with embeddings "
                f"{found.get('embedding_id')} (dim {found.get('embedding_dim')}), not "
                f"{meta['embedding_id']} (dim {meta['embedding_dim']}); "
                "run `g21bot ingest --rebuild`"
            )
        self._collection = collection
        return collection

    def reconnect(self) -> None:
        self._collection = None

    def exists(self) -> bool:
        names = self._guard("listing", self.client.list_collections)
        return self.name in [getattr(c, "name", c) for c in names]

    def drop(self) -> None:
        if self.exists():
            self._guard("delete", lambda: self.client.delete_collection(self.name))
        self._collection = None

    def sync(
        self,
        chunks: Iterable[Chunk],
        progress: Callable[[str, int], None] | None = None,
        spill_dir: str | Path | None = None,
        embedded: Callable[[], None] | None = None,
    ) -> IngestReport:
        """Make the collection hold exactly ``chunks``: add new, update changed, delete gone.

        In two passes: every new or changed chunk is embedded and parked on disk (under
        ``spill_dir``, else the system's temporary folder), then ``embedded`` is called (an
        ingest lets the analyzers go there) and the parked chunks are written a batch at a
        time, so the analyzers and Chroma's growing index are never in memory together.
        ``chunks`` is consumed once. ``progress`` hears ("embedded" | "written", n)."""
        collection = self._guard("open", lambda: self._open(create=True))
        have = self._stored_hashes(collection)
        wanted: set[str] = set()
        added = updated = unchanged = 0
        batch: list[Chunk] = []
        with Spill(spill_dir, self.dimension) as spill:

            def park() -> None:
                spill.add(batch, self.choice.embeddings.embed_documents([c.text for c in batch]))
                if progress:
                    progress("embedded", len(batch))
                batch.clear()

            for chunk in chunks:
                wanted.add(chunk.id)
                stored = have.get(chunk.id, _MISSING)
                if stored is _MISSING:
                    added += 1
                elif stored != chunk.content_hash:
                    updated += 1
                else:
                    unchanged += 1
                    continue
                batch.append(chunk)
                if len(batch) >= _BATCH:
                    park()
            if batch:
                park()
            if embedded:
                embedded()
            for parked, vectors in spill.batches(_BATCH):
                self._guard("write", partial(self._upsert, collection, parked, vectors))
                if progress:
                    progress("written", len(parked))
        gone = [i for i in have if i not in wanted]
        for start in range(0, len(gone), _BATCH):
            ids = gone[start : start + _BATCH]
            self._guard("delete", partial(collection.delete, ids=ids))
        return IngestReport(added, updated, len(gone), unchanged)

    def _stored_hashes(self, collection: Any) -> dict[str, str | None]:
        """Content hash of every stored chunk, by id (the metadata itself is not kept)."""
        hashes: dict[str, str | None] = {}
        for page in self._pages(collection, ["metadatas"]):
            for i, meta in zip(page["ids"], page["metadatas"] or [], strict=True):
                found = (meta or {}).get("hash")
                hashes[i] = None if found is None else str(found)
        return hashes

    @staticmethod
    def _upsert(collection: Any, batch: list[Chunk], vectors: np.ndarray) -> None:
        collection.upsert(
            ids=[c.id for c in batch],
            embeddings=vectors,
            documents=[c.text for c in batch],
            metadatas=[c.metadata() for c in batch],
        )

    def count(self) -> int:
        collection = self._guard("open", lambda: self._open(create=False))
        return int(self._guard("count", collection.count))

    def _pages(
        self, collection: Any, include: list[str], where: dict[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every record (matching ``where``), a page at a time: one `get` of a large
        collection exceeds SQLite's limit on query variables (about 32k records)."""
        offset = 0
        while True:
            page = self._guard(
                "read",
                partial(collection.get, where=where, include=include, limit=_PAGE, offset=offset),
            )
            yield page
            if len(page["ids"]) < _PAGE:
                return
            offset += _PAGE

    def _read_all(
        self, collection: Any, include: list[str], where: dict[str, Any] | None = None
    ) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {"ids": [], **{key: [] for key in include}}
        for page in self._pages(collection, include, where):
            for key in out:
                out[key].extend(page[key] or [])
        return out

    def all_chunks(self, doc_id: str | None = None) -> list[Chunk]:
        """The stored chunks (of one document when ``doc_id`` is given), in reading order."""
        collection = self._guard("open", lambda: self._open(create=False))
        where = {"doc_id": doc_id} if doc_id else None
        got = self._read_all(collection, ["documents", "metadatas"], where)
        chunks = [
            _chunk_from(d, m) for d, m in zip(got["documents"], got["metadatas"], strict=True)
        ]
        return sorted(chunks, key=lambda c: (c.doc_id, c.lang, c.paragraph, c.index))

    def nearest(
        self,
        vector: Sequence[float] | np.ndarray,
        k: int,
        doc_id: str | None = None,
        lang: str | None = None,
    ) -> list[tuple[str, float]]:
        """Ids and cosine similarities of the ``k`` nearest chunks (of one document and one
        language version when ``doc_id`` and ``lang`` are given). Text and metadata stay in
        Chroma: a caller that holds the chunks already saves half the query's time by not
        reading them back."""
        collection = self._guard("open", lambda: self._open(create=False))
        filters: list[dict[str, Any]] = [
            {key: value} for key, value in (("doc_id", doc_id), ("lang", lang)) if value
        ]
        where = filters[0] if len(filters) == 1 else {"$and": filters} if filters else None
        got = self._guard(
            "query",
            lambda: collection.query(
                query_embeddings=np.asarray(vector, dtype=np.float32).reshape(1, -1),
                n_results=k,
                where=where,
                include=["distances"],
            ),
        )
        return [
            (str(i), 1.0 - float(d))
            for i, d in zip(got["ids"][0], got["distances"][0], strict=True)
        ]

    def ping(self) -> None:
        """Raise ``StoreUnavailableError`` unless the store answers now (a success ends the
        cooldown after a failure)."""
        self._guard("heartbeat", self.client.heartbeat, probe=True)

    def ingest_marker(self) -> str:
        """What the last completed ingest recorded (its digest); "" when none completed
        since the collection was made or an ingest began."""
        collection = self._guard("open", lambda: self._open(create=False))
        return str((collection.metadata or {}).get(INGEST_MARKER) or "")

    def set_ingest_marker(self, digest: str) -> None:
        """Record ``digest`` as the completed ingest ("" while one is under way)."""
        collection = self._guard("open", lambda: self._open(create=True))
        meta = {**(collection.metadata or {}), INGEST_MARKER: digest}
        self._guard("marker", partial(collection.modify, metadata=meta))
