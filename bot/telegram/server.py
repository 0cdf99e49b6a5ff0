"""Webhook mode: one ASGI app for Telegram's posts, /healthz, /readyz and /metrics."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from urllib.parse import urlsplit

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application

from bot.ops.metrics import REGISTRY
from bot.ops.settings import Settings
from bot.telegram.app import build_application
from bot.telegram.health import Liveness, Readiness
from bot.telegram.inbox import update_rows

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# A Telegram update is a few kilobytes; anything far larger is not one.
MAX_UPDATE_BYTES = 1 << 20


def webhook_path(settings: Settings) -> str:
    return urlsplit(settings.webhook_url).path or "/"


def create_app(
    settings: Settings,
    application: Application,
    webhook: bool = True,
    liveness: Liveness | None = None,
) -> Starlette:
    """The ASGI app; the Telegram application must be started by the caller."""
    secret = settings.webhook_secret.get_secret_value().encode()
    alive = liveness or Liveness(application)
    probes: list[Readiness] = []  # made on first use: the routes are listed without a bot

    def readiness() -> Readiness:
        if not probes:
            probes.append(Readiness(application.bot_data["state"].engine))
        return probes[0]

    async def telegram_update(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not secret or not hmac.compare_digest(given, secret):
            return PlainTextResponse("forbidden", status_code=403)
        body = bytearray()
        async for piece in request.stream():
            body.extend(piece)
            if len(body) > MAX_UPDATE_BYTES:
                log.warning("webhook body over %d bytes refused", MAX_UPDATE_BYTES)
                return PlainTextResponse("payload too large", status_code=413)
        try:
            data = json.loads(bytes(body))
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("not an update")
            update = Update.de_json(data, application.bot)
        except Exception as exc:  # any malformed body: refuse it, keep serving
            log.warning("malformed webhook body: %s", type(exc).__name__)
            return PlainTextResponse("bad request", status_code=400)
        # Stored before the 200 tells Telegram it arrived: a kill from here on loses nothing.
        store = application.bot_data["state"].store
        handled = await store.areceive(update_rows([data]))
        if update.update_id not in handled:
            await application.update_queue.put(update)
        return Response(status_code=200)

    async def healthz(request: Request) -> Response:
        problem = alive.problem()
        if problem:
            return JSONResponse({"status": "failing", "reason": problem}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        status, body = await readiness().check()
        return JSONResponse(body, status_code=status)

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    if webhook:
        routes.insert(0, Route(webhook_path(settings), telegram_update, methods=["POST"]))
    return Starlette(routes=routes)


@contextlib.contextmanager
def _keep_running_after_signal() -> Iterator[None]:
    """uvicorn stops serving on SIGTERM/SIGINT, then raises the same signal again once
    ``serve()`` returns. Under Python's default handlers that ends the process at once, before
    in-flight updates are finished and persistence is flushed (and with exit status -15), so
    meanwhile the re-raised signal is only noted."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def note(signum: int, frame: FrameType | None) -> None:
        log.info("signal %s: finishing in-flight updates", signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, note) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


async def serve(settings: Settings, webhook: bool) -> None:
    """The bot with its HTTP server: webhook route (webhook mode) and health and metrics
    endpoints (both modes; polling mode skips the server when G21_PORT is 0)."""
    application = build_application(settings, webhook=webhook)
    liveness = Liveness(application)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, application, webhook=webhook, liveness=liveness),
            host=settings.listen,
            port=settings.port,
            log_level="warning",
            access_log=False,
            # No logging set-up of uvicorn's own: its records go to the root handler, which
            # redacts secrets and writes JSON lines when G21_LOG_JSON is set.
            log_config=None,
        )
    )
    try:
        async with application:
            if application.post_init:  # command menu, descriptions, indexes (as run_polling does)
                await application.post_init(application)
            await application.start()
            if webhook:
                await application.bot.set_webhook(
                    settings.webhook_url,
                    secret_token=settings.webhook_secret.get_secret_value(),
                    allowed_updates=Update.ALL_TYPES,
                )
            else:
                assert application.updater is not None
                await application.updater.start_polling(
                    allowed_updates=Update.ALL_TYPES, error_callback=_polling_error
                )
            liveness.watch_loops()
            log.info(
                "%s; HTTP on %s:%s",
                "webhook mode" if webhook else "polling",
                settings.listen,
                settings.port,
            )
            try:
                # uvicorn handles SIGTERM/SIGINT: it stops taking requests and returns.
                with _keep_running_after_signal():
                    if webhook or settings.port:
                        await server.serve()
                    else:
                        await _until_signal()
            finally:
                if application.updater is not None and application.updater.running:
                    await application.updater.stop()
                # Finish what is in flight, then flush persistence (application.stop/shutdown).
                await application.update_queue.join()
                await application.stop()
    except BaseException:
        # A failed start (Telegram refusing the token, say) leaves PTB's HTTP sessions open
        # (the bot never counted as initialised): close them, or asyncio complains at exit.
        await _close_http(application)
        raise
    if application.post_shutdown:
        await application.post_shutdown(application)
    log.info("stopped")


async def _close_http(application: Application) -> None:
    for request in application.bot_data.get("http", ()):
        with contextlib.suppress(Exception):
            await request.shutdown()


def _polling_error(error: TelegramError) -> None:
    """A failed getUpdates is retried by the updater: worth a warning, not a traceback."""
    log.warning("getUpdates failed (%s: %s); retrying", type(error).__name__, error)


async def _until_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def serve_bot(settings: Settings, webhook: bool) -> int:
    asyncio.run(serve(settings, webhook))
    return 0
