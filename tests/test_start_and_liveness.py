"""`g21bot run` as an operator meets it: a token Telegram rejects at start, placeholder
secrets, an update loop that dies while the process lives on. Real processes against the Bot
API stand-in; no output ever holds the token."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import yaml

from bot.ops.logs import REDACTED, Redactor, install_excepthooks
from tests.bot_harness import (
    USER,
    fixture_data_dir,  # noqa: F401  (a fixture)
    fixture_ingested_dir,  # noqa: F401  (a fixture)
    free_port,
)
from tests.fakes.telegram import BotApiStandIn
from tests.process_support import child_process, settings_free_env

if TYPE_CHECKING:
    from conftest import CliResult

TOKEN = "8123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw_"
SECRET_HALF = TOKEN.split(":")[1]
ROOT = Path(__file__).resolve().parents[1]
START_BOUND = 90.0  # the process reaches its first Bot API call well within this


def run_to_exit(env: dict[str, str], cwd: Path) -> tuple[int, str]:
    g21bot = Path(sys.executable).with_name("g21bot")
    stderr_path = cwd / "g21bot.stderr"
    with child_process([str(g21bot), "run"], env=env, cwd=cwd, stderr_path=stderr_path) as p:
        code = p.wait(timeout=START_BOUND)
    return code, stderr_path.read_text(errors="replace")


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("{api}/bot", "Telegram rejected the token (HTTP 401): check TELEGRAM_BOT_TOKEN"),
        (
            "{api}/",
            "Telegram rejected the token (HTTP 404): check TELEGRAM_BOT_TOKEN "
            "(and that TELEGRAM_BASE_URL ends in /bot)",
        ),
    ],
    ids=["revoked-token-401", "base-url-without-bot-404"],
)
def test_rejected_token_at_start_is_one_line_and_never_printed(
    data_dir: Path, tmp_path: Path, base: str, expected: str
) -> None:
    """Regression: PTB's InvalidToken ("The token `…` was rejected by the server.") went out
    in a traceback on stderr, outside the redactor."""
    with BotApiStandIn(token="123456:another-token") as api:
        env = settings_free_env(
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_BASE_URL=base.format(api=f"http://127.0.0.1:{api.port}"),
            G21_DATA_DIR=str(data_dir),
            G21_PORT="0",
            G21_LOG_LEVEL="DEBUG",  # the most a log could leak
        )
        code, err = run_to_exit(env, tmp_path)
    assert code != 0
    assert SECRET_HALF not in err and TOKEN not in err, err[-2000:]
    lines = [line for line in err.splitlines() if line.startswith("g21bot: ")]
    assert lines == [f"g21bot: {expected}"], err[-2000:]
    assert "Traceback" not in err and " ERROR " not in err, err[-2000:]


def test_any_other_failure_at_start_is_redacted(data_dir: Path, tmp_path: Path) -> None:
    """A base URL without its slash glues the token to the port: aiohttp's error quotes the
    whole URL. The traceback is kept for the operator, without the token."""
    port = free_port()
    env = settings_free_env(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_BASE_URL=f"http://127.0.0.1:{port}",
        G21_DATA_DIR=str(data_dir),
        G21_PORT="0",
    )
    code, err = run_to_exit(env, tmp_path)
    assert code != 0
    assert SECRET_HALF not in err and REDACTED in err, err[-2000:]
    assert err.splitlines()[-1].startswith("g21bot: NetworkError: "), err[-2000:]


def test_uncaught_exceptions_in_threads_are_redacted(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    install_excepthooks(Redactor([TOKEN]))

    def leak() -> None:
        raise RuntimeError(f"GET https://api.telegram.org/bot{TOKEN}/getMe failed")

    worker = threading.Thread(target=leak, name="leaky")
    worker.start()
    worker.join()
    try:
        raise ValueError(f"token {TOKEN}")
    except ValueError:
        sys.excepthook(*sys.exc_info())
    err = capsys.readouterr().err
    assert "Exception in leaky" in err and "ValueError" in err
    assert SECRET_HALF not in err and err.count(REDACTED) == 2


# --- placeholders ------------------------------------------------------------------------------


def example_secrets() -> dict[str, str]:
    """The values deploy/k8s/secret.example.yaml ships (placeholders by design)."""
    path = ROOT / "deploy" / "k8s" / "secret.example.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {k: str(v) for k, v in (document.get("stringData") or {}).items() if v}


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TELEGRAM_BOT_TOKEN", "REPLACE_ME"),
        ("TELEGRAM_BOT_TOKEN", "123456789:REPLACE_ME"),
        ("TELEGRAM_BOT_TOKEN", "123456:changeme"),
        ("TELEGRAM_BOT_TOKEN", "123456:xxxxxx"),
        ("TELEGRAM_BOT_TOKEN", "<token>"),
        ("G21_WEBHOOK_SECRET", "changeme"),
        ("G21_WEBHOOK_SECRET", "REPLACE_ME"),
        ("CHROMA_AUTH_TOKEN", "xxx"),
        *example_secrets().items(),
    ],
)
def test_placeholder_secrets_are_refused(
    run_cli: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
    closed_port: int,
    variable: str,
    value: str,
) -> None:
    """Regression: the placeholder token of secret.example.yaml passed the preflight."""
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("G21_WEBHOOK_URL", "https://bot.example.test/hook")
    monkeypatch.setenv("G21_WEBHOOK_SECRET", "webhook-Secret_0123456789")
    monkeypatch.setenv("CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("CHROMA_PORT", str(closed_port))
    monkeypatch.setenv("G21_LLM_MODEL", "openai:gpt-4o-mini")
    monkeypatch.setenv(variable, value)
    result = run_cli("run", "--webhook")
    assert result.code == 2, result
    # A fixed line: the value itself is never repeated.
    assert result.err.splitlines() == [
        f"g21bot: {variable} is still a placeholder from an example (REPLACE_ME, changeme, "
        "xxx, <token> …): set the real value"
    ]


# --- liveness -----------------------------------------------------------------------------------


def _get(port: int, path: str) -> httpx.Response | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2.0)
    except httpx.TransportError:
        return None


def _until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)  # a probe's period, as a supervisor polls
    return False


def test_healthz_fails_once_the_update_loop_has_died(data_dir: Path, tmp_path: Path) -> None:
    """Regression: /healthz stayed 200 after polling gave up (here: the token was revoked
    while the bot ran, so getUpdates gets 401 and PTB ends its polling loop)."""
    port = free_port()
    with BotApiStandIn(token=TOKEN) as api:
        env = settings_free_env(
            TELEGRAM_BOT_TOKEN=api.token,
            TELEGRAM_BASE_URL=api.base_url,
            G21_LISTEN="127.0.0.1",
            G21_PORT=str(port),
            G21_DATA_DIR=str(data_dir),
        )
        g21bot = Path(sys.executable).with_name("g21bot")
        stderr_path = tmp_path / "g21bot.stderr"
        with child_process(
            [str(g21bot), "run"], env=env, cwd=tmp_path, stderr_path=stderr_path
        ) as process:

            def healthy() -> bool:
                response = _get(port, "/healthz")
                return response is not None and response.status_code == 200

            assert _until(healthy, START_BOUND), stderr_path.read_text()[-2000:]
            api.private_text(USER, "paragraph 3")
            api.wait_for(lambda: api.sent_messages(USER), timeout=30)

            api.token = "123456:revoked"  # Telegram now answers 401 to every call
            assert _until(lambda: not healthy(), 30.0), stderr_path.read_text()[-2000:]
            response = _get(port, "/healthz")
            assert response is not None and response.status_code == 503
            assert response.json() == {"status": "failing", "reason": "the update loop stopped"}
            assert process.poll() is None  # the supervisor restarts it, on this signal
    log = stderr_path.read_text(errors="replace")
    assert SECRET_HALF not in log
    assert "Invalid token" in log  # PTB's own account of why it stopped polling
