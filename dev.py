#!/usr/bin/env python3
"""Set-up and everyday tasks with nothing but Python: `python3 dev.py run|test|lint|fix|eval`.

Creates `.venv` on first use and installs the project (with the pinned versions in
`constraints.txt`) again whenever `pyproject.toml` or `constraints.txt` change."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"


def _digest(extra: str) -> str:
    h = hashlib.sha256(extra.encode())
    for name in ("pyproject.toml", "constraints.txt"):
        path = ROOT / name
        if path.exists():
            h.update(path.read_bytes())
    return h.hexdigest()


def ensure(extra: str = "dev") -> None:
    """Create the virtual environment and install the project if anything changed."""
    stamp = VENV / f".installed-{extra}"
    want = _digest(extra)
    if stamp.exists() and stamp.read_text() == want:
        return
    if not PY.exists():
        print("dev.py: creating .venv", file=sys.stderr)
        venv.create(VENV, with_pip=True)
    print(f"dev.py: installing g21-bot[{extra}] into .venv", file=sys.stderr)
    subprocess.run([PY, "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    target = f".[{extra}]" if extra else "."
    cmd = [PY, "-m", "pip", "install", "-q", "-e", target]
    if (ROOT / "constraints.txt").exists():
        cmd += ["-c", "constraints.txt"]
    subprocess.run(cmd, check=True, cwd=ROOT)
    stamp.write_text(want)


def run(*args: str | Path) -> int:
    return subprocess.call([str(a) for a in args], cwd=ROOT)


def main(argv: list[str]) -> int:
    task, rest = (argv[0], argv[1:]) if argv else ("help", [])
    if task == "run":
        ensure("dev")
        return run(BIN / "g21bot", "run", "--chat", *rest)
    if task == "test":
        ensure("dev")
        return run(PY, "-m", "pytest", *rest)
    if task == "lint":
        ensure("dev")
        return (
            run(BIN / "ruff", "check", ".")
            or run(BIN / "ruff", "format", "--check", ".")
            or run(BIN / "mypy")
        )
    if task == "fix":
        ensure("dev")
        return run(BIN / "ruff", "check", "--fix", ".") or run(BIN / "ruff", "format", ".")
    if task == "env":
        ensure("dev")
        return run(
            PY,
            "-c",
            "from bot.ops.settings import env_example; "
            "open('.env.example', 'w').write(env_example())",
        )
    if task == "eval":
        ensure("dev")
        default = ROOT.parent / "shared" / "eval" / "dev.jsonl"
        return run(BIN / "g21bot", "eval", *(rest or [default]))
    print(__doc__)
    print("tasks: run (the bot, or terminal chat without a token), test, lint, fix, eval, env")
    return 0 if task == "help" else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
