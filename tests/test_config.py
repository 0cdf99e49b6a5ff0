"""Configuration of the hosted service: a setting that cannot work stops `g21bot run` with
exit code 2 and one line naming the variable (never the token or a secret); `.env.example`
is generated from the settings and lists every one; `.env` in the working directory is read."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dotenv import dotenv_values

from bot.ops.settings import Settings, env_example
from tests.answer_support import cited_reply
from tests.conftest import CliResult
from tests.fakes.openai import OpenAIStandIn, structured

ROOT = Path(__file__).resolve().parents[1]
ENV_EXAMPLE = ROOT / ".env.example"

# Shaped like a real BotFather token (digits, colon, 35 characters).
TOKEN = "8123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw_"
TOKEN_SECRET_PART = TOKEN.split(":", 1)[1]
SECRET = "webhook-Secret_0123456789abcdef"
API_KEY = "sk-proj-Qw3rTy8uIoP4aSdF6gHjK2lZxCvBnM0"
HOOK = "https://bot.example.test/telegram/webhook"

# The names DESIGN.md fixes ("operators and checks rely on them").
FIXED_NAMES = [
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_BASE_URL",
    "G21_DATA_DIR",
    "CHROMA_HOST",
    "CHROMA_PORT",
    "G21_EMBEDDINGS",
    "G21_LLM_MODEL",
    "OPENAI_BASE_URL",
    "OPENAI_API_KEY",
    "G21_WEBHOOK_URL",
    "G21_WEBHOOK_SECRET",
    "G21_LISTEN",
    "G21_PORT",
    "G21_ADMIN_IDS",
    "G21_ALLOWED_IDS",
    "G21_RATE_LIMIT_PER_MINUTE",
]


def aliases() -> list[str]:
    return [str(info.alias) for info in Settings.model_fields.values() if info.alias]


# --- the configuration-error table ----------------------------------------------------------

# (id, environment, `run` arguments, the variable the line must name). ``{tmp}`` is the
# test's temporary folder, ``{closed}`` a loopback port nothing listens on.
CASES: list[tuple[str, dict[str, str], list[str], str]] = [
    ("malformed-token", {"TELEGRAM_BOT_TOKEN": "not-a-bot-token"}, [], "TELEGRAM_BOT_TOKEN"),
    (
        "token-without-digits",
        {"TELEGRAM_BOT_TOKEN": "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw_"},
        [],
        "TELEGRAM_BOT_TOKEN",
    ),
    ("unknown-embeddings", {"G21_EMBEDDINGS": "nosuch:model"}, [], "G21_EMBEDDINGS"),
    ("unknown-llm-provider", {"G21_LLM_MODEL": "nosuchprovider:model"}, [], "G21_LLM_MODEL"),
    ("llm-without-provider", {"G21_LLM_MODEL": "gpt-4o-mini"}, [], "G21_LLM_MODEL"),
    ("openai-without-key", {"G21_LLM_MODEL": "openai:gpt-4o-mini"}, [], "OPENAI_API_KEY"),
    (
        "unreachable-chroma",
        {"CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": "{closed}"},
        [],
        "CHROMA_HOST",
    ),
    # Tests run as root, where a chmod'ed folder stays writable: a folder under a regular
    # file, or under /proc, cannot be made by anyone.
    ("data-dir-under-a-file", {"G21_DATA_DIR": "{tmp}/a-file/data"}, [], "G21_DATA_DIR"),
    ("data-dir-in-proc", {"G21_DATA_DIR": "/proc/g21bot-data"}, [], "G21_DATA_DIR"),
    (
        "server-data-dir-under-a-file",
        {
            "CHROMA_HOST": "127.0.0.1",
            "CHROMA_PORT": "{chroma}",
            "G21_DATA_DIR": "{tmp}/a-file/data",
        },
        [],
        "G21_DATA_DIR",
    ),
    ("invalid-port", {"G21_PORT": "eighty"}, [], "G21_PORT"),
    ("invalid-admin-ids", {"G21_ADMIN_IDS": "900,alice"}, [], "G21_ADMIN_IDS"),
    ("bad-base-url", {"TELEGRAM_BASE_URL": "api.telegram.org/bot"}, [], "TELEGRAM_BASE_URL"),
    (
        "webhook-url-not-https",
        {"G21_WEBHOOK_URL": "http://bot.example.test/telegram/webhook"},
        ["--webhook"],
        "G21_WEBHOOK_URL",
    ),
    ("webhook-url-missing", {"G21_WEBHOOK_URL": ""}, ["--webhook"], "G21_WEBHOOK_URL"),
    ("webhook-without-secret", {"G21_WEBHOOK_SECRET": ""}, ["--webhook"], "G21_WEBHOOK_SECRET"),
    ("webhook-short-secret", {"G21_WEBHOOK_SECRET": "Qz9_k7"}, ["--webhook"], "G21_WEBHOOK_SECRET"),
    (
        "webhook-secret-bad-characters",
        {"G21_WEBHOOK_SECRET": "Qz9 k7&Wm!secret"},
        ["--webhook"],
        "G21_WEBHOOK_SECRET",
    ),
]

# Valid values every case starts from (a case replaces some of them).
BASE_ENV = {
    "TELEGRAM_BOT_TOKEN": TOKEN,
    "G21_WEBHOOK_URL": HOOK,
    "G21_WEBHOOK_SECRET": SECRET,
}


def _case_env(env: dict[str, str], tmp: Path, closed: int, chroma: int) -> dict[str, str]:
    values = {**BASE_ENV, **env}
    return {
        k: v.format(tmp=tmp, closed=closed, chroma=chroma) for k, v in values.items() if v != ""
    }


def assert_one_clear_line(result: CliResult, variable: str, secrets: list[str]) -> None:
    assert result.code == 2, result
    assert result.out == ""
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, result.err
    (line,) = lines
    assert line.startswith("g21bot: ")
    assert variable in line, line
    assert "Traceback" not in line
    for secret in secrets:
        assert secret not in result.err, f"{secret!r} echoed: {line}"
    assert TOKEN_SECRET_PART not in result.err


@pytest.fixture
def no_openai_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No OpenAI variables outside the settings (LangChain's client reads them itself)."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE", "OPENAI_ADMIN_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def chroma_port(request: pytest.FixtureRequest) -> Callable[[], int]:
    """The port of the session's real Chroma server, started only for cases that use it."""

    def port() -> int:
        return int(request.getfixturevalue("chroma_server").port)

    return port


