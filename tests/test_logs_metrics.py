"""Operating the service: secrets never reach a log line (plain or JSON, DEBUG included), every
stderr line is JSON when G21_LOG_JSON is set, /metrics carries every documented series after
real questions, and /readyz follows a Chroma server going away and coming back."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.answering.messages import message
from bot.ops.logs import REDACTED, JsonFormatter, Redactor, setup_logging
from bot.ops.settings import Settings
from bot.telegram.server import SECRET_HEADER, create_app
from tests.answer_support import cited_reply
from tests.bot_harness import (
    StartBot,
    fixture_allow_errors,  # noqa: F401  (a fixture)
    fixture_api,  # noqa: F401  (a fixture)
    fixture_data_dir,  # noqa: F401  (a fixture)
    fixture_end_of_test_checks,  # noqa: F401  (a fixture)
    fixture_ingested_dir,  # noqa: F401  (a fixture)
    fixture_start_bot,  # noqa: F401  (a fixture)
    free_port,
    texts,
)
from tests.conftest import ChromaServer
from tests.fakes.openai import OpenAIStandIn, error, structured
from tests.fakes.telegram import BotApiStandIn
from tests.process_support import child_process, settings_free_env, terminate

TOKEN = "8123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw_"
TOKEN_TAIL = TOKEN.split(":", 1)[1]
SECRET = "webhook-Secret_0123456789abcdef"
API_KEY = "sk-proj-Qw3rTy8uIoP4aSdF6gHjK2lZxCvBnM0"
SECRETS = [TOKEN, TOKEN_TAIL, SECRET, API_KEY]
WEBHOOK_URL = "https://bot.example.test/telegram/webhook"
HOOK_PATH = "/telegram/webhook"
PRIORITY_Q = "What is the Conference on Disarmament's top priority?"
P8_QUOTE = "Nuclear disarmament is the highest priority of the Conference on Disarmament"
GOOD_P8 = cited_reply(f"{P8_QUOTE} [¶8].", (8, P8_QUOTE))
MIDDLE_EAST = "What does the Group say about the Middle East?"
OUT_OF_SCOPE_ZH = "量子计算机的原理"


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret[:6]}… leaked"


# --- Redactor -------------------------------------------------------------------------------


def _record(msg: str, *args: Any, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("g21.test", logging.ERROR, __file__, 1, msg, args or None, exc_info)


def _formatted(record: logging.LogRecord, redactor: Redactor) -> str:
    assert redactor.filter(record) is True  # never drops a record
    return logging.Formatter("%(levelname)s %(name)s: %(message)s").format(record)


def _raised(text: str) -> BaseException:
    try:
        try:
            raise KeyError(f"inner {text}")
        except KeyError as inner:
            raise RuntimeError(f"outer {text}") from inner
    except RuntimeError as exc:
        return exc


def test_redactor_scrubs_secrets_in_the_message() -> None:
    redactor = Redactor([TOKEN, SECRET, API_KEY])
    out = _formatted(_record(f"url /bot{TOKEN}/getMe secret={SECRET} key {API_KEY}"), redactor)
    assert_no_secret(out)
    assert out.count(REDACTED) == 3 and "/getMe" in out


def test_redactor_scrubs_secrets_in_args_of_any_type() -> None:
    redactor = Redactor([TOKEN, SECRET, API_KEY])
    params = {"url": WEBHOOK_URL, "secret_token": SECRET, "nested": [API_KEY]}
    record = _record("calling %s with %r as %s", f"bot{TOKEN}", params, 7)
    out = _formatted(record, redactor)
    assert_no_secret(out)
    assert record.args is None and WEBHOOK_URL in out and out.endswith("as 7")
    # Filtering twice (two handlers) is harmless.
    assert _formatted(record, redactor) == out


def test_redactor_scrubs_exception_text_and_keeps_the_traceback() -> None:
    redactor = Redactor([TOKEN, SECRET, API_KEY])
    record = _record("failed: %s", SECRET, exc=_raised(f"{TOKEN} {API_KEY}"))
    out = _formatted(record, redactor)
    assert_no_secret(out)
    assert "Traceback (most recent call last)" in out
    assert "RuntimeError: outer [REDACTED] [REDACTED]" in out
    assert "KeyError: 'inner [REDACTED] [REDACTED]'" in out  # the chained cause too
    assert record.exc_info is None and record.exc_text and TOKEN not in record.exc_text


def test_redactor_scrubs_any_token_shaped_text_without_knowing_it() -> None:
    other = "7000000001:BBHdqTcvCH1vGWJxfSeofSAs0K5PALDsxyz"
    out = _formatted(_record(f"GET https://api.telegram.org/bot{other}/getUpdates"), Redactor())
    assert other not in out and other.split(":")[1] not in out
    assert out.endswith(f"bot{REDACTED}/getUpdates")


def test_redactor_leaves_ordinary_text_and_tiny_secrets_alone() -> None:
    redactor = Redactor(["", "ab", SECRET, SECRET + "-longer"])
    text = "paragraph 8: about 12:30 the abstract said ab 1234:short"
    assert redactor.scrub(text) == text
    # The longer of two overlapping secrets is removed whole.
    assert redactor.scrub(f"[{SECRET}-longer]") == f"[{REDACTED}]"


def test_json_lines_redact_extra_fields_too(capsys: pytest.CaptureFixture[str]) -> None:
    """``extra={...}`` fields are written by the JSON formatter: they are scrubbed too."""
    logger = logging.getLogger("g21.test.extras")
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(Redactor([TOKEN, SECRET]))
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning(
            "request failed", extra={"url": f"http://x/bot{TOKEN}/getMe", "params": [SECRET, 3]}
        )
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    (line,) = capsys.readouterr().err.splitlines()
    data = json.loads(line)
    assert_no_secret(line)
    assert data["url"] == f"http://x/bot{REDACTED}/getMe"
    assert data["message"] == "request failed" and data["level"] == "WARNING"


@pytest.fixture
def restore_root_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in ("httpx", "httpcore", "chromadb")}
    yield
    root.handlers[:], level = saved
    root.setLevel(level)
    for name, value in levels.items():
        logging.getLogger(name).setLevel(value)


@pytest.mark.parametrize("log_json", [False, True])
def test_setup_logging_redacts_library_records(
    restore_root_logging: None, allow_errors: None, log_json: bool
) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        TELEGRAM_BOT_TOKEN=TOKEN,
        G21_WEBHOOK_SECRET=SECRET,
        OPENAI_API_KEY=API_KEY,
        G21_LOG_LEVEL="DEBUG",
        G21_LOG_JSON=log_json,
    )
    stream = io.StringIO()
    original, sys.stderr = sys.stderr, stream
    try:
        setup_logging(settings)
    finally:
        sys.stderr = original
    # Records of other libraries pass through the same handler.
    logging.getLogger("telegram.ext.ExtBot").debug("endpoint with %s", {"secret_token": SECRET})
    logging.getLogger("openai.fake").warning("key %s rejected", API_KEY)
    logging.getLogger("bot.telegram.handlers").error(
        "error while handling", exc_info=_raised(TOKEN), extra={"chat": f"bot{TOKEN}"}
    )
    out = stream.getvalue()
    assert_no_secret(out)
    assert out.count(REDACTED) >= 3
    if log_json:
        records = [json.loads(line) for line in out.splitlines()]
        assert [r["level"] for r in records] == ["DEBUG", "WARNING", "ERROR"]
        assert "Traceback" in records[-1]["exception"]


# --- a real process: secrets never in stderr -------------------------------------------------


def _serving(port: int, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as http:
        while time.monotonic() < deadline:
            assert process.poll() is None, f"g21bot exited with {process.returncode}"
            try:
                if http.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)  # not listening yet: probe again (a health-check loop)
    raise AssertionError("g21bot did not serve /healthz in time")


def _invalid_http_request(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"NOT HTTP \x00\x01\r\n\r\n")
        return sock.recv(4096)


@pytest.mark.parametrize("log_json", [False, True], ids=["plain", "json"])
def test_secrets_never_reach_the_logs_of_a_running_bot(
    data_dir: Path, tmp_path: Path, log_json: bool
) -> None:
    """`g21bot run --webhook` at DEBUG with an LLM: a cited answer, an LLM failure, a Bot API
    error handled by the error handler, a refused and a malformed webhook post and an invalid
    HTTP request; none of the token, the webhook secret or the API key is in stderr."""
    port = free_port()
    with BotApiStandIn(token=TOKEN) as api, OpenAIStandIn() as llm:
        llm.script(structured(GOOD_P8), error(500))
        env = settings_free_env(
            drop={"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"},
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_BASE_URL=api.base_url,
            G21_WEBHOOK_URL=WEBHOOK_URL,
            G21_WEBHOOK_SECRET=SECRET,
            G21_LLM_MODEL="openai:stand-in",
            OPENAI_BASE_URL=llm.base_url,
            OPENAI_API_KEY=API_KEY,
            G21_LLM_RETRIES="0",
            G21_LLM_COOLDOWN="0",
            G21_LISTEN="127.0.0.1",
            G21_PORT=str(port),
            G21_DATA_DIR=str(data_dir),
            G21_LOG_LEVEL="DEBUG",
            G21_LOG_JSON=str(log_json).lower(),
        )
        stderr_path = tmp_path / "g21bot.stderr"
        with child_process(
            [str(Path(sys.executable).with_name("g21bot")), "run", "--webhook"],
            env=env,
            cwd=tmp_path,
            stderr_path=stderr_path,
        ) as process:
            api.wait_for_request("setWebhook", timeout=60)
            _serving(port, process)
            hook = f"http://127.0.0.1:{port}{HOOK_PATH}"
            auth = {SECRET_HEADER: SECRET}
            with httpx.Client(timeout=30.0) as http:

                def ask(user: int, question: str) -> None:
                    update = api.private_text(user, question)
                    assert http.post(hook, json=update, headers=auth).status_code == 200
                    api.wait_for(lambda: api.sent_messages(user), timeout=30)

                # One user each: no history, so no condensing call to the model.
                ask(42, PRIORITY_Q)  # the LLM's cited answer
                ask(43, MIDDLE_EAST)  # the LLM fails: the extractive answer
                api.fail_next("sendMessage", "400", description="Bad Request: chat not found")
                ask(44, "第3段")  # the error handler apologises
                refused = http.post(hook, json=api.private_text(42, "hi"), headers={})
                assert refused.status_code == 403
                assert http.post(hook, content=b"{", headers=auth).status_code == 400
            assert b"400 Bad Request" in _invalid_http_request(port)
            returncode = terminate(process, timeout=60)
        log = stderr_path.read_text(errors="replace")
        assert returncode == 0, log[-3000:]
        assert "[¶8]" in api.sent_messages(42)[0]
        assert "[¶10]" in api.sent_messages(43)[0]
        assert api.sent_messages(44) == [message("en", "error")]
        assert [r.authorization for r in llm.chat_requests] == [f"Bearer {API_KEY}"] * 2
        assert api.violations == []

    assert_no_secret(log)
    assert REDACTED in log  # the secrets did reach the loggers (DEBUG), and were scrubbed
    assert "error while handling" in log and "Traceback" in log
    assert "LLM answer failed" in log and "Invalid HTTP request received" in log
    if log_json:
        records = []
        for line in log.splitlines():
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    raise AssertionError(f"not a JSON line: {line[:300]}") from None
        assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
        (handled,) = [r for r in records if r["message"].startswith("error while handling")]
        assert handled["level"] == "ERROR" and "Traceback" in handled["exception"]
        assert any(r["logger"].startswith("uvicorn") for r in records)


# --- /metrics through the real bot ------------------------------------------------------------


def metric_values(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def delta(
    before: dict[tuple[str, frozenset[tuple[str, str]]], float],
    after: dict[tuple[str, frozenset[tuple[str, str]]], float],
    name: str,
    **labels: str,
) -> float:
    """Increase of the samples called ``name`` whose labels include ``labels``."""

    def total(values: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> float:
        return sum(v for (n, ls), v in values.items() if n == name and set(labels.items()) <= ls)

    return total(after) - total(before)


@contextlib.asynccontextmanager
async def webhook_client(bot: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The bot's ASGI app (webhook, probes, metrics) in process."""
    transport = httpx.ASGITransport(app=create_app(bot.settings, bot.app))
    async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as http:
        yield http


