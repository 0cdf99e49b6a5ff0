"""Fault scenarios of the hardening work, each against a real `g21bot run` process and the Bot
API stand-in in a process of its own, scored like the other fault scenarios (lost,
duplicated, out of order per chat):

- "Chroma hung": the Chroma server frozen with SIGSTOP (connections accepted, nothing
  answered) while the load runs; the answers come from the lexical index.
- "bot killed -9 mid-burst": SIGKILL once a quarter of the answers are out, then a restart
  on the same data folder; the inbox replays what was acknowledged and not handled.

Plus the chat state's cost: one update's SQLite commit (fsync included) at N chats, next to
re-pickling every chat as PicklePersistence did (the baseline, measured in the same run)."""

from __future__ import annotations

import contextlib
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .common import bench_settings, clean_env, percentile
from .remote_standin import RemoteStandIn
from .throughput import FIRST_USER, Expected, expected_replies, score

START_BOUND = 90.0
FINISH_BOUND = 120.0


def _plan(engine: Any, settings: Any, questions: list[str], users: int, messages: int) -> Any:
    plan: dict[int, list[Expected]] = {}
    for u in range(users):
        asked = [questions[(u * messages + k) % len(questions)] for k in range(messages)]
        replies = expected_replies(engine, settings, asked)
        plan[FIRST_USER + u] = [
            Expected(FIRST_USER + u, k, q, r)
            for k, (q, r) in enumerate(zip(asked, replies, strict=True))
        ]
    return plan


@contextlib.contextmanager
def _bot(api: RemoteStandIn, data_dir: Path, log: Path, **env: str) -> Iterator[Any]:
    """`g21bot run` (polling) until it has made its first getUpdates."""
    g21bot = Path(sys.executable).with_name("g21bot")
    values = clean_env(
        TELEGRAM_BOT_TOKEN=api.token,
        TELEGRAM_BASE_URL=api.base_url,
        G21_DATA_DIR=str(data_dir),
        G21_PORT="0",
        G21_TELEGRAM_MAX_RATE="0",
        G21_RATE_LIMIT_PER_MINUTE="100000",
        G21_CHAT_QUEUE_LIMIT="10000",
        **env,
    )
    before = sum(1 for r in api.records()[0] if r.method == "getUpdates")
    with log.open("ab") as err:
        process = subprocess.Popen([str(g21bot), "run"], env=values, stderr=err)
    try:
        _wait(lambda: sum(1 for r in api.records()[0] if r.method == "getUpdates") > before)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait(condition: Any, timeout: float = START_BOUND) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)  # polling another process's record
    return False


def _replies(api: RemoteStandIn, plan: dict[int, list[Expected]]) -> dict[int, list[Any]]:
    got: dict[int, list[tuple[str, float]]] = {}
    for record in api.records()[0]:
        if record.method == "sendMessage" and record.ok and record.chat_id in plan:
            got.setdefault(int(record.chat_id), []).append((str(record.text), record.timestamp))
    return got


def _delivered(api: RemoteStandIn, plan: dict[int, list[Expected]]) -> int:
    return sum(len(v) for v in _replies(api, plan).values())


def _push(api: RemoteStandIn, plan: dict[int, list[Expected]], messages: int) -> int:
    order = [items[k] for k in range(messages) for items in plan.values()]
    for item, stamp in zip(order, api.push([(e.user, e.question) for e in order]), strict=True):
        item.pushed_at = stamp
    return sum(len(e.pieces) for e in order)


