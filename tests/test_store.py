"""The Chroma store, embedded and over HTTP to a real `chroma run` server."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import chromadb.utils.embedding_functions as chroma_embedding_functions
import pytest

from bot.answering.stack import StackHolder
from bot.ops.settings import Settings
from retrieval import analyze, tokens
from retrieval.analyze import terms
from retrieval.chunk import DEFAULT_MAX_TOKENS, Chunk
from retrieval.corpus import Corpus, load_corpus
from retrieval.embeddings import HASHING_VERSION, EmbeddingChoice, make_embeddings
from retrieval.errors import IndexNotReadyError, StoreMismatchError, StoreUnavailableError
from retrieval.ingest import ingest
from retrieval.search import Retriever
from retrieval.store import VectorStore, collection_name, open_client
from retrieval.tokens import count_tokens

if TYPE_CHECKING:
    from tests.conftest import ChromaServer, CliResult


def new_store(client: Any, name: str, choice: EmbeddingChoice) -> VectorStore:
    return VectorStore(client, "g21-hlm", choice, name)


def snapshot(store: VectorStore) -> list[tuple[str, str]]:
    return [(c.id, c.content_hash) for c in store.all_chunks()]


# --- sync ---------------------------------------------------------------------------------


def test_sync_is_idempotent(
    chroma_client: Any, collection_name: str, hashing: EmbeddingChoice, chunks: list[Chunk]
) -> None:
    store = new_store(chroma_client, collection_name, hashing)
    assert not store.exists()
    first = store.sync(chunks)
    assert (first.added, first.updated, first.deleted, first.unchanged) == (len(chunks), 0, 0, 0)
    assert store.exists()
    second = store.sync(chunks)
    assert (second.added, second.updated, second.deleted) == (0, 0, 0)
    assert second.unchanged == len(chunks)
    assert second.summary().startswith("0 added, 0 updated, 0 deleted")
    assert store.count() == len(chunks)


def test_sync_embeds_everything_before_it_writes_anything(
    chroma_client: Any,
    collection_name: str,
    hashing: EmbeddingChoice,
    chunks: list[Chunk],
    tmp_path: Path,
) -> None:
    spill = tmp_path / "spill"  # not tmp_path itself: an embedded client lives there
    spill.mkdir()
    store = new_store(chroma_client, collection_name, hashing)
    heard: list[tuple[str, int]] = []
    at_hook: list[tuple[int, list[str]]] = []

    def embedded() -> None:
        # Everything is parked and nothing written yet: the analyzers may go now.
        at_hook.append((store.count(), sorted(p.name for p in spill.iterdir())))

    report = store.sync(chunks, lambda stage, n: heard.append((stage, n)), spill, embedded)
    assert report.added == len(chunks)
    assert at_hook and at_hook[0][0] == 0
    assert len(at_hook[0][1]) == 1 and at_hook[0][1][0].startswith("g21-ingest-")
    stages = [stage for stage, _ in heard]
    assert stages == sorted(stages)  # every "embedded" before the first "written"
    assert sum(n for stage, n in heard if stage == "embedded") == len(chunks)
    assert sum(n for stage, n in heard if stage == "written") == len(chunks)
    assert list(spill.iterdir()) == []  # the parked vectors are gone
    assert store.all_chunks() == sorted(
        chunks, key=lambda c: (c.doc_id, c.lang, c.paragraph, c.index)
    )


def test_a_failed_write_leaves_no_parked_vectors(
    chroma_client: Any,
    collection_name: str,
    hashing: EmbeddingChoice,
    chunks: list[Chunk],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spill = tmp_path / "spill"
    spill.mkdir()
    store = new_store(chroma_client, collection_name, hashing)

    def refuse(*_: Any) -> None:
        raise ConnectionError("the server went away")

    monkeypatch.setattr(VectorStore, "_upsert", staticmethod(refuse))
    with pytest.raises(StoreUnavailableError, match="write failed"):
        store.sync(chunks, spill_dir=spill)
    assert list(spill.iterdir()) == []


def test_round_trip_keeps_text_and_metadata(
    chroma_client: Any, collection_name: str, hashing: EmbeddingChoice, chunks: list[Chunk]
) -> None:
    store = new_store(chroma_client, collection_name, hashing)
    store.sync(chunks)
    assert store.all_chunks() == sorted(
        chunks, key=lambda c: (c.doc_id, c.lang, c.paragraph, c.index)
    )


def test_edited_paragraph_is_updated(
    chroma_client: Any, collection_name: str, hashing: EmbeddingChoice, chunks: list[Chunk]
) -> None:
    store = new_store(chroma_client, collection_name, hashing)
    store.sync(chunks)
    target = next(c for c in chunks if c.lang == "en" and c.paragraph == 12)
    edited_text = target.text.replace("International Court of Justice", "Zanzibar Pelican Court")
    edited = [dataclasses.replace(c, text=edited_text) if c.id == target.id else c for c in chunks]
    report = store.sync(edited)
    assert (report.added, report.updated, report.deleted) == (0, 1, 0)
    assert report.unchanged == len(chunks) - 1
    stored = {c.id: c.text for c in store.all_chunks()}
    assert stored[target.id] == edited_text
    # The vector moved with the text: the new words find the paragraph by dense search alone.
    hits = store.nearest(hashing.embeddings.embed_query("Zanzibar Pelican Court"), 3)
    assert hits[0][0] == target.id
    assert store.sync(edited).updated == 0


def test_removed_paragraph_chunks_are_deleted(
    chroma_client: Any, collection_name: str, hashing: EmbeddingChoice, chunks: list[Chunk]
) -> None:
    store = new_store(chroma_client, collection_name, hashing)
    store.sync(chunks)
    kept = [c for c in chunks if c.paragraph != 15]
    report = store.sync(kept)
    assert (report.added, report.updated, report.deleted) == (0, 0, len(chunks) - len(kept))
    assert store.count() == len(kept)
    assert 15 not in {c.paragraph for c in store.all_chunks()}
    stored = {c.id: c for c in store.all_chunks()}
    hits = store.nearest(hashing.embeddings.embed_query(chunks[-1].text), len(kept))
    assert all(stored[i].paragraph != 15 for i, _ in hits)


def test_query_finds_a_chunk_by_its_own_text(
    chroma_client: Any, collection_name: str, hashing: EmbeddingChoice, chunks: list[Chunk]
) -> None:
    store = new_store(chroma_client, collection_name, hashing)
    store.sync(chunks)
    stored = {c.id: c for c in store.all_chunks()}
    for chunk in (chunks[0], chunks[-1]):
        hits = store.nearest(hashing.embeddings.embed_query(chunk.text), 5)
        assert stored[hits[0][0]] == chunk
        assert hits[0][1] == pytest.approx(1.0, abs=1e-3)  # cosine space
        assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


# --- embeddings recorded with the collection -------------------------------------------------


def test_other_embeddings_on_the_same_collection_are_refused(
    chroma_client: Any, collection_name: str, chunks: list[Chunk]
) -> None:
    small = new_store(chroma_client, collection_name, make_embeddings("hashing:256"))
    small.sync(chunks)
    large = new_store(chroma_client, collection_name, make_embeddings("hashing:1024"))
    for action in (large.count, large.all_chunks, lambda: large.sync(chunks)):
        with pytest.raises(StoreMismatchError, match="ingest --rebuild") as caught:
            action()
        assert f"hashing-v{HASHING_VERSION}-256" in str(caught.value)
        assert f"hashing-v{HASHING_VERSION}-1024" in str(caught.value)
    assert small.count() == len(chunks)  # nothing was written over

    large.drop()
    assert not large.exists()
    report = large.sync(chunks)
    assert report.added == len(chunks)
    assert large.count() == len(chunks)
    hits = large.nearest(large.choice.embeddings.embed_query(chunks[3].text), 1)
    assert hits[0][0] == chunks[3].id


def test_rebuild_drops_and_refills(
    chroma_client: Any, collection_name: str, hashing: EmbeddingChoice, corpus: Corpus
) -> None:
    store = new_store(chroma_client, collection_name, hashing)
    ingest(corpus, store, DEFAULT_MAX_TOKENS)
    report = ingest(corpus, store, DEFAULT_MAX_TOKENS, rebuild=True)
    assert report.added == store.count() == 90
    assert report.updated == report.deleted == 0


def test_an_ingest_only_process_lets_the_analyzers_go_and_they_come_back(
    chroma_client: Any, collection_name: str, hashing: EmbeddingChoice, corpus: Corpus
) -> None:
    question = "无核武器区和核裁军的法律文书"
    before = (terms(question), count_tokens(question))
    store = new_store(chroma_client, collection_name, hashing)
    report = ingest(corpus, store, DEFAULT_MAX_TOKENS, release_analyzers=True)
    assert report.added == store.count() == 90
    # Let go: nothing holds jieba's dictionary or tiktoken's ranks any more.
    assert analyze._jieba.cache_info().currsize == 0
    assert tokens.encoding.cache_info().currsize == 0
    # And loaded again on use, the same (with the domain dictionary).
    assert (terms(question), count_tokens(question)) == before
    assert Retriever(corpus, store, hashing).search("核裁军高级别会议").paragraphs


def test_collection_names_differ_by_embeddings() -> None:
    a = collection_name("g21-hlm", make_embeddings("hashing:256").embedding_id)
    b = collection_name("g21-hlm", make_embeddings("hashing:1024").embedding_id)
    c = collection_name("g21 hlm/ü", "huggingface-BAAI/bge-m3")
    assert a != b
    assert all(ch.isalnum() or ch in "._-" for ch in c)
    assert c[0].isalnum() and c[-1].isalnum()


def test_chromas_default_embedding_function_never_runs(
    chroma_client: Any,
    collection_name: str,
    hashing: EmbeddingChoice,
    corpus: Corpus,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("Chroma's own embedding function ran (it downloads a model)")

    monkeypatch.setattr(chroma_embedding_functions.DefaultEmbeddingFunction, "__call__", forbidden)
    monkeypatch.setattr(chroma_embedding_functions.ONNXMiniLM_L6_V2, "__call__", forbidden)
    monkeypatch.setattr(chroma_embedding_functions.ONNXMiniLM_L6_V2, "__init__", forbidden)
    store = new_store(chroma_client, collection_name, hashing)
    ingest(corpus, store, DEFAULT_MAX_TOKENS)
    retriever = Retriever(corpus, store, hashing)
    result = retriever.search("What did the International Court of Justice conclude?")
    assert result.paragraphs[0] == 12
    assert store.nearest(hashing.embeddings.embed_query("核裁军"), 3)


def test_retriever_ranks_the_same_on_both_backends(
    chroma_client: Any, collection_name: str, hashing: EmbeddingChoice, corpus: Corpus
) -> None:
    store = new_store(chroma_client, collection_name, hashing)
    ingest(corpus, store, DEFAULT_MAX_TOKENS)
    retriever = Retriever(corpus, store, hashing)
    assert retriever.search("哈瓦那首脑会议把哪个地区宣布为和平区？").paragraphs[0] == 6
    assert retriever.search("Is it time to translate words into action?").paragraphs[0] == 13


# --- unavailable stores ---------------------------------------------------------------------


def test_unreachable_server(closed_port: int) -> None:
    with pytest.raises(StoreUnavailableError, match=f"127.0.0.1:{closed_port}"):
        open_client("", "127.0.0.1", closed_port)


def test_server_that_goes_away(
    chroma_server_factory: Callable[[], ChromaServer], hashing: EmbeddingChoice, chunks: list[Chunk]
) -> None:
    server = chroma_server_factory()
    store = new_store(open_client("", server.host, server.port), "going-away", hashing)
    store.sync(chunks)
    store.ping()
    server.stop()
    with pytest.raises(StoreUnavailableError):
        store.ping()
    with pytest.raises(StoreUnavailableError):
        store.nearest(hashing.embeddings.embed_query("核裁军"), 3)


def test_embedded_store_in_an_unusable_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be", encoding="utf-8")
    with pytest.raises(StoreUnavailableError, match="embedded Chroma"):
        open_client(blocker)


def test_empty_store_is_not_ready_without_auto_ingest(g21_env: Path) -> None:
    with pytest.raises(IndexNotReadyError, match="g21bot ingest"):
        StackHolder(Settings(), auto_ingest=False).get()


def test_empty_store_is_filled_on_first_use(g21_env: Path) -> None:
    stack = StackHolder(Settings()).get()
    assert stack.store.count() == 90
    assert stack.retriever.search("第7段").paragraphs == [7]


# --- nothing is half-ingested ---------------------------------------------------------------


def test_failed_ingest_leaves_the_store_unchanged(
    run_cli: Callable[..., CliResult], corpus_copy: Path
) -> None:
    assert run_cli("ingest").code == 0
    corpus = load_corpus()
    store = VectorStore(
        open_client(Settings().data_dir), corpus.corpus_id, make_embeddings("hashing")
    )
    before = snapshot(store)
    assert len(before) == 90

    # A manifest whose first file is good (and edited: a half-ingest would show) and whose
    # second document's file has a gap in its numbering.
    folder = corpus_copy.parent
    zh = folder / "g21-2013-hlm-follow-up.zh.txt"
    edited = zh.read_text(encoding="utf-8").replace("核裁军是", "核裁军确是")
    zh.write_text(edited, encoding="utf-8")
    (folder / "broken.txt").write_text("1. One.\n2. Two.\n4. Four.\n", encoding="utf-8")
    corpus_copy.write_text(
        corpus_copy.read_text(encoding="utf-8")
        + '\n[[documents]]\nid = "broken"\n  [[documents.versions]]\n  lang = "en"\n'
        '  file = "broken.txt"\n',
        encoding="utf-8",
    )
    result = run_cli("ingest", "--manifest", str(corpus_copy))
    assert result.code == 1
    assert "broken.txt:3" in result.err
    assert "paragraph 3 missing" in result.err
    assert snapshot(store) == before
