"""Updates kept durably from arrival until handled: received updates are stored before
Telegram can consider them delivered, and those a kill interrupted are replayed at start.

Polling: getUpdates with ``offset`` = last id + 1 tells Telegram the earlier ones arrived,
and PTB sends that offset only after the previous getUpdates answer was returned to it; so
the answer is stored on its way through the request object (``UpdatesRequest``). Webhook: the
update is stored before the POST is answered 200 (``bot.telegram.server``)."""

from __future__ import annotations

import json
import logging
import sqlite3
from typing import Any

from telegram import Update
from telegram.ext import Application
from telegram.request import BaseRequest, RequestData

from bot.ops.chatstore import ChatStore
from bot.telegram.request import BotApiRequest

log = logging.getLogger(__name__)


def update_rows(updates: list[Any]) -> list[tuple[int, str]]:
    """(update_id, JSON body) of every well-formed update in a getUpdates result."""
    rows = []
    for item in updates:
        if isinstance(item, dict) and isinstance(item.get("update_id"), int):
            rows.append((item["update_id"], json.dumps(item, ensure_ascii=False)))
    return rows


class UpdatesRequest(BotApiRequest):
    """The getUpdates connection: each batch of updates is in the inbox before PTB sees it
    (and before the next getUpdates could acknowledge it)."""

    def __init__(self, store: ChatStore, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.store = store

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
        code, payload = await super().do_request(
            url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
        )
        if code == 200 and url.endswith("/getUpdates"):
            await self._keep(payload)
        return code, payload

    async def _keep(self, payload: bytes) -> None:
        try:
            result = json.loads(payload).get("result")
        except (ValueError, AttributeError):
            return  # PTB reports the malformed answer itself
        rows = update_rows(result if isinstance(result, list) else [])
        try:
            await self.store.areceive(rows)
        except (sqlite3.Error, OSError) as exc:
            # Serving beats stopping: these updates are handled, just not durably.
            log.error("received updates not stored (a kill now would lose them): %s", exc)


async def replay_pending(application: Application, store: ChatStore) -> int:
    """Queue the updates a kill left unhandled (before any new one), and have the update
    processor drop redeliveries of those handled already; how many were queued."""
    processor = application.update_processor
    remember = getattr(processor, "remember_handled", None)
    if remember is not None:
        remember(await store.run(store.recent_done))
    pending = await store.run(store.pending)
    for body in pending:
        update = Update.de_json(body, application.bot)
        if update is not None:
            await application.update_queue.put(update)
    if pending:
        log.info("replaying %d update(s) received but not handled before a stop", len(pending))
    return len(pending)
