"""Part 3: synthetic corpora of growing size, with embedded Chroma and with a real
``chroma run`` server. Each size and mode runs as the product does, in two fresh processes
(``scale_worker.py``): the ingest (`g21bot ingest`), then the bot's start and its answers.
Peak RSS is per process; for the server mode the server's own peak is added."""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from .common import checkout_env, clean_env, dir_size_mb, log, module_command, start_chroma
from .synth import write_corpus

WORKER = "bench.scale_worker"
WORKER_TIMEOUT = 3600.0


def run_worker(spec: dict[str, Any], cwd: Path) -> dict[str, Any]:
    """One phase in a fresh interpreter; its last stdout line is the JSON result."""
    started = time.perf_counter()
    done = subprocess.run(
        module_command(WORKER, json.dumps(spec)),
        capture_output=True,
        text=True,
        cwd=cwd,
        env=checkout_env(clean_env()),
        timeout=WORKER_TIMEOUT,
        check=False,
    )
    if done.returncode != 0 or not done.stdout.strip():
        raise RuntimeError(
            f"scale worker ({spec['phase']}, {spec['mode']}, {spec['paragraphs']}) failed "
            f"(exit {done.returncode}):\n{done.stderr[-3000:]}"
        )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_s"] = round(time.perf_counter() - started, 2)
    return result


def peak_rss_of(pid: int) -> float | None:
    """A running process's peak RSS (VmHWM) in MB, where /proc tells it."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError):
        pass
    return None


def measure_one(
    size: int, mode: str, manifest: Path, data_dir: Path, questions: Path, repeats: int
) -> dict[str, Any]:
    """Ingest, then serve, one corpus in one mode."""
    spec: dict[str, Any] = {
        "manifest": str(manifest),
        "data_dir": str(data_dir),
        "mode": mode,
        "questions": str(questions),
        "repeats": repeats,
        "paragraphs": size,
        "chroma_port": 0,
    }
    server = None
    row: dict[str, Any] = {"mode": mode}
    try:
        if mode == "server":
            started = time.perf_counter()
            server = start_chroma(data_dir / "server")
            row["server_start_s"] = round(time.perf_counter() - started, 2)
            spec["chroma_port"] = server.port
        ingested = run_worker({**spec, "phase": "ingest"}, data_dir.parent)
        served = run_worker({**spec, "phase": "serve"}, data_dir.parent)
        if server is not None:
            row["server_rss_mb"] = peak_rss_of(server.process.pid)
    finally:
        if server is not None:
            server.stop()
    row.update({k: v for k, v in ingested.items() if k != "rss_mb"})
    row.update({k: v for k, v in served.items() if k not in ("rss_mb", "process_s")})
    row["ingest_rss_mb"] = ingested["rss_mb"]
    row["serve_rss_mb"] = served["rss_mb"]
    # The larger of the two processes; with a server, the server's peak on top.
    row["rss_mb"] = round(
        max(ingested["rss_mb"], served["rss_mb"]) + (row.get("server_rss_mb") or 0.0), 1
    )
    row["disk_mb"] = dir_size_mb(data_dir / "server" if mode == "server" else data_dir / "chroma")
    return row


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
                data_dir.mkdir(parents=True)
                try:
                    one = measure_one(size, mode, manifest, data_dir, questions, repeats)
                    row = {"paragraphs": size, "generate_s": generated, **one}
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    rows.append({"paragraphs": size, "mode": mode, "error": str(exc)[-2000:]})
                    log(f"scale: {size} {mode} failed: {exc}")
                    continue
                finally:
                    _remove(data_dir)
                rows.append(row)
                log(
                    f"scale: {size} {mode}: ingest {row['ingest_s']} s, "
                    f"answer p95 {row['answer_p95_ms']} ms, rss {row['rss_mb']} MB "
                    f"(ingest {row['ingest_rss_mb']}, serve {row['serve_rss_mb']}"
                    + (f", server {row['server_rss_mb']}" if "server_rss_mb" in row else "")
                    + ")"
                )
    return rows


def _remove(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def plot(rows: list[dict[str, Any]], path: Path, machine: dict[str, Any]) -> Path | None:
    """Answer latency, ingest time and peak RSS against corpus size (log-log), one line per
    Chroma mode."""
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

    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(15, 4.2))
    colors = {"embedded": "tab:blue", "server": "tab:orange"}
    for mode in sorted({r["mode"] for r in rows}):
        mine = sorted((r for r in rows if r["mode"] == mode), key=lambda r: r["paragraphs"])
        x = [r["paragraphs"] for r in mine]
        color = colors.get(mode)
        left.plot(x, [r["answer_p50_ms"] for r in mine], "o-", color=color, label=f"{mode} p50")
        left.plot(x, [r["answer_p95_ms"] for r in mine], "s--", color=color, label=f"{mode} p95")
        middle.plot(x, [r["ingest_s"] for r in mine], "o-", color=color, label=mode)
        right.plot(x, [r["rss_mb"] for r in mine], "o-", color=color, label=mode)
    sizes = sorted({r["paragraphs"] for r in rows})
    left.set(ylabel="ms", title="answer latency (AnswerEngine.answer, warm)")
    middle.set(ylabel="s", title="ingest time (retrieval.ingest.ingest)")
    right.set(ylabel="MB", title="peak RSS (larger process; + server)")
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    sparse = FuncFormatter(lambda v, _: f"{v:g}" if f"{v:g}"[0] in "25" else "")
    for ax in (left, middle, right):
        ax.set(xscale="log", yscale="log", xlabel="paragraphs")
        ax.set_xticks(sizes, [f"{s:,}" for s in sizes])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(sparse)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    right.set_yscale("linear")  # a few hundred MB: read off a plain axis
    right.set_ylim(bottom=0)
    right.yaxis.set_major_formatter(plain)
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
