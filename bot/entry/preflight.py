"""Start-up checks: a configuration that cannot work fails at once, with one clear line."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from bot.ops.settings import Settings
from retrieval.embeddings import make_embeddings
from retrieval.errors import RetrievalError
from retrieval.store import open_client

TOKEN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{5,}$")


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
        try:
            client = open_client(settings.data_dir, settings.chroma_host, settings.chroma_port)
            client.heartbeat()
        except Exception as exc:
            raise ConfigError(
                f"CHROMA_HOST={settings.chroma_host}:{settings.chroma_port} is unreachable"
            ) from exc
    else:
        writable(settings.data_dir)
    if bot and settings.chroma_host:
        # Bot persistence lives in the data dir even when vectors live in a server.
        writable(settings.data_dir)