@pytest.mark.parametrize(
    ("env", "args", "variable"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_configuration_error_stops_run_with_one_line(
    run_cli: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    closed_port: int,
    chroma_port: Callable[[], int],
    no_openai_env: None,
    env: dict[str, str],
    args: list[str],
    variable: str,
) -> None:
    (tmp_path / "a-file").write_text("a regular file, not a folder\n")
    chroma = chroma_port() if any("{chroma}" in v for v in env.values()) else 0
    values = _case_env(env, tmp_path, closed_port, chroma)
    for name, value in values.items():
        monkeypatch.setenv(name, value)

    result = run_cli("run", *args)

    secrets = [TOKEN, SECRET, *(v for k, v in env.items() if "SECRET" in k or "TOKEN" in k)]
    assert_one_clear_line(result, variable, [s for s in secrets if len(s) >= 6])
    assert not (tmp_path / "data" / "telegram.pickle").exists()
    assert not (tmp_path / "data" / "state.sqlite3").exists()


def test_a_valid_configuration_passes_the_checks(
    g21_env: Path, monkeypatch: pytest.MonkeyPatch, no_openai_env: None
) -> None:
    """The table's base values are valid: each case fails because of its own change."""
    from bot.entry.preflight import check

    for name, value in BASE_ENV.items():
        if value:
            monkeypatch.setenv(name, value)
    check(Settings(), bot=True, webhook=True)
    assert g21_env.is_dir()


def test_openai_model_with_a_key_passes_the_checks(
    g21_env: Path, monkeypatch: pytest.MonkeyPatch, no_openai_env: None
) -> None:
    from bot.entry.preflight import check

    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("G21_LLM_MODEL", "openai:gpt-4o-mini")
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    check(Settings(), bot=True)


def _clean_env(**values: str) -> dict[str, str]:
    names = set(aliases()) | {"OPENAI_API_BASE", "OPENAI_ADMIN_KEY", "PYTHONPATH"}
    env = {k: v for k, v in os.environ.items() if k not in names}
    env["ANONYMIZED_TELEMETRY"] = "False"
    env.update(values)
    return env


@pytest.mark.parametrize(
    ("env", "args", "variable"),
    [
        ({"TELEGRAM_BOT_TOKEN": "12:x"}, [], "TELEGRAM_BOT_TOKEN"),
        ({"CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": "{closed}"}, [], "CHROMA_HOST"),
        ({"G21_WEBHOOK_SECRET": "short"}, ["--webhook"], "G21_WEBHOOK_SECRET"),
    ],
    ids=["malformed-token", "unreachable-chroma", "short-secret"],
)
def test_configuration_error_in_a_real_process(
    tmp_path: Path, closed_port: int, env: dict[str, str], args: list[str], variable: str
) -> None:
    """The whole process prints one line: no import-time chatter, no traceback."""
    values = _case_env(env, tmp_path, closed_port, 0)
    values["G21_DATA_DIR"] = str(tmp_path / "data")
    g21bot = Path(sys.executable).with_name("g21bot")
    done = subprocess.run(
        [str(g21bot), "run", *args],
        cwd=tmp_path,
        env=_clean_env(**values),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert_one_clear_line(
        CliResult(done.returncode, done.stdout, done.stderr), variable, [TOKEN, SECRET]
    )


# --- .env.example ---------------------------------------------------------------------------


def test_env_example_is_generated_from_the_settings() -> None:
    assert ENV_EXAMPLE.read_text(encoding="utf-8") == env_example(), (
        "regenerate with `python3 dev.py env`"
    )


def test_env_example_lists_every_setting_with_its_default_and_a_comment() -> None:
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    assignments = {
        line.split("=", 1)[0]: (i, line.split("=", 1)[1])
        for i, line in enumerate(lines)
        if line and not line.startswith("#")
    }
    assert sorted(assignments) == sorted(aliases())
    assert set(FIXED_NAMES) <= set(assignments)
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    for name, info in Settings.model_fields.items():
        index, value = assignments[str(info.alias)]
        comment = lines[index - 1]
        assert comment.startswith("# ") and len(comment) > 6, f"{info.alias} has no comment"
        assert info.description and info.description in comment
        # The written value reads back as the default.
        written = Settings(_env_file=None, **{str(info.alias): value})  # type: ignore[call-arg]
        assert getattr(written, name) == getattr(defaults, name), f"{info.alias}={value}"


def test_copying_env_example_to_env_gives_the_defaults(
    g21_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("G21_DATA_DIR")
    (Path.cwd() / ".env").write_text(ENV_EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    parsed = dotenv_values(Path.cwd() / ".env")
    assert sorted(parsed) == sorted(aliases())
    from_file = Settings()
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    for name in Settings.model_fields:
        assert getattr(from_file, name) == getattr(defaults, name), name


def test_every_setting_documented_in_the_readmes_exists() -> None:
    """Names the operator guide and the README mention are real settings (or G21_MODE,
    which the container's command reads)."""
    import re

    known = set(aliases()) | {"G21_MODE"}
    for doc in (ROOT / "README.md", ROOT / "deploy" / "README.md"):
        mentioned = set(re.findall(r"`((?:G21|TELEGRAM|CHROMA|OPENAI)_[A-Z_]+)", doc.read_text()))
        assert mentioned, doc
        assert mentioned <= known, f"{doc.name}: {sorted(mentioned - known)}"


# --- .env in the working directory ----------------------------------------------------------


def test_settings_are_read_from_env_file_in_the_working_directory(
    g21_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (Path.cwd() / ".env").write_text(
        "# a comment\n"
        "G21_RATE_LIMIT_PER_MINUTE=7\n"
        "G21_ADMIN_IDS=900, 901\n"
        "G21_PORT=9099\n"
        f"TELEGRAM_BOT_TOKEN={TOKEN}\n"
        'G21_LOG_LEVEL="DEBUG"\n'
        "UNRELATED_VARIABLE=ignored\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("G21_PORT", "9100")  # the environment wins over the file
    settings = Settings()
    assert settings.rate_limit_per_minute == 7
    assert settings.admin_ids == [900, 901]
    assert settings.port == 9100
    assert settings.log_level == "DEBUG"
    assert settings.telegram_bot_token.get_secret_value() == TOKEN
    assert TOKEN not in repr(settings) and TOKEN not in str(settings.model_dump())
    assert settings.secrets() == [TOKEN, TOKEN.partition(":")[2]]


def test_openai_settings_from_env_file_reach_the_model(
    run_cli: Callable[..., CliResult], llm: OpenAIStandIn, no_openai_env: None
) -> None:
    """OPENAI_BASE_URL and OPENAI_API_KEY only in `.env` (not in the environment, where the
    OpenAI client would look): the model is still called there, with that key."""
    quote = "Nuclear disarmament is the highest priority of the Conference on Disarmament"
    llm.script(structured(cited_reply(f"{quote} [¶8].", (8, quote))))
    (Path.cwd() / ".env").write_text(
        "G21_LLM_MODEL=openai:stand-in-model\n"
        f"OPENAI_BASE_URL={llm.base_url}\n"
        f"OPENAI_API_KEY={API_KEY}\n"
        "G21_LLM_RETRIES=0\n",
        encoding="utf-8",
    )
    assert "OPENAI_BASE_URL" not in os.environ and "OPENAI_API_KEY" not in os.environ

    result = run_cli("ask", "What is the Conference on Disarmament's top priority?", "--json")

    assert result.code == 0, result.err
    answer: dict[str, Any] = result.json()
    assert answer["mode"] == "llm" and answer["cited"] == [8]
    (request,) = llm.chat_requests
    assert request.model == "stand-in-model"
    assert request.authorization == f"Bearer {API_KEY}"
    assert API_KEY not in result.out + result.err