async def test_metrics_show_every_series_after_real_questions(
    start_bot: StartBot, api: BotApiStandIn, llm: OpenAIStandIn, allow_errors: None
) -> None:
    llm.script(structured(GOOD_P8), error(500))
    bot = await start_bot(
        webhook=True,
        G21_WEBHOOK_URL=WEBHOOK_URL,
        G21_WEBHOOK_SECRET=SECRET,
        G21_LLM_MODEL="openai:stand-in",
        OPENAI_BASE_URL=llm.base_url,
        OPENAI_API_KEY="sk-test",
        G21_LLM_RETRIES=0,
        G21_LLM_COOLDOWN=0,
        G21_RATE_LIMIT_PER_MINUTE=1,
    )
    async with webhook_client(bot) as http:
        before = metric_values((await http.get("/metrics")).text)

        async def ask(update: dict[str, Any], http: httpx.AsyncClient = http) -> None:
            posted = await http.post(HOOK_PATH, json=update, headers={SECRET_HEADER: SECRET})
            assert posted.status_code == 200
            await bot.handled(update)

        await ask(api.private_text(41, PRIORITY_Q))  # llm, answered
        await ask(api.private_text(42, MIDDLE_EAST))  # llm fails → extractive, llm_errors
        await ask(api.private_text(43, OUT_OF_SCOPE_ZH, language_code="zh"))  # abstained
        await ask(api.private_text(44, "第3段"))  # a paragraph reference
        await ask(api.private_text(44, "第4段"))  # the second within a minute: rate limited
        api.fail_next("sendMessage", "400", description="Bad Request: chat not found")
        await ask(api.private_text(45, "第5段"))  # a Bot API error reaches the error handler

        response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = metric_values(response.text)

    def q(**labels: str) -> float:
        return delta(before, after, "questions_total", **labels)

    assert q(lang="en", mode="llm", outcome="answered") == 1
    assert q(lang="en", mode="extractive") == 1
    assert q(lang="zh", mode="abstain", outcome="abstained") == 1
    assert q(mode="reference") == 2  # 第3段 and 第5段 (answered before its message failed)
    assert q() == 5
    assert delta(before, after, "answer_latency_seconds_count") == 5
    assert delta(before, after, "answer_latency_seconds_bucket", le="+Inf") == 5
    assert delta(before, after, "retrieval_latency_seconds_count") == 5
    assert delta(before, after, "llm_errors_total") == 1
    assert delta(before, after, "abstentions_total") == 1
    assert delta(before, after, "rate_limited_total") == 1
    assert delta(before, after, "telegram_api_errors_total", method="sendMessage", code="400") == 1
    for series in (
        "questions_total",
        "answer_latency_seconds",
        "retrieval_latency_seconds",
        "llm_errors_total",
        "telegram_api_errors_total",
        "abstentions_total",
        "rate_limited_total",
    ):
        assert f"# TYPE {series} " in response.text, series
    assert texts(api, 44)[-1] == message("zh", "slow_down")
    assert texts(api, 45) == [message("en", "error")]


