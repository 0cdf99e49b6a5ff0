"""Part 3: synthetic corpora of growing size, each ingested and searched in a fresh process
(``scale_worker.py``), with embedded Chroma and with a real ``chroma run`` server."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .common import BENCH_DIR, clean_env, log
from .synth import write_corpus

WORKER = BENCH_DIR / "scale_worker.py"
WORKER_TIMEOUT = 3600.0


def run_worker(spec: dict[str, Any], cwd: Path) -> dict[str, Any]:
    """One measurement in a fresh interpreter; its last stdout line is the JSON result."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(WORKER), json.dumps(spec)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=clean_env(),
        timeout=WORKER_TIMEOUT,
        check=False,
    )
    if done.returncode != 0 or not done.stdout.strip():
        raise RuntimeError(
            f"scale worker ({spec['mode']}, {spec['paragraphs']}) failed "
            f"(exit {done.returncode}):\n{done.stderr[-3000:]}"
        )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_s"] = round(time.perf_counter() - started, 2)
    return result


def measure(
    sizes: list[int], modes: list[str], questions: Path, repeats: int, seed: int
) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="g21bench-scale-") as tmp:
        root = Path(tmp)
        for size in sizes:
            started = time.perf_counter()
            manifest = write_corpus(root / f"corpus-{size}", size, seed)
            generated = round(time.perf_counter() - started, 2)
            for mode in modes:
                log(f"scale: {size} paragraphs, {mode} Chroma …")
                data_dir = root / f"data-{size}-{mode}"
                spec = {
                    "manifest": str(manifest),
                    "data_dir": str(data_dir),
                    "mode": mode,
                    "questions": str(questions),
                    "repeats": repeats,
                    "paragraphs": size,
                }
                try:
                    row = {"paragraphs": size, "generate_s": generated, **run_worker(spec, root)}
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    rows.append({"paragraphs": size, "mode": mode, "error": str(exc)[-2000:]})
                    log(f"scale: {size} {mode} failed: {exc}")
                    continue
                finally:
                    _remove(data_dir)
                rows.append(row)
                log(
                    f"scale: {size} {mode}: ingest {row['ingest_s']} s, "
                    f"query p95 {row['query_p95_ms']} ms, rss {row['rss_mb']} MB"
                    + (f" (bot start failed: {row['open_error']})" if "open_error" in row else "")
                )
    return rows


def _remove(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def plot(rows: list[dict[str, Any]], path: Path, machine: dict[str, Any]) -> Path | None:
    """Query latency and ingest time against corpus size (log-log), one line per mode."""
    try:
        import matplotlib
    except ImportError:
        log("matplotlib is not installed: no plot (pip install 'g21-bot[dev]')")
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in rows if "error" not in r]
    if not rows:
        return None
    from matplotlib.ticker import FuncFormatter, NullFormatter

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = {"embedded": "tab:blue", "server": "tab:orange"}
    for mode in sorted({r["mode"] for r in rows}):
        mine = sorted((r for r in rows if r["mode"] == mode), key=lambda r: r["paragraphs"])
        x = [r["paragraphs"] for r in mine]
        color = colors.get(mode)
        left.plot(x, [r["query_p50_ms"] for r in mine], "o-", color=color, label=f"{mode} p50")
        left.plot(x, [r["query_p95_ms"] for r in mine], "s--", color=color, label=f"{mode} p95")
        right.plot(x, [r["ingest_s"] for r in mine], "o-", color=color, label=mode)
    sizes = sorted({r["paragraphs"] for r in rows})
    left.set(ylabel="ms", title="search latency (Retriever.search, warm)")
    right.set(ylabel="s", title="ingest time (retrieval.ingest.ingest)")
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    sparse = FuncFormatter(lambda v, _: f"{v:g}" if f"{v:g}"[0] in "25" else "")
    for ax in (left, right):
        ax.set(xscale="log", yscale="log", xlabel="paragraphs")
        ax.set_xticks(sizes, [f"{s:,}" for s in sizes])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(sparse)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle(
        f"g21bot scale — {machine.get('cores')} cores, {machine.get('memory_gib')} GiB, "
        f"Python {machine.get('python')}, chromadb {machine.get('chromadb')}",
        fontsize=9,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
