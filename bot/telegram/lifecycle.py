"""Around every update's handlers: the access gate first, then the sender's chat state loaded,
and afterwards committed with the update marked handled, in one transaction."""

from __future__ import annotations

import html
import logging
import sqlite3

from telegram import Update
from telegram.error import TelegramError

from bot.answering.messages import message
from bot.ops.chatstore import ChatStore, Session
from bot.ops.metrics import REFUSED
from bot.ops.ratelimit import Throttle
from bot.telegram.access import AccessGate, refusal_language, refuse
from bot.telegram.identity import chat_id, sender_key

log = logging.getLogger(__name__)


class Sessions:
    """Each update's session: loaded before its handlers, committed after them."""

    def __init__(self, store: ChatStore) -> None:
        self.store = store
        self._open: dict[int, Session] = {}
        self._saved: set[int] = set()

    async def begin(self, update: Update) -> None:
        sender = sender_key(update)
        if sender is None:
            return
        try:
            self._open[update.update_id] = await self.store.aload(sender, chat_id(update))
        except (sqlite3.Error, OSError) as exc:
            # Answer without the remembered language and history rather than not at all.
            log.error("chat state of update %s not loaded: %s", update.update_id, exc)

    def get(self, update: Update) -> Session:
        """This update's session (a blank one, never stored, for an update without one)."""
        found = self._open.get(update.update_id)
        if found is not None:
            return found
        return Session(sender_key(update) or "", chat_id(update))

    async def save(self, update: Update) -> None:
        """Commit this update's state and mark it handled now, before its reply: a setting
        the bot confirms is on disk first (a kill may cost the confirmation, not the
        setting). ``end`` then writes only what changes after."""
        await self._commit(update.update_id, self._open.get(update.update_id))
        self._saved.add(update.update_id)

    async def end(self, update_id: int) -> None:
        session = self._open.pop(update_id, None)
        saved = update_id in self._saved
        self._saved.discard(update_id)
        await self._commit(None if saved else update_id, session)

    async def _commit(self, update_id: int | None, session: Session | None) -> None:
        try:
            await self.store.acommit(update_id, session)
        except (sqlite3.Error, OSError) as exc:
            # The answer went out; only durability is lost (a replay may repeat it).
            log.error("chat state of update %s not saved: %s", update_id, exc)


class BotHooks:
    """``UpdateHooks`` for the bot (see ``bot.telegram.processor``)."""

    def __init__(
        self, gate: AccessGate, sessions: Sessions, notices: Throttle, queue_limit: int
    ) -> None:
        self.gate = gate
        self.sessions = sessions
        self.notices = notices
        self.queue_limit = queue_limit

    async def admit(self, update: object) -> bool:
        if not isinstance(update, Update) or self.gate.admits(update):
            return True
        REFUSED.labels(reason="not_allowed").inc()
        log.info("update %s refused: sender not on the allow-list", update.update_id)
        await refuse(update, self.notices)
        await self.sessions.end(update.update_id)  # handled: nothing else is stored
        return False

    async def overflow(self, update: object) -> None:
        if not isinstance(update, Update):
            return
        REFUSED.labels(reason="queue_full").inc()
        log.warning(
            "update %s dropped: over %d waiting in its chat", update.update_id, self.queue_limit
        )
        msg = update.effective_message
        # The key of the rate limit's notice: a flooding sender hears "slow down" once.
        if msg is not None and self.notices.ready(("slow_down", sender_key(update))):
            text = message(refusal_language(update), "slow_down")
            try:
                await msg.reply_text(html.escape(text, quote=False))
            except TelegramError as exc:
                log.info("could not tell a flooding chat: %s", exc)
        await self.sessions.end(update.update_id)

    async def begin(self, update: object) -> None:
        if isinstance(update, Update):
            await self.sessions.begin(update)

    async def end(self, update: object) -> None:
        if isinstance(update, Update):
            await self.sessions.end(update.update_id)
