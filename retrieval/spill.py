"""Chunks and their vectors parked on disk between embedding and writing.

An ingest embeds everything first and writes to Chroma after: the analyzers (jieba,
tiktoken) can be let go in between, so they and Chroma's growing index never hold memory
at the same time. Plain files, not a memory map, so parked vectors do not count as memory."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

import numpy as np

from retrieval.chunk import Chunk


class Spill:
    """An append-only run of (chunk, vector) pairs in a private temporary folder, read back
    in order once; the folder is removed on close, whatever happened."""

    def __init__(self, folder: str | Path | None, dimension: int) -> None:
        self.dimension = dimension
        self.count = 0
        self._dir = tempfile.TemporaryDirectory(prefix="g21-ingest-", dir=folder)
        root = Path(self._dir.name)
        self._vectors_path = root / "vectors.f32"
        self._chunks_path = root / "chunks.jsonl"
        self._vectors: IO[bytes] | None = self._vectors_path.open("wb")
        self._chunks: IO[str] | None = self._chunks_path.open("w", encoding="utf-8")

    def add(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        if self._vectors is None or self._chunks is None:
            raise RuntimeError("spill is already being read")
        if len(chunks) == 0 == len(vectors):
            return
        array = np.asarray(vectors, dtype=np.float32)
        if array.shape != (len(chunks), self.dimension):
            raise ValueError(
                f"{len(chunks)} chunks need {len(chunks)} vectors of {self.dimension}, "
                f"got an array of shape {array.shape}"
            )
        array.tofile(self._vectors)
        for c in chunks:
            record = [c.doc_id, c.lang, c.paragraph, c.index, c.tokens, c.text]
            self._chunks.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.count += len(chunks)

    def batches(self, size: int) -> Iterator[tuple[list[Chunk], np.ndarray]]:
        """Everything added, in order, ``size`` pairs at a time."""
        self._finish_writing()
        with (
            self._vectors_path.open("rb") as vectors,
            self._chunks_path.open(encoding="utf-8") as lines,
        ):
            while True:
                chunks: list[Chunk] = []
                for line in lines:
                    doc_id, lang, paragraph, index, tokens, text = json.loads(line)
                    chunks.append(Chunk(doc_id, lang, paragraph, index, text, tokens))
                    if len(chunks) == size:
                        break
                if not chunks:
                    return
                array = np.fromfile(vectors, dtype=np.float32, count=len(chunks) * self.dimension)
                yield chunks, array.reshape(len(chunks), self.dimension)

    def _finish_writing(self) -> None:
        for handle in (self._vectors, self._chunks):
            if handle is not None:
                handle.close()
        self._vectors = self._chunks = None

    def close(self) -> None:
        self._finish_writing()
        self._dir.cleanup()

    def __enter__(self) -> Spill:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
