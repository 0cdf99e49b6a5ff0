"""Chunks and vectors parked on disk between an ingest's embedding and writing passes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.chunk import Chunk
from retrieval.spill import Spill


def make_chunks(n: int) -> list[Chunk]:
    # Both scripts, quotes and a newline: the records must come back exactly.
    return [
        Chunk("g21-hlm", "zh" if i % 2 else "en", i + 1, i % 3, f'第{i}段 "quoted"\n¶{i}', i + 7)
        for i in range(n)
    ]


def vectors(n: int, dim: int) -> list[list[float]]:
    return np.arange(n * dim, dtype=np.float32).reshape(n, dim).tolist()


@pytest.mark.parametrize(("added", "size"), [(1, 4), (7, 3), (9, 3), (10, 256)])
def test_everything_comes_back_in_order_a_batch_at_a_time(
    tmp_path: Path, added: int, size: int
) -> None:
    chunks, vecs = make_chunks(added), vectors(added, 5)
    with Spill(tmp_path, 5) as spill:
        # In uneven pieces: the reader must not depend on how it was written.
        spill.add(chunks[:2], vecs[:2])
        spill.add(chunks[2:], vecs[2:])
        assert spill.count == added
        got = list(spill.batches(size))
    assert [len(c) for c, _ in got] == [min(size, added - i) for i in range(0, added, size)]
    assert [c for batch, _ in got for c in batch] == chunks
    assert [c.id for batch, _ in got for c in batch] == [c.id for c in chunks]
    assert np.array_equal(np.vstack([v for _, v in got]), np.asarray(vecs, dtype=np.float32))
    assert all(v.dtype == np.float32 and v.shape == (len(c), 5) for c, v in got)


def test_an_empty_spill_yields_nothing(tmp_path: Path) -> None:
    with Spill(tmp_path, 8) as spill:
        assert list(spill.batches(4)) == []


@pytest.mark.parametrize(
    ("n_vectors", "dim"), [(2, 4), (3, 5)], ids=["one-vector-short", "wrong-dimension"]
)
def test_vectors_that_do_not_fit_the_chunks_are_refused(
    tmp_path: Path, n_vectors: int, dim: int
) -> None:
    with Spill(tmp_path, 4) as spill, pytest.raises(ValueError, match="3 vectors of 4"):
        spill.add(make_chunks(3), vectors(n_vectors, dim))


def test_nothing_is_added_once_reading_began(tmp_path: Path) -> None:
    with Spill(tmp_path, 2) as spill:
        spill.add(make_chunks(1), vectors(1, 2))
        list(spill.batches(1))
        with pytest.raises(RuntimeError, match="being read"):
            spill.add(make_chunks(1), vectors(1, 2))


def test_the_folder_is_removed_even_when_the_ingest_fails(tmp_path: Path) -> None:
    with pytest.raises(KeyError), Spill(tmp_path, 2) as spill:
        spill.add(make_chunks(2), vectors(2, 2))
        assert len(list(tmp_path.iterdir())) == 1
        raise KeyError("the store went away")
    assert list(tmp_path.iterdir()) == []
