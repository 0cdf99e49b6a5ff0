"""Shared fixtures: the shipped corpus, offline embeddings, Chroma stores (embedded, and a real
`chroma run` server on a free loopback port), an isolated g21bot environment, and a recording
python-telegram-bot request (``RecordingRequest``) for handler tests without HTTP."""

from __future__ import annotations

import json
import logging
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.entry.cli import main as cli_main
from bot.entry.replay import LoopbackRequest
from bot.ops.settings import Settings
from retrieval.chunk import DEFAULT_MAX_TOKENS, Chunk
from retrieval.corpus import Corpus, default_manifest, load_corpus
from retrieval.embeddings import EmbeddingChoice, make_embeddings
from retrieval.ingest import corpus_chunks, ingest
from retrieval.search import Retriever
from retrieval.store import VectorStore, open_client
from tests.answer_support import forget_openai_clients
from tests.chroma_process import ChromaServer, free_port, start_chroma_server
from tests.fakes.openai import OpenAIStandIn
from tests.fakes.telegram import GET_ME

CHROMA_START_TIMEOUT = 30.0


# --- the corpus -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The folder of the shipped manifest and statement files (read only)."""
    return default_manifest().parent


@pytest.fixture(scope="session")
def corpus() -> Corpus:
    return load_corpus()


@pytest.fixture(scope="session")
def chunks(corpus: Corpus) -> list[Chunk]:
    """Chunks of the shipped corpus under the default token budget."""
    return corpus_chunks(corpus, DEFAULT_MAX_TOKENS)


@pytest.fixture
def corpus_copy(tmp_path: Path, corpus_dir: Path) -> Path:
    """A writable copy of the shipped corpus; returns the copied manifest's path."""
    target = tmp_path / "corpus"
    shutil.copytree(corpus_dir, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target / "manifest.toml"


# --- embeddings and the shared read-only index -------------------------------------------


@pytest.fixture(scope="session")
def hashing() -> EmbeddingChoice:
    """The default offline embeddings."""
    return make_embeddings("hashing")


@pytest.fixture(scope="session")
def ingested_store(
    tmp_path_factory: pytest.TempPathFactory, corpus: Corpus, hashing: EmbeddingChoice
) -> VectorStore:
    """An embedded store holding the shipped corpus. Shared: tests must only read it."""
    client = open_client(tmp_path_factory.mktemp("shared-store"))
    store = VectorStore(client, corpus.corpus_id, hashing)
    ingest(corpus, store, DEFAULT_MAX_TOKENS)
    return store


@pytest.fixture(scope="session")
def retriever(corpus: Corpus, ingested_store: VectorStore, hashing: EmbeddingChoice) -> Retriever:
    """Hybrid retriever over ``ingested_store``. Shared: tests must only read it."""
    return Retriever(corpus, ingested_store, hashing)


# --- g21bot settings ------------------------------------------------------------------------


@pytest.fixture
def g21_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No g21bot variable from the caller's environment or a `.env`, and ``G21_DATA_DIR`` in
    a fresh temporary folder (returned). The working directory is ``tmp_path``."""
    for field in Settings.model_fields.values():
        if field.alias:
            monkeypatch.delenv(field.alias, raising=False)
    monkeypatch.chdir(tmp_path)
    data_dir = tmp_path / "data"
    monkeypatch.setenv("G21_DATA_DIR", str(data_dir))
    return data_dir


@dataclass(frozen=True)
class CliResult:
    """What one in-process `g21bot` run returned and printed."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def run_cli(
    g21_env: Path, capsys: pytest.CaptureFixture[str]
) -> Iterator[Callable[..., CliResult]]:
    """Runs `g21bot ARGS…` in this process (``bot.entry.cli.main``) in the ``g21_env`` environment;
    the logging set-up the CLI installs is undone afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        code = cli_main(list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    yield run
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)


# --- network helpers ------------------------------------------------------------------------


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    return free_port()


# --- a real Chroma server -------------------------------------------------------------------


@pytest.fixture(scope="session")
def chroma_server_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[], ChromaServer]]:
    """Starts extra Chroma servers (each on its own data folder); all stopped at the end."""
    started: list[ChromaServer] = []

    def start() -> ChromaServer:
        server = start_chroma_server(
            tmp_path_factory.mktemp("chroma-server"), timeout=CHROMA_START_TIMEOUT
        )
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def chroma_server(chroma_server_factory: Callable[[], ChromaServer]) -> ChromaServer:
    """One real Chroma server for the session; give each test its own collection name."""
    return chroma_server_factory()


@pytest.fixture(params=["embedded", "server"])
def chroma_client(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A Chroma client, once embedded (fresh folder) and once over HTTP to the real server."""
    if request.param == "embedded":
        return open_client(tmp_path / "data")
    server: ChromaServer = request.getfixturevalue("chroma_server")
    return open_client("", server.host, server.port)


# --- the OpenAI-compatible stand-in ---------------------------------------------------------


@pytest.fixture
def llm(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIStandIn]:
    """The local OpenAI-compatible stand-in; no proxy variables, and no HTTP client that
    langchain-openai cached on an earlier test's event loop."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    forget_openai_clients()
    with OpenAIStandIn() as standin:
        yield standin
    forget_openai_clients()
    assert standin.server_errors == []


@pytest.fixture
def collection_name() -> str:
    """A collection name no other test uses (the server is shared by the session)."""
    return f"test-{uuid.uuid4().hex[:16]}"


# --- python-telegram-bot without HTTP -------------------------------------------------------


class RecordingRequest(LoopbackRequest):
    """The product's in-process Bot API (``bot.entry.replay.LoopbackRequest``) answering as
    the test bot: each call recorded in ``calls``, answered at once. For handler unit tests;
    the Bot API stand-in (``tests.fakes``) is the one that checks requests against the spec."""

    def __init__(self, results: dict[str, Any] | None = None) -> None:
        super().__init__(results, bot=GET_ME)


@pytest.fixture
def recording_request() -> RecordingRequest:
    """A ``RecordingRequest`` with the default answers."""
    return RecordingRequest()
