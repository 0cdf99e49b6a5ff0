"""Every setting in one typed object, read from the environment and `.env`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

IdList = Annotated[list[int], NoDecode]


class Settings(BaseSettings):
    """g21bot configuration; each field's alias is its environment variable."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    telegram_bot_token: SecretStr = Field(
        SecretStr(""),
        alias="TELEGRAM_BOT_TOKEN",
        description="Bot token from @BotFather; empty: `g21bot run` explains and offers `chat`.",
    )
    telegram_base_url: str = Field(
        "https://api.telegram.org/bot",
        alias="TELEGRAM_BASE_URL",
        description="Bot API base URL (a local Bot API server or a test stand-in).",
    )
    telegram_max_rate: float = Field(
        30,
        alias="G21_TELEGRAM_MAX_RATE",
        ge=0,
        description="Bot API requests per second over all chats (Telegram allows about 30); "
        "0: no limit, for a local Bot API server.",
    )
    telegram_retries: int = Field(
        3,
        alias="G21_TELEGRAM_RETRIES",
        ge=0,
        le=10,
        description="Resends of a Bot API call that got a 5xx answer or lost its connection "
        "before any answer (a late answer, a read timeout, is never resent).",
    )
    telegram_retry_backoff: float = Field(
        0.5,
        alias="G21_TELEGRAM_RETRY_BACKOFF",
        ge=0,
        le=60,
        description="Seconds before the first resend; doubled for each further one.",
    )
    typing_delay: float = Field(
        0.5,
        alias="G21_TYPING_DELAY",
        ge=0,
        le=10,
        description="Show 'typing…' only when an answer takes longer than this many seconds "
        "(0: always, at once); LLM answers always show it.",
    )
    data_dir: Path = Field(
        Path("data"),
        alias="G21_DATA_DIR",
        description="Embedded Chroma, bot persistence and caches live here.",
    )
    manifest: str = Field(
        "",
        alias="G21_MANIFEST",
        description="Corpus manifest (TOML); empty: the statement shipped with the package.",
    )
    chroma_host: str = Field(
        "", alias="CHROMA_HOST", description="Chroma server host; empty: embedded Chroma."
    )
    chroma_port: int = Field(8000, alias="CHROMA_PORT", description="Chroma server port.")
    collection: str = Field(
        "",
        alias="G21_COLLECTION",
        description="Chroma collection name; empty: derived from corpus and embeddings.",
    )
    embeddings: str = Field(
        "hashing",
        alias="G21_EMBEDDINGS",
        description="`hashing` (offline default), `hashing:DIM`, or `provider:model` "
        "(huggingface, openai, ollama).",
    )
    chunk_tokens: int = Field(
        512,
        alias="G21_CHUNK_TOKENS",
        ge=16,
        le=8192,
        description="Token budget per chunk (cl100k_base); longer paragraphs split at sentences.",
    )
    # The same default as retrieval.search.DEFAULT_MIN_COVERAGE (a test keeps them equal):
    # loading the configuration must not load the retrieval stack.
    min_coverage: float = Field(
        0.45,
        alias="G21_MIN_COVERAGE",
        ge=0.0,
        le=1.0,
        description="Share of a question's key terms the statement must contain, else abstain.",
    )
    llm_model: str = Field(
        "",
        alias="G21_LLM_MODEL",
        description="Empty: extractive answers. Else an init_chat_model string, "
        "e.g. `openai:gpt-4o-mini` (with OPENAI_BASE_URL / OPENAI_API_KEY).",
    )
    openai_base_url: str = Field(
        "",
        alias="OPENAI_BASE_URL",
        description="OpenAI-compatible endpoint for `openai:*` models; empty: OpenAI's own.",
    )
    openai_api_key: SecretStr = Field(
        SecretStr(""), alias="OPENAI_API_KEY", description="API key for `openai:*` models."
    )
    llm_timeout: float = Field(
        20.0,
        alias="G21_LLM_TIMEOUT",
        gt=0,
        description="Seconds an LLM call may take before the extractive answer is used.",
    )
    llm_retries: int = Field(
        1,
        alias="G21_LLM_RETRIES",
        ge=0,
        le=5,
        description="Retries of a failed LLM call (the client's own) before falling back.",
    )
    llm_cooldown: float = Field(
        15.0,
        alias="G21_LLM_COOLDOWN",
        ge=0,
        description="After an LLM failure, seconds of extractive answers for the user who asked "
        "(doubling while that user's failures repeat) before trying the LLM again for them.",
    )
    llm_outage_users: int = Field(
        3,
        alias="G21_LLM_OUTAGE_USERS",
        ge=1,
        description="LLM failures of this many different users within one cooldown pause the "
        "LLM for everyone (the endpoint is down); fewer pause only those users.",
    )
    llm_context_tokens: int = Field(
        8000,
        alias="G21_LLM_CONTEXT_TOKENS",
        ge=1000,
        description="Token window the prompt (rules, paragraphs, history, question) must fit in.",
    )
    history_turns: int = Field(
        4,
        alias="G21_HISTORY_TURNS",
        ge=0,
        le=50,
        description="Earlier question/answer turns kept per chat for follow-up questions.",
    )
    history_tokens: int = Field(
        800,
        alias="G21_HISTORY_TOKENS",
        ge=0,
        description="Token budget of the conversation history passed along.",
    )
    max_question_chars: int = Field(
        1000,
        alias="G21_MAX_QUESTION_CHARS",
        ge=20,
        description="Longer questions are refused with a polite note.",
    )
    webhook_url: str = Field(
        "",
        alias="G21_WEBHOOK_URL",
        description="Public HTTPS URL Telegram posts updates to (`run --webhook`).",
    )
    webhook_secret: SecretStr = Field(
        SecretStr(""),
        alias="G21_WEBHOOK_SECRET",
        description="Secret token Telegram sends with every webhook request.",
    )
    listen: str = Field(
        "127.0.0.1",
        alias="G21_LISTEN",
        description="Address of the local server (webhook, /healthz, /readyz, /metrics).",
    )
    port: int = Field(8080, alias="G21_PORT", description="Port of the local server.")
    admin_ids: IdList = Field(
        default_factory=list,
        alias="G21_ADMIN_IDS",
        description="Comma-separated Telegram user ids with /stats and /reindex.",
    )
    allowed_ids: IdList = Field(
        default_factory=list,
        alias="G21_ALLOWED_IDS",
        description="Comma-separated Telegram user/chat ids allowed to ask; empty: everyone.",
    )
    rate_limit_per_minute: int = Field(
        20,
        alias="G21_RATE_LIMIT_PER_MINUTE",
        ge=1,
        description="Questions per user per minute before a polite 'slow down'.",
    )
    log_level: str = Field("INFO", alias="G21_LOG_LEVEL", description="Logging level.")
    log_json: bool = Field(False, alias="G21_LOG_JSON", description="Log one JSON object a line.")

    @field_validator("admin_ids", "allowed_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [int(part) for part in value.replace(";", ",").split(",") if part.strip()]
        return value

    def secrets(self) -> list[str]:
        """Values that must never reach a log line, an error or a reply."""
        values = [
            self.telegram_bot_token.get_secret_value(),
            self.webhook_secret.get_secret_value(),
            self.openai_api_key.get_secret_value(),
        ]
        # The token's secret half may also appear on its own (URL-encoded forms, say).
        token = self.telegram_bot_token.get_secret_value()
        if ":" in token and len(token.partition(":")[2]) >= 8:
            values.append(token.partition(":")[2])
        return [v for v in values if v]


def env_example() -> str:
    """The text of `.env.example`: every setting, its default and its description."""
    lines = [
        "# g21bot configuration: every setting with its default. Copy to .env and edit.",
        "# Generated from bot/ops/settings.py (python3 dev.py env); names are fixed.",
        "",
    ]
    for field in Settings.model_fields.values():
        default: Any = field.get_default(call_default_factory=True)
        if isinstance(default, SecretStr):
            default = default.get_secret_value()
        elif isinstance(default, list):
            default = ",".join(str(v) for v in default)
        elif isinstance(default, bool):
            default = str(default).lower()
        lines += [f"# {field.description}", f"{field.alias}={default}", ""]
    return "\n".join(lines)
