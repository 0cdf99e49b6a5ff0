"""BM25 over chunk text (bm25s), cut by the analyzer of the chunks' language."""

from __future__ import annotations

from collections.abc import Sequence

import bm25s
import numpy as np

from retrieval.analyze import terms
from retrieval.chunk import Chunk


class LexicalIndex:
    """Built in memory from the store's chunks at start: tens of milliseconds for a statement,
    and always the same text the vector store holds. One per language version (``lang``
    picks the stemmer for Latin-script text; None: English, as for mixed chunks)."""

    def __init__(self, chunks: Sequence[Chunk], lang: str | None = None) -> None:
        self.chunks = list(chunks)
        self.lang = lang
        tokenized = [terms(c.text, lang) for c in self.chunks]
        self.vocabulary = {t for doc in tokenized for t in doc}
        self._bm25 = bm25s.BM25()
        self._bm25.index(tokenized, show_progress=False)

    def scores(self, query_terms: Sequence[str]) -> np.ndarray:
        known = [t for t in query_terms if t in self.vocabulary]
        if not known or not self.chunks:
            return np.zeros(len(self.chunks), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)

    def search(self, query_terms: Sequence[str], k: int) -> list[tuple[Chunk, float]]:
        scores = self.scores(query_terms)
        order = np.argsort(-scores, kind="stable")[:k]
        return [(self.chunks[i], float(scores[i])) for i in order if scores[i] > 0]
