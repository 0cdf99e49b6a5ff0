"""The Bot API HTTP client: python-telegram-bot's request interface over aiohttp, with failed
calls counted for `telegram_api_errors_total` and resent when Telegram cannot have acted on
them.

Why not PTB's own HTTPXRequest: measured against the local Bot API stand-in, an httpx call
cost the bot ~1.1 ms of CPU and an aiohttp call ~0.2 ms (README, Performance). At a few
hundred answers a second that is most of a core (PTB #4560 discusses the same)."""

from __future__ import annotations

import asyncio
import logging
import urllib.request
from functools import lru_cache
from urllib.parse import urlsplit

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.ops.metrics import TELEGRAM_ERRORS, TELEGRAM_RETRIES

log = logging.getLogger(__name__)

# Failures before any answer came back, where a resend cannot duplicate what the first try
# did: no connection (refused, or none free in time), the server closing the connection
# without an answer (typically a kept-alive connection it had just timed out), a reset. Not
# among them: a read timeout (the request reached Telegram, which is still working on it; a
# resend would most likely post the message twice) and a cut-off answer (Telegram answered).
_RESENDABLE = (
    aiohttp.ConnectionTimeoutError,
    aiohttp.ClientConnectorError,
    aiohttp.ServerDisconnectedError,
    aiohttp.ClientConnectionResetError,
    aiohttp.ClientOSError,
)


@lru_cache(maxsize=16)
def _proxy_for(scheme: str, host: str) -> str | None:
    # HTTPS_PROXY / NO_PROXY, read once per host: aiohttp's own trust_env reads ~/.netrc and
    # the environment again on every request.
    if urllib.request.proxy_bypass(host):
        return None
    return urllib.request.getproxies().get(scheme)


def _proxy(url: str) -> str | None:
    parts = urlsplit(url)
    return _proxy_for(parts.scheme, parts.hostname or "")


def _resendable(error: BaseException) -> bool:
    return isinstance(error.__cause__, _RESENDABLE)


def answered_late(error: BaseException) -> bool:
    """A read timeout: the request reached Telegram, which did not answer in time (and has
    most likely acted on it)."""
    return isinstance(error, TimedOut) and not _resendable(error)


class BotApiRequest(BaseRequest):
    """PTB's ``BaseRequest`` over one ``aiohttp.ClientSession``.

    Every non-200 answer and every network failure is counted by Bot API method and status
    (or `timeout` / `network`). A 5xx answer or a connection lost before any answer is resent
    up to ``retries`` times, ``backoff`` seconds apart (doubling): at-least-once, so should
    Telegram ever close a connection after acting on a request, the user sees the answer twice
    rather than never. 429 is not handled here: the application's AIORateLimiter waits
    ``retry_after`` and resends."""

    def __init__(
        self,
        connection_pool_size: int = 8,
        *,
        read_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_timeout: float | None = 20.0,
        retries: int = 0,
        backoff: float = 0.5,
    ) -> None:
        self.connection_pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_timeout = media_timeout
        self.retries = retries
        self.backoff = backoff
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the session (on the running loop, which aiohttp binds it to)."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self.connection_pool_size)
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": self.USER_AGENT}
            )

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    def _timeout(
        self, request_data: RequestData | None, read: object, connect: object, pool: object
    ) -> aiohttp.ClientTimeout:
        def pick(value: object, default: float | None) -> float | None:
            return default if value is BaseRequest.DEFAULT_NONE else value  # type: ignore[return-value]

        files = bool(request_data and request_data.contains_files)
        return aiohttp.ClientTimeout(
            total=self._media_timeout if files else None,
            connect=pick(pool, self._pool_timeout),  # a free connection, connecting included
            sock_connect=pick(connect, self._connect_timeout),
            sock_read=pick(read, self._read_timeout),
        )

    @staticmethod
    def _body(request_data: RequestData | None) -> aiohttp.FormData:
        form = aiohttp.FormData(request_data.json_parameters if request_data else {})
        if request_data and request_data.multipart_data:
            for name, (filename, content, mimetype) in request_data.multipart_data.items():
                form.add_field(name, content, filename=filename, content_type=mimetype)
        return form

    async def _once(
        self,
        url: str,
        method: str,
        request_data: RequestData | None,
        timeout: aiohttp.ClientTimeout,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This BotApiRequest is not initialized!")
        try:
            async with self._session.request(
                method, url, data=self._body(request_data), timeout=timeout, proxy=_proxy(url)
            ) as response:
                return response.status, await response.read()
        except aiohttp.ConnectionTimeoutError as exc:
            raise TimedOut(
                "No connection to the Bot API in time; the request was not sent"
            ) from exc
        except TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """See ``BaseRequest.do_request`` (aiohttp has no write timeout: a slow write ends
        in the read timeout)."""
        # Never log `url`: it holds the bot token.
        api_method = url.rsplit("/", 1)[-1]
        timeout = self._timeout(request_data, read_timeout, connect_timeout, pool_timeout)
        attempt = 0
        while True:
            try:
                code, payload = await self._once(url, method, request_data, timeout)
            except TimedOut as exc:
                TELEGRAM_ERRORS.labels(method=api_method, code="timeout").inc()
                if attempt >= self.retries or not _resendable(exc):
                    raise
                reason = "no connection in time"
            except NetworkError as exc:
                TELEGRAM_ERRORS.labels(method=api_method, code="network").inc()
                if attempt >= self.retries or not _resendable(exc):
                    raise
                reason = f"connection lost ({type(exc.__cause__).__name__})"
            else:
                if code != 200:
                    TELEGRAM_ERRORS.labels(method=api_method, code=str(code)).inc()
                if code < 500 or attempt >= self.retries:
                    return code, payload
                reason = f"HTTP {code}"
            delay = self.backoff * 2**attempt
            attempt += 1
            TELEGRAM_RETRIES.labels(method=api_method).inc()
            log.warning(
                "Bot API %s failed (%s); resending in %.2f s (%d of %d)",
                api_method,
                reason,
                delay,
                attempt,
                self.retries,
            )
            await asyncio.sleep(delay)
