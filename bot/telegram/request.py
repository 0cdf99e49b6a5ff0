"""The Bot API HTTP client, counting failed calls for `telegram_api_errors_total`."""

from __future__ import annotations

from telegram.error import NetworkError, TimedOut
from telegram.request import HTTPXRequest, RequestData

from bot.metrics import TELEGRAM_ERRORS


class MeteredRequest(HTTPXRequest):
    """PTB's HTTPX client; every non-200 answer and every network failure is counted by
    Bot API method and status (or `timeout` / `network`)."""

    async def do_request(  # type: ignore[override]
        self, url: str, method: str, request_data: RequestData | None = None, **timeouts: object
    ) -> tuple[int, bytes]:
        api_method = url.rsplit("/", 1)[-1]
        try:
            code, payload = await super().do_request(url, method, request_data, **timeouts)  # type: ignore[arg-type]
        except TimedOut:
            TELEGRAM_ERRORS.labels(method=api_method, code="timeout").inc()
            raise
        except NetworkError:
            TELEGRAM_ERRORS.labels(method=api_method, code="network").inc()
            raise
        if code != 200:
            TELEGRAM_ERRORS.labels(method=api_method, code=str(code)).inc()
        return code, payload
