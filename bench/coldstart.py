"""Part 5: cold start. A fresh interpreter on an already-ingested data folder, from process
start until the first answer is ready (imports, settings, opening Chroma, building the
lexical index, answering one question); the median of several runs."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .common import clean_env, median

# Timed from its first line: everything the bot does before it can answer.
CHILD = """\
import time
started = time.perf_counter()
import json, sys
from bot.answering.engine import AnswerEngine
from bot.ops.settings import Settings
imported = time.perf_counter()
answer = AnswerEngine(Settings()).answer(sys.argv[1])
done = time.perf_counter()
print(json.dumps({"in_process_s": done - started, "imports_s": imported - started,
                  "cited": answer.cited}), flush=True)
"""


def _env(data_dir: Path) -> dict[str, str]:
    return clean_env(G21_DATA_DIR=str(data_dir), G21_LOG_LEVEL="WARNING")


def one_run(data_dir: Path, question: str, cwd: Path) -> dict[str, Any]:
    started = time.perf_counter()
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, question],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=_env(data_dir),
    ) as process:
        assert process.stdout is not None
        line = process.stdout.readline()
        ready = time.perf_counter() - started
        _, err = process.communicate(timeout=120)
    if not line.strip():
        raise RuntimeError(f"cold-start child failed (exit {process.returncode}):\n{err[-2000:]}")
    result: dict[str, Any] = json.loads(line)
    result["wall_s"] = ready
    return result


def measure(question: str, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="g21bench-cold-") as tmp:
        root = Path(tmp)
        data_dir = root / "data"
        subprocess.run(
            [sys.executable, "-m", "bot.entry.cli", "ingest"],
            cwd=root,
            env=_env(data_dir),
            check=True,
            capture_output=True,
            timeout=300,
        )
        results = [one_run(data_dir, question, root) for _ in range(max(1, runs))]
    return {
        "cold_start_s": round(median([r["wall_s"] for r in results]), 3),
        "in_process_s": round(median([r["in_process_s"] for r in results]), 3),
        "imports_s": round(median([r["imports_s"] for r in results]), 3),
        "runs": len(results),
        "all_s": [round(r["wall_s"], 3) for r in results],
        "answered": bool(results[-1]["cited"]),
    }
