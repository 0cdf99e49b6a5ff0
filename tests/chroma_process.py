"""`chroma run` as a child process: a real Chroma server on loopback, for the tests and the
benchmarks (the chromadb wheel ships the server)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def chroma_executable() -> str:
    found = shutil.which("chroma", path=os.path.dirname(sys.executable))
    if found is None:
        raise RuntimeError("no `chroma` next to the interpreter (is chromadb installed?)")
    return found


def _default_env() -> dict[str, str]:
    return {**os.environ, "ANONYMIZED_TELEMETRY": "False"}


@dataclass
class ChromaServer:
    """A `chroma run` process serving ``path`` on ``host``:``port``."""

    host: str
    port: int
    path: Path
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def wait_ready(self, timeout: float) -> bool:
        """Poll the heartbeat until it answers; False if the process died or time ran out."""
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1.0) as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    return False
                with contextlib.suppress(httpx.HTTPError):
                    if http.get(f"{self.url}/api/v2/heartbeat").status_code == 200:
                        return True
                time.sleep(0.05)  # not listening yet: probe again
        return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=20)

    def restart(self, timeout: float = 30.0, env: dict[str, str] | None = None) -> None:
        """A new process on the same port and data folder (the old one must have stopped)."""
        self.process = _launch(self.path, self.port, self.log, env, append=True)
        if not self.wait_ready(timeout):
            self.stop()
            raise RuntimeError(
                f"chroma did not restart on port {self.port}; last log:\n{self.log_tail()}"
            )

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:]


def _launch(
    path: Path, port: int, log: Path, env: dict[str, str] | None, append: bool = False
) -> subprocess.Popen[bytes]:
    with log.open("ab" if append else "wb") as out:
        return subprocess.Popen(
            [chroma_executable(), "run", "--path", str(path), "--host", "127.0.0.1",
             "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env if env is not None else _default_env(),
        )  # fmt: skip


def start_chroma_server(
    path: Path, attempts: int = 3, timeout: float = 60.0, env: dict[str, str] | None = None
) -> ChromaServer:
    """Start `chroma run` on a free loopback port; return once its heartbeat answers."""
    path.mkdir(parents=True, exist_ok=True)
    last = ""
    for attempt in range(attempts):
        port = free_port()  # another process may take it first: then try another port
        log = path.parent / f"{path.name}-chroma-{attempt}.log"
        server = ChromaServer("127.0.0.1", port, path, _launch(path, port, log, env), log)
        if server.wait_ready(timeout):
            return server
        server.stop()
        last = server.log_tail()
    raise RuntimeError(f"`chroma run` did not answer its heartbeat; last log:\n{last}")
