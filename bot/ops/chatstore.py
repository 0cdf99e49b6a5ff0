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
import pickle
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar

from bot.answering.answer import Turn
from bot.ops.metrics import STATE_WRITE_LATENCY

log = logging.getLogger(__name__)
T = TypeVar("T")

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


def turn_to_json(turn: Turn) -> dict[str, Any]:
    return asdict(turn)


_FALLBACKS: dict[str, Any] = {"str": "", "int": 0, "float": 0.0, "bool": False}


def turn_from_json(data: object) -> Turn | None:
    """A Turn from what an older or newer version stored: unknown keys ignored, missing ones
    defaulted; None when it cannot be one."""
    if not isinstance(data, dict):
        return None
    values: dict[str, Any] = {}
    for f in fields(Turn):
        type_name = str(f.type)
        if f.name in data:
            value = data[f.name]
            values[f.name] = tuple(value) if type_name.startswith("tuple") else value
        elif f.default is not MISSING or f.default_factory is not MISSING:
            continue  # the dataclass has its own default
        elif type_name.startswith(("tuple", "list")):
            values[f.name] = () if type_name.startswith("tuple") else []
        else:
            values[f.name] = _FALLBACKS.get(type_name.partition("|")[0].strip())
    try:
        return Turn(**values)
    except TypeError:
        return None


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
                data = _load_pickle(path)
            except Exception as exc:  # any damage: keep it for inspection, start clean
                aside = path.with_name(f"{path.name}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}")
                path.rename(aside)
                log.warning("%s cannot be read (%s); moved to %s", path, exc, aside.name)
                return
            self._import(data)
            log.info("chat state imported from %s", path)
        path.rename(done)

    def _import(self, data: Any) -> None:
        data = data if isinstance(data, dict) else {}
        users, chats = data.get("user_data") or {}, data.get("chat_data") or {}
        with self._tx() as db:
            for user_id, values in users.items():
                lang = values.get("lang") if isinstance(values, dict) else None
                if isinstance(lang, str):
                    db.execute(
                        "INSERT OR REPLACE INTO people (sender, settings) VALUES (?, ?)",
                        (f"u:{user_id}", _json({"lang": lang})),
                    )
            for chat_id, values in chats.items():
                histories = values.get("history", {}) if isinstance(values, dict) else {}
                for user_id, turns in histories.items():
                    rebuilt = [t for t in (_legacy_turn(x) for x in turns or []) if t]
                    kept = bound_history(rebuilt, self.max_turns, self.max_bytes)
                    if kept:
                        sender, turns_json = f"u:{user_id}", _history_json(kept)
                        db.execute(*self._history_write(int(chat_id), sender, turns_json))
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


# --- reading an old pickle without trusting it -------------------------------------------------


class _Loose:
    """Stands in for any class of ours or PTB's in an old pickle: keeps its fields."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.__dict__.update(kwargs)

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple):  # (dict, slots)
            for part in state:
                if isinstance(part, dict):
                    self.__dict__.update(part)
        elif isinstance(state, dict):
            self.__dict__.update(state)


_SAFE = {
    ("builtins", name)
    for name in ("dict", "list", "tuple", "set", "frozenset", "str", "int", "float", "bool")
} | {("collections", "defaultdict"), ("collections", "OrderedDict"), ("copyreg", "_reconstructor")}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _SAFE:
            return super().find_class(module, name)
        if module.split(".")[0] in ("bot", "telegram"):
            return _Loose  # Turn moved between modules over time; Bot objects are not needed
        raise pickle.UnpicklingError(f"unexpected {module}.{name} in the pickle")

    def persistent_load(self, pid: Any) -> Any:
        return None  # PTB's placeholder for the Bot instance


def _load_pickle(path: Path) -> Any:
    with path.open("rb") as file:
        return _Unpickler(file).load()


def _legacy_turn(value: Any) -> Turn | None:
    data = value.__dict__ if isinstance(value, _Loose) else value
    if isinstance(value, Turn):
        return value
    return turn_from_json(data)
