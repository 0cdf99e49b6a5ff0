"""A Chroma server that hangs (SIGSTOP: connections are accepted, nothing is answered) or a
socket that accepts and never answers: every call gives up after G21_CHROMA_TIMEOUT, the
answer comes from the lexical index, /readyz stays quick and says what is degraded, and the
preflight fails at once with one clear line. CHROMA_AUTH_TOKEN goes to the server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.answering.answer import Answer
from bot.answering.stack import run_ingest
from bot.telegram.server import create_app
from retrieval.errors import StoreTimeoutError
from retrieval.store import open_client
from tests.bot_harness import (
    USER,
    StartBot,
    fixture_api,  # noqa: F401  (a fixture)
    fixture_data_dir,  # noqa: F401  (a fixture)
    fixture_end_of_test_checks,  # noqa: F401  (a fixture)
    fixture_ingested_dir,  # noqa: F401  (a fixture)
    fixture_start_bot,  # noqa: F401  (a fixture)
    make_settings,
    texts,
)
from tests.fakes.telegram import BotApiStandIn

if TYPE_CHECKING:
    from conftest import ChromaServer, CliResult

MIDDLE_EAST = "What does the Group say about the Middle East?"
# Liveness bounds, not speed claims: a hung dependency must not stall an answer or a probe
# anywhere near this long (the timeout under test is 1 s).
ANSWER_BOUND = 10.0
PROBE_BOUND = 3.0


@contextlib.contextmanager
def silent_socket() -> Iterator[int]:
    """A port whose listening socket accepts connections (the kernel completes them) and
    never reads or answers: a hung server as the client sees it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield int(sock.getsockname()[1])


@contextlib.contextmanager
def stopped(server: ChromaServer) -> Iterator[None]:
    """The Chroma server frozen with SIGSTOP (its socket still accepts connections)."""
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.process.pid, signal.SIGCONT)


