"""Update scheduling: chats in parallel, each chat in order, with fair use of the work slots."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Iterable
from typing import Any, Protocol

from telegram import Update
from telegram.ext import BaseUpdateProcessor

log = logging.getLogger(__name__)

# PTB's own semaphore is taken before ``do_process_update`` and would be held while an update
# waits for its chat; it is made too large to matter, and the slots are counted here instead.
_UNBOUNDED = 1 << 30


class UpdateHooks(Protocol):
    """What happens around an update's handlers (the bot's access gate and chat state)."""

    async def admit(self, update: object) -> bool:
        """False: refused (the hooks replied as needed and recorded it as handled)."""
        ...

    async def overflow(self, update: object) -> None:
        """The update's chat has too many waiting: it is dropped, with a notice."""
        ...

    async def begin(self, update: object) -> None:
        """Just before the handlers run (load state)."""
        ...

    async def end(self, update: object) -> None:
        """After the handlers (commit state, mark the update handled)."""
        ...


class NoHooks:
    async def admit(self, update: object) -> bool:
        return True

    async def overflow(self, update: object) -> None:
        """Nothing to tell."""

    async def begin(self, update: object) -> None:
        """Nothing to load."""

    async def end(self, update: object) -> None:
        """Nothing to save."""


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Updates run concurrently across chats, one at a time within a chat (answers in a
    chat never interleave or reorder); an update delivered twice is handled once.

    An update waiting for its chat holds no work slot: ``max_concurrent_updates`` bounds the
    updates being worked on, so one chat with a long queue cannot starve the others. A chat
    with more than ``queue_limit`` updates waiting has the excess dropped (``hooks.overflow``)."""

    def __init__(
        self,
        max_concurrent_updates: int = 64,
        queue_limit: int = 1000,
        remember: int = 10000,
        hooks: UpdateHooks | None = None,
    ) -> None:
        super().__init__(_UNBOUNDED)
        self.working_slots = max_concurrent_updates
        self.queue_limit = queue_limit
        self.hooks: UpdateHooks = hooks or NoHooks()
        self._slots = asyncio.BoundedSemaphore(max_concurrent_updates)
        self._locks: dict[object, asyncio.Lock] = {}
        self._waiting: dict[object, int] = {}
        self._seen: OrderedDict[int, None] = OrderedDict()
        self._remember = remember

    @staticmethod
    def _key(update: object) -> object:
        if isinstance(update, Update):
            if update.effective_chat is not None:
                return ("chat", update.effective_chat.id)
            if update.effective_user is not None:
                return ("user", update.effective_user.id)
            return ("update", update.update_id)
        return ("other", id(update))

    def remember_handled(self, update_ids: Iterable[int]) -> None:
        """Ids handled before a restart: a redelivery of one is dropped as a duplicate."""
        for update_id in sorted(update_ids)[-self._remember :]:
            self._note(update_id)

    def _note(self, update_id: int) -> None:
        self._seen[update_id] = None
        if len(self._seen) > self._remember:
            self._seen.popitem(last=False)

    def seen(self, update_id: int) -> bool:
        """Whether an update with this id reached the processor already."""
        return update_id in self._seen

    def _duplicate(self, update: object) -> bool:
        if not isinstance(update, Update):
            return False
        if update.update_id in self._seen:
            return True
        self._note(update.update_id)
        return False

    def waiting(self, update: object) -> int:
        """Updates of ``update``'s chat waiting or being worked on."""
        return self._waiting.get(self._key(update), 0)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        # Tasks reach here in arrival order, and the chat's lock is FIFO.
        started = False
        try:
            if self._duplicate(update):
                log.info(
                    "update %s delivered twice; handled once", getattr(update, "update_id", "?")
                )
                return
            if not await self.hooks.admit(update):
                return
            key = self._key(update)
            if self._waiting.get(key, 0) > self.queue_limit:
                await self.hooks.overflow(update)
                return
            self._waiting[key] = self._waiting.get(key, 0) + 1
            lock = self._locks.setdefault(key, asyncio.Lock())
            try:
                async with lock, self._slots:
                    await self.hooks.begin(update)
                    started = True
                    try:
                        await coroutine
                    finally:
                        await self.hooks.end(update)
            finally:
                self._waiting[key] -= 1
                if not self._waiting[key]:
                    del self._waiting[key]
                    self._locks.pop(key, None)
        finally:
            if not started and asyncio.iscoroutine(coroutine):
                coroutine.close()

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""