# --- /readyz follows a Chroma server ---------------------------------------------------------


async def test_readyz_follows_a_chroma_server_going_away_and_coming_back(
    start_bot: StartBot,
    api: BotApiStandIn,
    chroma_server_factory: Callable[[], ChromaServer],
) -> None:
    server = chroma_server_factory()
    bot = await start_bot(
        webhook=True,
        G21_WEBHOOK_URL=WEBHOOK_URL,
        G21_WEBHOOK_SECRET=SECRET,
        CHROMA_HOST=server.host,
        CHROMA_PORT=server.port,
    )
    async with webhook_client(bot) as http:

        async def ask(user: int, http: httpx.AsyncClient = http) -> str:
            update = api.private_text(user, MIDDLE_EAST)
            headers = {SECRET_HEADER: SECRET}
            assert (await http.post(HOOK_PATH, json=update, headers=headers)).status_code == 200
            await bot.handled(update)
            return texts(api, user)[-1]

        ready = await http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["paragraphs"] == 15
        before = metric_values((await http.get("/metrics")).text)

        server.stop()
        # The bot still answers (from the lexical index): ready, with the degraded part named.
        down = await http.get("/readyz")
        assert down.status_code == 200 and down.json()["status"] == "degraded"
        assert down.json()["degraded"] == ["vector_store"]
        assert (await http.get("/healthz")).status_code == 200
        assert "[¶10]" in await ask(50)  # answered from the lexical index meanwhile

        # Same port and data folder; the session's factory stops it at the end.
        server.restart()
        assert (await http.get("/readyz")).json()["status"] == "ready"
        assert "[¶10]" in await ask(51)
        after = metric_values((await http.get("/metrics")).text)
    assert delta(before, after, "questions_total", outcome="degraded") == 1
    assert delta(before, after, "questions_total", outcome="answered") == 1
