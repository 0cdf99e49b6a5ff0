"""Logging set-up: plain or JSON lines, with secrets redacted from every record."""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import traceback
from collections.abc import Iterable
from types import TracebackType

from bot.ops.settings import Settings

# A Telegram bot token anywhere (httpx logs request URLs, which contain it right after
# "/bot": no word boundary there, so the edges are "not a digit" / "not a token character").
TOKEN_SHAPE = re.compile(r"(?<![0-9])\d{5,}:[A-Za-z0-9_-]{30,}(?![A-Za-z0-9_-])")
REDACTED = "[REDACTED]"
# Attributes every LogRecord has; anything else came with ``extra={...}``.
_STANDARD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}


class Redactor(logging.Filter):
    """Replaces known secrets and anything shaped like a bot token in the final message."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return TOKEN_SHAPE.sub(REDACTED, text)

    def _scrub_value(self, value: object) -> object:
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {k: self._scrub_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._scrub_value(v) for v in value]
        text = str(value)
        scrubbed = self.scrub(text)
        return value if scrubbed == text else scrubbed

    def filter(self, record: logging.LogRecord) -> bool:
        message = self.scrub(record.getMessage())
        record.msg, record.args = message, None
        # ``extra={...}`` fields, which the JSON formatter writes out.
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_FIELDS:
                setattr(record, key, self._scrub_value(value))
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
    for noisy in (
        "httpx",
        "httpcore",
        "chromadb",
        "jieba",
        "bm25s",
        "urllib3",
        "openai",
        "httpx2",
        "httpcore2",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return redactor


def install_excepthooks(redactor: Redactor) -> None:
    """Print uncaught exceptions (main thread and others) through the redactor: a library's
    message may carry the token (PTB's InvalidToken names it, aiohttp quotes request URLs)."""

    def main_hook(
        kind: type[BaseException], value: BaseException, tb: TracebackType | None
    ) -> None:
        sys.stderr.write(redactor.scrub("".join(traceback.format_exception(kind, value, tb))))

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread else "a thread"
        lines = traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback)
        text = "".join(lines)
        sys.stderr.write(redactor.scrub(f"Exception in {name}:\n{text}"))

    sys.excepthook = main_hook
    threading.excepthook = thread_hook