def metric(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


# --- the client's own bounds ------------------------------------------------------------------


def test_client_to_a_socket_that_never_answers_gives_up_after_the_timeout() -> None:
    with silent_socket() as port, pytest.raises(StoreTimeoutError, match=r"within 0\.5 s"):
        open_client("", "127.0.0.1", port, timeout=0.5)


def test_every_call_of_a_connected_client_is_bounded(
    chroma_server_factory: Callable[[], ChromaServer],
) -> None:
    """The client is built while the server answers; then the server hangs: a heartbeat
    fails after the timeout instead of blocking forever (chromadb's default)."""
    server = chroma_server_factory()
    client = open_client("", server.host, server.port, timeout=1.0)
    client.heartbeat()
    outcome: list[BaseException | None] = []

    def call() -> None:
        try:
            client.heartbeat()
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    with stopped(server):
        worker = threading.Thread(target=call, daemon=True)
        worker.start()
        worker.join(ANSWER_BOUND)
    assert outcome and isinstance(outcome[0], httpx.TimeoutException), outcome


# --- the bot while Chroma hangs ---------------------------------------------------------------


@pytest.fixture(name="hung_bot_setup")
async def fixture_hung_bot_setup(
    api: BotApiStandIn,
    start_bot: StartBot,
    data_dir: Path,
    chroma_server_factory: Callable[[], ChromaServer],
) -> AsyncIterator[tuple[Any, ChromaServer, httpx.AsyncClient]]:
    server = chroma_server_factory()
    where = {"CHROMA_HOST": server.host, "CHROMA_PORT": str(server.port)}
    await asyncio.to_thread(run_ingest, make_settings(data_dir, **where))
    bot = await start_bot(G21_CHROMA_TIMEOUT="1", **where)
    transport = httpx.ASGITransport(app=create_app(bot.settings, bot.app, webhook=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as http:
        yield bot, server, http


async def test_questions_are_answered_from_the_lexical_index_while_chroma_hangs(
    api: BotApiStandIn,
    hung_bot_setup: tuple[Any, ChromaServer, httpx.AsyncClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Regression: chromadb's HttpClient had no timeout, so a question waited forever."""
    bot, server, http = hung_bot_setup
    answers: list[Answer] = []
    original = bot.state.engine.aanswer

    async def recording(*args: Any, **kwargs: Any) -> Answer:
        answers.append(await original(*args, **kwargs))
        return answers[-1]

    monkeypatch.setattr(bot.state.engine, "aanswer", recording)
    await bot.handled(api.private_text(USER, MIDDLE_EAST))
    assert not answers[-1].degraded
    before = (await http.get("/metrics")).text

    with stopped(server):
        # Two users at once: both meet the timeout (or one the cooldown after it).
        hung = [api.private_text(user, MIDDLE_EAST) for user in (USER + 100, USER + 101)]
        await bot.handled(*hung, timeout=ANSWER_BOUND)
        assert [a.degraded for a in answers[-2:]] == [True, True]
        for user in (USER + 100, USER + 101):
            assert "[¶10]" in texts(api, user)[0]
        ready = await asyncio.wait_for(http.get("/readyz"), PROBE_BOUND)
        assert ready.status_code == 200
        assert ready.json()["status"] == "degraded"
        assert ready.json()["degraded"] == ["vector_store"]
        assert "127.0.0.1" not in ready.text and str(server.port) not in ready.text
        assert (await http.get("/healthz")).status_code == 200
        after = (await http.get("/metrics")).text

    def fallbacks(text: str, reason: str) -> float:
        return metric(text, "vector_store_fallbacks_total", reason=reason)

    timeouts = fallbacks(after, "timeout") - fallbacks(before, "timeout")
    cooled = fallbacks(after, "unavailable") - fallbacks(before, "unavailable")
    assert timeouts >= 1 and timeouts + cooled == 2
    # Back: a successful probe ends the cooldown, and the vectors are used again.
    assert (await http.get("/readyz")).json()["status"] == "ready"
    await bot.handled(api.private_text(USER + 102, MIDDLE_EAST))
    assert answers[-1].degraded is False


async def test_readyz_never_waits_on_a_hung_store(
    hung_bot_setup: tuple[Any, ChromaServer, httpx.AsyncClient],
) -> None:
    """Regression: /readyz waited as long as Chroma did (forever when it hung)."""
    _, server, http = hung_bot_setup
    with stopped(server):
        for _ in range(3):  # later probes do not pile up behind the first
            ready = await asyncio.wait_for(http.get("/readyz"), PROBE_BOUND)
            assert ready.status_code == 200 and ready.json()["status"] == "degraded"


# --- the preflight ------------------------------------------------------------------------------


def test_preflight_fails_fast_on_a_hung_chroma(
    run_cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: the start-up check waited forever on a server that accepts connections
    and never answers."""
    with silent_socket() as port:
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:TEST-token")
        monkeypatch.setenv("CHROMA_HOST", "127.0.0.1")
        monkeypatch.setenv("CHROMA_PORT", str(port))
        monkeypatch.setenv("G21_CHROMA_TIMEOUT", "0.5")
        started = time.monotonic()
        result = run_cli("run")
        assert time.monotonic() - started < ANSWER_BOUND
    assert result.code == 2
    lines = [line for line in result.err.splitlines() if line.startswith("g21bot: ")]
    assert len(lines) == 1 and "Traceback" not in result.err, result.err
    assert f"CHROMA_HOST=127.0.0.1:{port}" in lines[0]
    assert "does not answer within 0.5 s" in lines[0] and "G21_CHROMA_TIMEOUT" in lines[0]


# --- token auth ---------------------------------------------------------------------------------


class _FakeChroma(BaseHTTPRequestHandler):
    """Answers the calls chromadb's client makes while connecting; notes their headers."""

    seen: list[tuple[str, str | None]]

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Authorization")))
        bodies: dict[str, Any] = {
            "/api/v2/heartbeat": {"nanosecond heartbeat": 1},
            "/api/v2/auth/identity": {
                "user_id": "",
                "tenant": "default_tenant",
                "databases": ["default_database"],
            },
            "/api/v2/tenants/default_tenant": {"name": "default_tenant"},
            "/api/v2/tenants/default_tenant/databases/default_database": {
                "id": "00000000-0000-0000-0000-000000000000",
                "name": "default_database",
                "tenant": "default_tenant",
            },
        }
        body = json.dumps(bodies.get(self.path.split("?")[0], {})).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


def test_chroma_auth_token_is_sent_on_every_call() -> None:
    seen: list[tuple[str, str | None]] = []
    handler = type("Recording", (_FakeChroma,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = open_client(
            "", "127.0.0.1", server.server_address[1], auth_token="s3cret-Token", timeout=2.0
        )
        client.heartbeat()
    finally:
        server.shutdown()
        server.server_close()
    assert len(seen) >= 3, seen
    assert {auth for _, auth in seen} == {"Bearer s3cret-Token"}, seen
