"""Logging set-up: plain or JSON lines, with secrets redacted from every record."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable

from bot.settings import Settings

# A Telegram bot token anywhere (httpx logs request URLs, which contain it).
TOKEN_SHAPE = re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{30,}\b")
REDACTED = "[REDACTED]"


class Redactor(logging.Filter):
    """Replaces known secrets and anything shaped like a bot token in the final message."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return TOKEN_SHAPE.sub(REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = self.scrub(record.getMessage())
        record.msg, record.args = message, None
        if record.exc_info:
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text = self.scrub(formatted)
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line; extra fields given with ``extra={...}`` are kept."""

    _standard = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update({k: v for k, v in vars(record).items() if k not in self._standard})
        if record.exc_text:
            data["exception"] = record.exc_text
        return json.dumps(data, ensure_ascii=False, default=str)


def setup_logging(settings: Settings, verbose: bool = False) -> Redactor:
    """Configure the root logger once: stderr, redaction on the handler (so library
    records are scrubbed too), quiet third-party chatter."""
    handler = logging.StreamHandler(sys.stderr)
    redactor = Redactor(settings.secrets())
    handler.addFilter(redactor)
    if settings.log_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    level = logging.DEBUG if verbose else settings.log_level.upper()
    root.setLevel(level)
    handler.setLevel(level)
    for noisy in ("httpx", "httpcore", "chromadb", "jieba", "bm25s", "urllib3", "openai"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return redactor
