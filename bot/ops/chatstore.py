"""Durable chat state in SQLite: each person's settings, each chat's recent turns, and the
inbox of received updates; written through, one transaction per update, off the event loop.

Why SQLite with WAL and ``synchronous=FULL``: a commit is on disk before the call returns, so
an update stored before Telegram is told it arrived (the inbox) and a /lang the bot
acknowledged survive kill -9 and a power cut; a crash mid-write never leaves a file that
cannot be read (the journal rolls it back), unlike a pickle rewritten in place."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from bot.answering.answer import Turn
from bot.ops.legacy import legacy_state, load_pickle
from bot.ops.metrics import STATE_WRITE_LATENCY
from bot.ops.turns import turn_from_json, turn_to_json

log = logging.getLogger(__name__)
T = TypeVar("T")
__all__ = ["ChatStore", "Session", "bound_history", "turn_from_json", "turn_to_json"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS people (
    sender TEXT PRIMARY KEY,            -- 'u:<user id>', or 'c:<chat id>:<sender chat id>'
    settings TEXT NOT NULL              -- JSON object: {"lang": "en"}, ...
);
CREATE TABLE IF NOT EXISTS histories (
    chat_id INTEGER NOT NULL,
    sender TEXT NOT NULL,
    turns TEXT NOT NULL,                -- JSON list of Turn objects, oldest first
    PRIMARY KEY (chat_id, sender)
);
CREATE TABLE IF NOT EXISTS inbox (
    update_id INTEGER PRIMARY KEY,
    body TEXT NOT NULL,                 -- the update as Telegram sent it; '' once done
    received REAL NOT NULL,
    done INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS inbox_pending ON inbox (done, update_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
KEEP_PEOPLE = 10_000  # settings kept in memory, shared by a person's concurrent updates
KEEP_DONE = 10_000  # handled update ids remembered to recognise a redelivery
PRUNE_EVERY = 1_000  # commits between two prunings of the inbox
MAX_CITED = 50  # paragraph numbers kept per stored turn


# --- turns as JSON ---------------------------------------------------------------------------


def bound_history(turns: list[Turn], max_turns: int, max_bytes: int) -> list[Turn]:
    """The newest turns within ``max_turns`` and ``max_bytes`` of JSON (a turn too large on
    its own is cut down: its paragraph list and texts, never its question's start)."""
    kept = [_trimmed(t, max_bytes) for t in turns[-max(1, max_turns) :]]
    while len(kept) > 1 and len(_history_json(kept)) > max_bytes:
        kept.pop(0)
    return kept


def _trimmed(turn: Turn, max_bytes: int) -> Turn:
    data = turn_to_json(turn)
    data["paragraphs"] = list(data.get("paragraphs") or ())[:MAX_CITED]
    for key in ("answer", "question"):
        text = data.get(key)
        while isinstance(text, str) and len(_json(data).encode()) > max_bytes and text:
            text = text[: len(text) // 2]
            data[key] = text
    return turn_from_json(data) or turn


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _history_json(turns: list[Turn]) -> str:
    return _json([turn_to_json(t) for t in turns])


# --- one person in one chat ------------------------------------------------------------------


@dataclass
class Session:
    """What the bot remembers for one person: their settings (every chat) and this chat's
    recent turns (``chat_id`` None: an update without a chat, such as an inline query)."""

    sender: str
    chat_id: int | None
    settings: dict[str, Any] = field(default_factory=dict)
    history: list[Turn] = field(default_factory=list)
    _saved_settings: str = "{}"
    _saved_history: str = "[]"

    @property
    def lang(self) -> str | None:
        value = self.settings.get("lang")
        return value if isinstance(value, str) else None

    @lang.setter
    def lang(self, value: str | None) -> None:
        if value is None:
            self.settings.pop("lang", None)
        else:
            self.settings["lang"] = value


# --- the store -------------------------------------------------------------------------------


class ChatStore:
    """The SQLite file (``":memory:"`` for a bot without persistence). Every method is
    thread-safe; the ``a*`` ones run on the store's own thread, never on the event loop."""

    def __init__(
        self,
        path: str | Path = ":memory:",
        max_turns: int = 4,
        max_bytes: int = 8192,
        pickle_path: Path | None = None,
    ) -> None:
        self.path = str(path)
        self.max_turns = max_turns
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chat-state")
        self._commits = 0
        self._people: OrderedDict[str, dict[str, Any]] = OrderedDict()
        # Autocommit mode: each ``with self._tx()`` is one explicit transaction.
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(SCHEMA)
        if pickle_path is not None:
            self._migrate_pickle(pickle_path)

    # -- plumbing ---------------------------------------------------------------------------

    def _tx(self) -> _Transaction:
        return _Transaction(self._db, self._lock)

    async def run(self, call: Callable[..., T], *args: Any) -> T:
        """``call(*args)`` on the store's thread."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, call, *args)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        with self._lock:
            self._db.close()

    # -- sessions ---------------------------------------------------------------------------

    def load(self, sender: str, chat_id: int | None) -> Session:
        """The session of ``sender`` in ``chat_id``. Its settings are one dict per person,
        shared by the sessions open at the same time (a /lang in one chat applies at once to
        the person's inline queries), as PTB's user_data was."""
        with self._lock:
            settings = self._people.get(sender)
            if settings is None:
                row = self._db.execute(
                    "SELECT settings FROM people WHERE sender = ?", (sender,)
                ).fetchone()
                settings = _loads(row[0] if row else "{}", dict)
                self._people[sender] = settings
                if len(self._people) > KEEP_PEOPLE:
                    self._people.popitem(last=False)
            self._people.move_to_end(sender)
            turns_row = None
            if chat_id is not None:
                turns_row = self._db.execute(
                    "SELECT turns FROM histories WHERE chat_id = ? AND sender = ?",
                    (chat_id, sender),
                ).fetchone()
        history_json = turns_row[0] if turns_row else "[]"
        turns = [t for t in (turn_from_json(d) for d in _loads(history_json, list)) if t]
        return Session(sender, chat_id, settings, turns, _json(settings), history_json)

    def commit(self, update_id: int | None, session: Session | None = None) -> None:
        """In one transaction: what changed in ``session`` (history bounded first), and
        ``update_id`` marked handled."""
        started = time.perf_counter()
        writes: list[tuple[str, tuple[Any, ...]]] = []
        if session is not None:
            settings_json = _json(session.settings)
            if settings_json != session._saved_settings:
                writes.append(
                    (
                        "INSERT INTO people (sender, settings) VALUES (?, ?) "
                        "ON CONFLICT (sender) DO UPDATE SET settings = excluded.settings",
                        (session.sender, settings_json),
                    )
                )
                session._saved_settings = settings_json
            if session.chat_id is not None:
                session.history[:] = bound_history(session.history, self.max_turns, self.max_bytes)
                history_json = _history_json(session.history)
                if history_json != session._saved_history:
                    write = self._history_write(session.chat_id, session.sender, history_json)
                    writes.append(write)
                    session._saved_history = history_json
        if update_id is not None:
            writes.append(
                ("UPDATE inbox SET done = 1, body = '' WHERE update_id = ?", (update_id,))
            )
        if not writes:
            return
        with self._tx() as db:
            for sql, args in writes:
                db.execute(sql, args)
            self._commits += 1
            if self._commits % PRUNE_EVERY == 0:
                self._prune(db)
        STATE_WRITE_LATENCY.observe(time.perf_counter() - started)

    @staticmethod
    def _history_write(chat_id: int, sender: str, history_json: str) -> tuple[str, tuple[Any, ...]]:
        if history_json == "[]":
            return "DELETE FROM histories WHERE chat_id = ? AND sender = ?", (chat_id, sender)
        return (
            "INSERT INTO histories (chat_id, sender, turns) VALUES (?, ?, ?) "
            "ON CONFLICT (chat_id, sender) DO UPDATE SET turns = excluded.turns",
            (chat_id, sender, history_json),
        )

    # -- the inbox --------------------------------------------------------------------------

    def receive(self, updates: Iterable[tuple[int, str]]) -> set[int]:
        """Store received updates (JSON bodies) before Telegram is told they arrived; the ids
        among them that were handled already (a redelivery)."""
        rows = list(updates)
        if not rows:
            return set()
        now = time.time()
        with self._tx() as db:
            db.executemany(
                "INSERT OR IGNORE INTO inbox (update_id, body, received) VALUES (?, ?, ?)",
                [(uid, body, now) for uid, body in rows],
            )
            marks = ",".join("?" * len(rows))
            done = db.execute(
                f"SELECT update_id FROM inbox WHERE done = 1 AND update_id IN ({marks})",
                [uid for uid, _ in rows],
            ).fetchall()
        return {int(uid) for (uid,) in done}

    def pending(self) -> list[dict[str, Any]]:
        """Updates received but not handled (a kill came between), oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM inbox WHERE done = 0 ORDER BY update_id"
            ).fetchall()
        return [body for body in (_loads(b, dict) for (b,) in rows) if body]

    def recent_done(self, limit: int = KEEP_DONE) -> list[int]:
        with self._lock:
            rows = self._db.execute(
                "SELECT update_id FROM inbox WHERE done = 1 ORDER BY update_id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [int(uid) for (uid,) in rows]

    @staticmethod
    def _prune(db: sqlite3.Connection) -> None:
        db.execute(
            "DELETE FROM inbox WHERE done = 1 AND update_id < (SELECT update_id FROM inbox "
            "WHERE done = 1 ORDER BY update_id DESC LIMIT 1 OFFSET ?)",
            (KEEP_DONE,),
        )

    # -- async facade -----------------------------------------------------------------------

    async def aload(self, sender: str, chat_id: int | None) -> Session:
        return await self.run(self.load, sender, chat_id)

    async def acommit(self, update_id: int | None, session: Session | None = None) -> None:
        if session is not None:
            # The settings dict is shared with other open sessions, which the event loop may
            # change meanwhile: the store's thread gets a copy.
            session = replace(session, settings=dict(session.settings))
        await self.run(self.commit, update_id, session)

    async def areceive(self, updates: list[tuple[int, str]]) -> set[int]:
        return await self.run(self.receive, updates)

    # -- the pickle of earlier versions -----------------------------------------------------

    def _migrate_pickle(self, path: Path) -> None:
        """Import PicklePersistence's file once (languages and histories), then rename it."""
        done = path.with_name(path.name + ".migrated")
        if not path.exists():
            return
        with self._lock:
            migrated = self._db.execute(
                "SELECT value FROM meta WHERE key = 'pickle_migrated'"
            ).fetchone()
        if migrated is None:
            try:
                data = load_pickle(path)
            except Exception as exc:  # any damage: keep it for inspection, start clean
                aside = path.with_name(f"{path.name}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}")
                path.rename(aside)
                log.warning("%s cannot be read (%s); moved to %s", path, exc, aside.name)
                return
            self._import(data)
            log.info("chat state imported from %s", path)
        path.rename(done)

    def _import(self, data: Any) -> None:
        people, histories = legacy_state(data)
        with self._tx() as db:
            for sender, settings in people.items():
                db.execute(
                    "INSERT OR REPLACE INTO people (sender, settings) VALUES (?, ?)",
                    (sender, _json(settings)),
                )
            for (chat_id, sender), turns in histories.items():
                kept = bound_history(turns, self.max_turns, self.max_bytes)
                if kept:
                    db.execute(*self._history_write(chat_id, sender, _history_json(kept)))
            db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('pickle_migrated', ?)",
                (time.strftime("%Y-%m-%dT%H:%M:%S"),),
            )


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on error), under the store's lock."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock) -> None:
        self.db = db
        self.lock = lock

    def __enter__(self) -> sqlite3.Connection:
        self.lock.acquire()
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.lock.release()
            raise
        return self.db

    def __exit__(self, kind: object, *rest: object) -> None:
        try:
            self.db.execute("ROLLBACK" if kind is not None else "COMMIT")
        finally:
            self.lock.release()


def _loads(text: str, kind: type[T]) -> T:
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return kind()
    return value if isinstance(value, kind) else kind()
