"""An ingest records a completion marker last: an ingest killed half-way, or an index built
from another corpus, is noticed at start and completed (or refused without auto-ingest)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bot.answering.engine import AnswerEngine
from bot.answering.stack import StackHolder
from bot.ops.settings import Settings
from retrieval.corpus import load_corpus
from retrieval.embeddings import make_embeddings
from retrieval.errors import IndexNotReadyError
from retrieval.ingest import corpus_chunks, ingest_digest
from retrieval.store import VectorStore, forget_clients, open_client
from tests.process_support import child_process, settings_free_env

if TYPE_CHECKING:
    from conftest import ChromaServer

KILL_BOUND = 120.0  # the ingest reaches its writes well within this


def write_corpus(folder: Path, paragraphs: int) -> Path:
    """A two-language statement of ``paragraphs`` numbered paragraphs; returns the manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    for lang, word in (("en", "disarmament measure number"), ("zh", "核裁军措施编号")):
        lines = ["Synthetic statement", "G-21", ""]
        lines += [
            f"{n}. The {word} {n} concerns item {n * 7 % 101}.\n" for n in range(1, paragraphs + 1)
        ]
        (folder / f"big.{lang}.txt").write_text("\n".join(lines), encoding="utf-8")
    manifest = folder / "manifest.toml"
    manifest.write_text(
        '[corpus]\nid = "big"\nname = "Big"\n\n[[documents]]\nid = "big-doc"\nsource = "test"\n\n'
        '  [[documents.versions]]\n  lang = "zh"\n  file = "big.zh.txt"\n\n'
        '  [[documents.versions]]\n  lang = "en"\n  file = "big.en.txt"\n',
        encoding="utf-8",
    )
    return manifest


def settings_for(data_dir: Path, **values: str) -> Settings:
    return Settings(_env_file=None, G21_DATA_DIR=str(data_dir), **values)  # type: ignore[call-arg]


def test_ingest_killed_half_way_is_detected_and_completed(
    tmp_path: Path, chroma_server_factory: Callable[[], ChromaServer]
) -> None:
    """Regression: auto-ingest ran only when the collection was empty, so a partial index
    left by a crash mid-ingest was served as it was."""
    server = chroma_server_factory()
    manifest = write_corpus(tmp_path / "corpus", 6000)
    where = {"CHROMA_HOST": server.host, "CHROMA_PORT": str(server.port)}
    settings = settings_for(tmp_path / "data", G21_MANIFEST=str(manifest), **where)
    corpus = load_corpus(manifest)
    total = len(corpus_chunks(corpus, settings.chunk_tokens))
    choice = make_embeddings("hashing")
    store = VectorStore(open_client("", server.host, server.port), corpus.corpus_id, choice)

    env = settings_free_env(
        G21_MANIFEST=str(manifest), G21_DATA_DIR=str(tmp_path / "data"), **where
    )
    g21bot = Path(sys.executable).with_name("g21bot")
    with child_process(
        [str(g21bot), "ingest"], env=env, cwd=tmp_path, stderr_path=tmp_path / "ingest.stderr"
    ) as process:
        deadline = time.monotonic() + KILL_BOUND
        written = 0
        while time.monotonic() < deadline and process.poll() is None:
            written = store.count() if store.exists() else 0
            if written > 0:
                break
            time.sleep(0.02)  # polling the server for the first batch, not synchronising
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    assert 0 < written < total, (written, total, (tmp_path / "ingest.stderr").read_text())
    store.reconnect()
    assert store.count() < total and store.ingest_marker() == ""

    with pytest.raises(IndexNotReadyError, match="empty or incomplete"):
        StackHolder(settings, auto_ingest=False).get()
    stack = StackHolder(settings).get()  # auto-ingest: completes it
    assert stack.store.count() == total
    assert stack.store.ingest_marker() == ingest_digest(corpus, 512, choice.embedding_id)
    assert StackHolder(settings, auto_ingest=False).get().store.count() == total


def drop_last_paragraph(manifest: Path) -> None:
    for path in manifest.parent.glob("*.txt"):
        text = path.read_text(encoding="utf-8")
        path.write_text(text[: text.rindex("\n15. ")] + "\n", encoding="utf-8")


def test_index_of_a_larger_corpus_is_resynced_when_the_corpus_shrinks(
    tmp_path: Path, corpus_copy: Path
) -> None:
    """Regression: a shrunk corpus left chunks of paragraphs that no longer exist in the
    index, and an answer citing one raised KeyError."""
    settings = settings_for(tmp_path / "data", G21_MANIFEST=str(corpus_copy))
    StackHolder(settings).get()  # the full corpus, ingested
    forget_clients()
    drop_last_paragraph(corpus_copy)

    with pytest.raises(IndexNotReadyError, match="stale"):
        StackHolder(settings, auto_ingest=False).get()
    engine = AnswerEngine(settings, StackHolder(settings))
    assert engine.stack().store.count() == 84  # 14 paragraphs, six languages
    # Words only paragraph 15 used: no longer in the statement, no KeyError.
    answer = engine.answer("Mr. President, the ongoing consultations on the mandate")
    assert 15 not in answer.cited and 15 not in answer.retrieved


def test_a_chunk_missing_behind_a_complete_marker_does_not_break_lookups(
    tmp_path: Path, corpus_copy: Path
) -> None:
    """Regression: a paragraph without stored chunks raised StopIteration on "paragraph N"
    (the lexical index is then built from the corpus itself)."""
    settings = settings_for(tmp_path / "data", G21_MANIFEST=str(corpus_copy))
    stack = StackHolder(settings).get()
    gone = [c.id for c in stack.store.all_chunks() if c.paragraph == 7]
    stack.store._open(create=False).delete(ids=gone)
    forget_clients()
    engine = AnswerEngine(settings, StackHolder(settings))
    answer = engine.answer("paragraph 7")
    assert answer.shown == [7] and not answer.abstained


def test_ingest_cli_writes_the_marker_last(tmp_path: Path, corpus_copy: Path) -> None:
    env = settings_free_env(G21_DATA_DIR=str(tmp_path / "data"), G21_MANIFEST=str(corpus_copy))
    done = subprocess.run(
        [str(Path(sys.executable).with_name("g21bot")), "ingest"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    settings = settings_for(tmp_path / "data", G21_MANIFEST=str(corpus_copy))
    store = StackHolder(settings, auto_ingest=False).get().store
    corpus = load_corpus(corpus_copy)
    assert store.ingest_marker() == ingest_digest(corpus, 512, store.choice.embedding_id)
