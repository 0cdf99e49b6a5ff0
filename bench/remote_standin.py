"""The Bot API stand-in (tests/fakes/telegram.py) in a process of its own, for the load
runs: Telegram is not inside the bot's process, and a stand-in that shared the bot's
interpreter would spend the bot's GIL parsing, checking and answering its requests.

The parent drives the child over its stdin/stdout, one JSON object a line: push private
messages, read back every request the stand-in received.

Child usage (started by ``RemoteStandIn``):
python -m bench.remote_standin '[fail_ratio kwargs…]'"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import IO, Any

from .common import checkout_env, module_command


@dataclass(frozen=True)
class Sent:
    """One request the stand-in received, as the load run scores it."""

    method: str
    chat_id: Any
    text: str | None
    ok: bool
    fault: str | None
    timestamp: float


def _reply(out: IO[str], payload: Any) -> None:
    out.write(json.dumps(payload, ensure_ascii=False) + "\n")
    out.flush()


def serve(faults: list[dict[str, Any]]) -> None:
    """The child: one stand-in, commands from stdin until "stop" or end of input."""
    from tests.fakes.telegram import BotApiStandIn

    with BotApiStandIn() as api:
        for rule in faults:
            if "count" in rule:
                api.fail_next(**rule)
            else:
                api.fail_ratio(**rule)
        _reply(sys.stdout, {"token": api.token, "base_url": api.base_url})
        for line in sys.stdin:
            command, args = json.loads(line)
            if command == "push":
                stamps = []
                for user, text in args:
                    stamps.append(time.time())
                    api.private_text(user, text)
                _reply(sys.stdout, stamps)
            elif command == "settle":
                # Late answers (a "slow" fault past the bot's read timeout) are still being
                # served: Telegram has the message; wait until the stand-in has it too.
                try:
                    api.wait_for(
                        lambda: all(
                            r.status is not None or r.fault == "drop" for r in api.requests()
                        ),
                        timeout=float(args),
                    )
                    _reply(sys.stdout, True)
                except AssertionError:
                    _reply(sys.stdout, False)
            elif command == "records":
                sent = [
                    [
                        r.method,
                        r.params.get("chat_id"),
                        None if r.params.get("text") is None else str(r.params["text"]),
                        r.ok,
                        r.fault,
                        r.timestamp,
                    ]
                    for r in api.requests()
                ]
                _reply(sys.stdout, {"sent": sent, "violations": list(api.violations)})
            elif command == "stop":
                _reply(sys.stdout, None)
                return


class RemoteStandIn:
    """``with RemoteStandIn() as api``: ``token``, ``base_url``, ``push``, ``records``.

    ``faults``: keyword arguments of ``BotApiStandIn.fail_next`` (those with a ``count``) or
    ``fail_ratio``, applied before it serves."""

    def __init__(self, faults: list[dict[str, Any]] | None = None) -> None:
        self.faults = faults or []
        self.token = ""
        self.base_url = ""
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> RemoteStandIn:
        self._process = subprocess.Popen(
            module_command("bench.remote_standin", json.dumps(self.faults)),
            env=checkout_env(dict(os.environ)),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        hello = self._read()
        self.token, self.base_url = hello["token"], hello["base_url"]
        return self

    def __exit__(self, *exc: object) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        try:
            assert process.stdin is not None
            process.stdin.write(json.dumps(["stop", None]) + "\n")
            process.stdin.close()
            process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()

    def _read(self) -> Any:
        assert self._process is not None and self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the Bot API stand-in process ended (exit {self._process.poll()})")
        return json.loads(line)

    def _call(self, command: str, args: Any = None) -> Any:
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.write(json.dumps([command, args], ensure_ascii=False) + "\n")
        self._process.stdin.flush()
        return self._read()

    def push(self, messages: list[tuple[int, str]]) -> list[float]:
        """Queue private text messages as updates; the time each was queued."""
        stamps: list[float] = self._call("push", messages)
        return stamps

    def settle(self, timeout: float = 30.0) -> bool:
        """Wait until every request received has been answered (or dropped)."""
        return bool(self._call("settle", timeout))

    def records(self) -> tuple[list[Sent], list[str]]:
        """Every request received so far, in arrival order, and the spec violations."""
        got = self._call("records")
        return [Sent(*row) for row in got["sent"]], got["violations"]


if __name__ == "__main__":
    serve(json.loads(sys.argv[1]) if len(sys.argv) > 1 else [])