def killed_mid_burst(
    data_dir: Path, questions: list[str], users: int, messages: int
) -> dict[str, Any]:
    from bot.answering.engine import AnswerEngine

    settings = bench_settings(data_dir)
    plan = _plan(AnswerEngine(settings), settings, questions, users, messages)
    faults = [{"method": "sendMessage", "kind": "slow", "ratio": 0.3, "seed": 7, "delay": 0.3}]
    with tempfile.TemporaryDirectory() as tmp, RemoteStandIn(faults) as api:
        log = Path(tmp) / "g21bot.stderr"
        data_dir = Path(shutil.copytree(data_dir, Path(tmp) / "data"))  # its own chat state
        with _bot(api, data_dir, log) as first:
            pieces = _push(api, plan, messages)
            _wait(lambda: _delivered(api, plan) >= pieces // 4, FINISH_BOUND)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
        at_kill = _delivered(api, plan)
        restarted = time.monotonic()
        with _bot(api, data_dir, log):
            _wait(lambda: _delivered(api, plan) >= pieces, FINISH_BOUND)
        recovery_s = time.monotonic() - restarted
        api.settle()
        result = score(plan, _replies(api, plan))
        violations = api.records()[1]
    result.update(
        scenario="bot killed -9 mid-burst, restarted",
        users=users,
        messages=messages,
        faulted_requests=0,
        answered_before_kill=at_kill,
        # An answer Telegram got just before the kill, not yet marked handled, comes again.
        may_repeat=users,
        restart_to_last_answer_s=round(recovery_s, 2),
        spec_violations=len(violations),
    )
    return result


def chroma_hung(data_dir: Path, questions: list[str], users: int, messages: int) -> dict[str, Any]:
    from bot.answering.engine import AnswerEngine
    from bot.answering.stack import run_ingest
    from retrieval.errors import StoreUnavailableError
    from tests.chroma_process import start_chroma_server

    with tempfile.TemporaryDirectory() as tmp:
        server = start_chroma_server(Path(tmp) / "chroma")
        try:
            where = {"CHROMA_HOST": server.host, "CHROMA_PORT": str(server.port)}
            settings = bench_settings(Path(tmp) / "data", **where)
            run_ingest(settings)
            engine = AnswerEngine(settings)

            def down(*args: Any, **kwargs: Any) -> Any:
                raise StoreUnavailableError("hung")

            # What the bot answers while the server hangs: the lexical index alone.
            engine.stack().store.nearest = down  # type: ignore[method-assign]
            plan = _plan(engine, settings, questions, users, messages)
            with RemoteStandIn() as api:
                log = Path(tmp) / "g21bot.stderr"
                with _bot(api, Path(tmp) / "data", log, G21_CHROMA_TIMEOUT="2", **where):
                    os.kill(server.process.pid, signal.SIGSTOP)
                    try:
                        pieces = _push(api, plan, messages)
                        _wait(lambda: _delivered(api, plan) >= pieces, FINISH_BOUND)
                    finally:
                        os.kill(server.process.pid, signal.SIGCONT)
                api.settle()
                result = score(plan, _replies(api, plan))
                violations = api.records()[1]
        finally:
            server.stop()
    result.update(
        scenario="Chroma hung (SIGSTOP), G21_CHROMA_TIMEOUT=2",
        users=users,
        messages=messages,
        faulted_requests=0,
        spec_violations=len(violations),
    )
    return result


def state_write_latency(chats: int = 2000, updates: int = 2000) -> dict[str, Any]:
    """One update's commit (a turn appended, the inbox mark) with ``chats`` chats stored, and
    the baseline: pickling every chat's state, as each PicklePersistence flush did."""
    from bot.answering.answer import Turn
    from bot.ops.chatstore import ChatStore

    turn = Turn("What does the Group say about the Middle East?", "x" * 600, (10, 6), "en")
    with tempfile.TemporaryDirectory() as tmp:
        store = ChatStore(Path(tmp) / "state.sqlite3", max_turns=4, max_bytes=8192)
        for chat in range(chats):
            session = store.load(f"u:{chat}", chat)
            session.history[:] = [turn] * 4
            store.commit(None, session)
        store.receive([(i, "{}") for i in range(updates)])
        took = []
        for i in range(updates):
            session = store.load(f"u:{i % chats}", i % chats)
            session.history.append(turn)
            started = time.perf_counter()
            store.commit(i, session)
            took.append(time.perf_counter() - started)
        store.close()

    # Every chat's own turns (distinct objects: pickle would store a shared one once).
    def turns(chat: int) -> list[Turn]:
        return [Turn(f"{turn.question} {chat}.{i}", f"{turn.answer}{chat}", (i,), "en")
                for i in range(4)]  # fmt: skip

    everything = {
        "user_data": {c: {"lang": "en"} for c in range(chats)},
        "chat_data": {c: {"history": {c: turns(c)}} for c in range(chats)},
    }
    pickled = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(20):
            started = time.perf_counter()
            with (Path(tmp) / "telegram.pickle").open("wb") as file:
                pickle.dump(everything, file, protocol=pickle.HIGHEST_PROTOCOL)
            pickled.append(time.perf_counter() - started)
    return {
        "chats": chats,
        "commit_p50_ms": round(percentile(took, 0.5) * 1000, 3),
        "commit_p95_ms": round(percentile(took, 0.95) * 1000, 3),
        "pickle_all_chats_p50_ms": round(percentile(pickled, 0.5) * 1000, 3),
    }


def measure(
    data_dir: Path, questions: list[str], users: int, messages: int
) -> list[dict[str, Any]]:
    """Both scenarios (rows shaped like ``throughput.measure_faults``')."""
    return [
        chroma_hung(data_dir, questions, users, messages),
        killed_mid_burst(data_dir, questions, users, messages),
    ]
