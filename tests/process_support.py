"""`g21bot` (or another command) as a child process in a test: a clean environment, stderr
kept in a file, and never left running."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.ops.settings import Settings


def settings_free_env(drop: Iterable[str] = (), **values: str) -> dict[str, str]:
    """This process's environment without any g21bot setting (nor ``drop``), telemetry off,
    plus ``values``."""
    names = {str(info.alias) for info in Settings.model_fields.values() if info.alias}
    names |= set(drop)
    env = {k: v for k, v in os.environ.items() if k not in names}
    env["ANONYMIZED_TELEMETRY"] = "False"
    env.update(values)
    return env


@contextmanager
def child_process(
    argv: list[str], *, env: dict[str, str], cwd: Path, stderr_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` with stderr in ``stderr_path``; killed on the way out if still running."""
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def terminate(process: subprocess.Popen[bytes], timeout: float) -> int:
    """SIGTERM, as a service manager stops a service; the exit code."""
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=timeout)
