"""One scale measurement phase in a fresh process (run by ``scale.py``, not imported by it),
as the product runs them: ``ingest`` (what `g21bot ingest` does: parse, chunk, embed, write
to Chroma) or ``serve`` (what the bot does at start and then per question: open the stack,
answer). Prints one JSON line with the timings and the peak RSS of this process.

Usage: python -m bench.scale_worker '{"phase": "ingest"|"serve", "manifest": ..., "data_dir": ...,
"chroma_port": 0 or a server's port, "questions": ..., "repeats": N}'"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

STARTED = time.perf_counter()


def peak_rss_mb() -> float:
    """This process's own peak RSS. On Linux from /proc (VmHWM): getrusage's ru_maxrss
    survives exec, so a worker started by a large parent would report the parent's size."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)


def settings_for(spec: dict[str, Any]) -> Any:
    from bench.common import bench_settings

    extra = {}
    if spec.get("chroma_port"):
        extra = {"CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(spec["chroma_port"])}
    return bench_settings(Path(spec["data_dir"]), G21_MANIFEST=spec["manifest"], **extra)


def ingest_phase(spec: dict[str, Any]) -> dict[str, Any]:
    from bot.answering.stack import run_ingest
    from retrieval.analyze import warm_up
    from retrieval.corpus import load_corpus

    settings = settings_for(spec)
    warm_up()
    imports_s = time.perf_counter() - STARTED
    started = time.perf_counter()
    corpus = load_corpus(settings.manifest)
    parse_s = time.perf_counter() - started
    started = time.perf_counter()
    # As `g21bot ingest` runs it: a process that only ingests lets the analyzers go.
    report = run_ingest(settings, corpus=corpus, release_analyzers=True)
    return {
        "imports_s": round(imports_s, 2),
        "parse_s": round(parse_s, 3),
        "ingest_s": round(time.perf_counter() - started, 2),
        "chunks": report.added + report.updated + report.unchanged,
        "documents": len(corpus.documents),
        "rss_mb": peak_rss_mb(),
    }


def serve_phase(spec: dict[str, Any]) -> dict[str, Any]:
    from bench.answer_path import timings
    from bench.common import summary_ms
    from bot.answering.engine import AnswerEngine
    from bot.entry.evaluate import read_questions

    settings = settings_for(spec)
    started = time.perf_counter()
    engine = AnswerEngine(settings)
    retriever = engine.stack().retriever  # what the bot does at start
    open_s = time.perf_counter() - started
    questions = read_questions(spec["questions"])
    took = timings(engine, questions, int(spec.get("repeats", 3)))
    answer, search = summary_ms(took["answer"]), summary_ms(took["search"])
    chroma = summary_ms(took["chroma"])
    return {
        "open_s": round(open_s, 2),
        "answer_p50_ms": answer["p50"],
        "answer_p95_ms": answer["p95"],
        "query_p50_ms": search["p50"],
        "query_p95_ms": search["p95"],
        "chroma_p50_ms": chroma["p50"],
        "chroma_p95_ms": chroma["p95"],
        "chroma_filtered": retriever.dense_filter is not None,
        "bm25_p50_ms": summary_ms(took["bm25"])["p50"],
        "bm25_chunks": len(retriever.chunks),
        "questions": len(questions),
        "rss_mb": peak_rss_mb(),
    }


if __name__ == "__main__":
    job = json.loads(sys.argv[1])
    phase = ingest_phase if job["phase"] == "ingest" else serve_phase
    print(json.dumps(phase(job)), flush=True)
