"""Start-up checks: a configuration that cannot work fails at once, with one clear line."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from bot.ops.settings import Settings
from retrieval.embeddings import make_embeddings
from retrieval.errors import RetrievalError, StoreTimeoutError
from retrieval.store import open_client

TOKEN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{5,}$")
# Values copied from an example and never filled in: the whole value (or a token's secret
# half) is a placeholder word, or it says to replace it. Random secrets never match.
_PLACEHOLDER_WORD = re.compile(
    r"(?i)^(?:x{3,}|\*{3,}|\.{3}|changeme|change[-_ ]?me|replace[-_ ]?me|placeholder|secret|"
    r"password|token|todo|tbd|none|null|dummy|example|your[-_ ]?\w*|<[^>]*>|\$\{[^}]*\})$"
)
_PLACEHOLDER_TEXT = re.compile(r"(?i)replace[-_ ]?(?:me|with)|change[-_ ]?me|your[-_]|[<>]")


def is_placeholder(value: str) -> bool:
    """True for an example value nobody replaced (REPLACE_ME, changeme, xxx, <token> …)."""
    parts = {value.strip(), value.partition(":")[2].strip()} - {""}
    return any(_PLACEHOLDER_WORD.match(p) or _PLACEHOLDER_TEXT.search(p) for p in parts)


def _no_placeholders(settings: Settings, bot: bool, webhook: bool) -> None:
    checks = [
        ("TELEGRAM_BOT_TOKEN", settings.telegram_bot_token, bot),
        ("G21_WEBHOOK_SECRET", settings.webhook_secret, webhook),
        ("CHROMA_AUTH_TOKEN", settings.chroma_auth_token, bool(settings.chroma_host)),
        ("OPENAI_API_KEY", settings.openai_api_key, bool(settings.llm_model)),
    ]
    for name, secret, needed in checks:
        value = secret.get_secret_value()
        if needed and value and is_placeholder(value):
            raise ConfigError(
                f"{name} is still a placeholder from an example (REPLACE_ME, changeme, xxx, "
                "<token> …): set the real value"
            )


class ConfigError(ValueError):
    """A setting that cannot work; the message names the variable."""


def writable(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-") as probe:
            # A full disk still lets an empty file be made: write (and sync) a block too.
            probe.write(b"\0" * 4096)
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        raise ConfigError(f"G21_DATA_DIR={path} is not writable: {exc.strerror}") from exc


def check(settings: Settings, bot: bool = False, webhook: bool = False) -> None:
    """Raise ConfigError for the first setting that cannot work (secrets never quoted)."""
    _no_placeholders(settings, bot, webhook)
    token = settings.telegram_bot_token.get_secret_value()
    if bot and not TOKEN.match(token):
        raise ConfigError(
            "TELEGRAM_BOT_TOKEN is malformed (expected '<digits>:<letters>' from @BotFather)"
        )
    if not settings.telegram_base_url.startswith(("https://", "http://")):
        raise ConfigError("TELEGRAM_BASE_URL must be an http(s) URL")
    if webhook:
        if not settings.webhook_url.startswith("https://"):
            raise ConfigError("G21_WEBHOOK_URL must be an https:// URL for webhook mode")
        if len(settings.webhook_secret.get_secret_value()) < 8:
            raise ConfigError(
                "G21_WEBHOOK_SECRET must be set (at least 8 characters) for webhook mode"
            )
        if not re.fullmatch(r"[A-Za-z0-9_-]{8,256}", settings.webhook_secret.get_secret_value()):
            raise ConfigError(
                "G21_WEBHOOK_SECRET may only hold A-Z, a-z, 0-9, _ and - (Telegram's rule)"
            )
    try:
        make_embeddings(settings.embeddings)
    except RetrievalError as exc:
        raise ConfigError(f"G21_EMBEDDINGS: {exc}") from exc
    if settings.llm_model:
        provider = settings.llm_model.partition(":")[0]
        if ":" not in settings.llm_model or not provider:
            raise ConfigError("G21_LLM_MODEL must be 'provider:model', e.g. 'openai:gpt-4o-mini'")
        from bot.answering.llm import chat_model

        try:
            chat_model(settings)
        except Exception as exc:  # unknown provider, missing package, missing key …
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"G21_LLM_MODEL={settings.llm_model}: {first}") from exc
    if settings.chroma_host:
        where = f"CHROMA_HOST={settings.chroma_host}:{settings.chroma_port}"
        try:
            client = open_client(
                settings.data_dir,
                settings.chroma_host,
                settings.chroma_port,
                auth_token=settings.chroma_auth_token.get_secret_value(),
                timeout=settings.chroma_timeout,
            )
            client.heartbeat()
        except StoreTimeoutError as exc:
            raise ConfigError(
                f"{where} accepts connections but does not answer within "
                f"{settings.chroma_timeout:g} s (G21_CHROMA_TIMEOUT): is it hung?"
            ) from exc
        except Exception as exc:
            raise ConfigError(f"{where} is unreachable") from exc
    else:
        writable(settings.data_dir)
    if bot and settings.chroma_host:
        # Bot persistence lives in the data dir even when vectors live in a server.
        writable(settings.data_dir)
