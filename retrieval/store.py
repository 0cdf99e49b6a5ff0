"""The Chroma collection holding chunk vectors: embedded by default, a server when asked."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import chromadb
import numpy as np

from retrieval.chunk import Chunk
from retrieval.embeddings import EmbeddingChoice
from retrieval.errors import StoreMismatchError, StoreUnavailableError
from retrieval.spill import Spill

log = logging.getLogger(__name__)

_BATCH = 256
_PAGE = 5000
_MISSING = object()


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


def open_client(data_dir: str | Path, host: str = "", port: int = 8000) -> Any:
    """A Chroma server client when ``host`` is set, else the embedded store under ``data_dir``."""
    try:
        if host:
            return chromadb.HttpClient(host=host, port=port)
        path = Path(data_dir) / "chroma"
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path))
    except Exception as exc:  # chromadb raises several unrelated types for "cannot reach"
        if host:
            where = f"{host}:{port}"
            raise StoreUnavailableError(f"cannot reach Chroma server at {where}: {exc}") from exc
        raise StoreUnavailableError(
            f"cannot open embedded Chroma in {data_dir}: {exc}; if it is damaged, "
            "`g21bot ingest --rebuild` sets it aside and builds it again"
        ) from exc


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
        self, client: Any, corpus_id: str, choice: EmbeddingChoice, name: str = ""
    ) -> None:
        self.client = client
        self.choice = choice
        self.name = name or collection_name(corpus_id, choice.embedding_id)
        self._collection: Any = None
        self._dimension: int | None = None

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = len(self.choice.embeddings.embed_query("dimension probe"))
        return self._dimension

    def _guard(self, action: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except (StoreMismatchError, StoreUnavailableError):
            raise
        except Exception as exc:
            # Drop the handle: a restarted server hands out new collection ids.
            self._collection = None
            raise StoreUnavailableError(f"vector store {action} failed: {exc}") from exc

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
        """Raise ``StoreUnavailableError`` unless the store answers now."""
        self._guard("heartbeat", self.client.heartbeat)
