"""One scale measurement in a fresh process (run by ``scale.py``, not imported by it):
ingest a synthetic corpus into embedded Chroma or a ``chroma run`` server started here, open
the retrieval stack as the bot does at start, time searches, and print one JSON line with
the timings, the data size and the peak RSS of this process (and of the server).

Usage: python scale_worker.py '{"manifest": ..., "data_dir": ..., "mode": ..., ...}'"""

from __future__ import annotations

import json
import resource
import sys
import time
from typing import Any

STARTED = time.perf_counter()


def _peak_mb(who: int) -> float:
    peak = resource.getrusage(who).ru_maxrss
    # Linux reports KiB, macOS bytes
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)


def paged_chunks(store: Any, page: int = 10_000) -> list[Any]:
    """Every chunk of the collection, read a page at a time."""
    from retrieval.store import _chunk_from

    collection = store.client.get_collection(store.name, embedding_function=None)
    chunks: list[Any] = []
    while True:
        got = collection.get(include=["documents", "metadatas"], limit=page, offset=len(chunks))
        if not got["ids"]:
            break
        chunks += [
            _chunk_from(d, m) for d, m in zip(got["documents"], got["metadatas"], strict=True)
        ]
    return sorted(chunks, key=lambda c: (c.doc_id, c.lang, c.paragraph, c.index))


def main(spec: dict[str, Any]) -> dict[str, Any]:
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/ for bench.*
    from bench.common import (
        bench_settings,
        dir_size_mb,
        start_chroma,
        summary_ms,
        timed_median,
    )
    from bot.evaluate import read_questions
    from bot.service import StackHolder, open_store
    from retrieval.analyze import terms, warm_up
    from retrieval.corpus import load_corpus
    from retrieval.embeddings import make_embeddings
    from retrieval.errors import StoreUnavailableError
    from retrieval.ingest import ingest
    from retrieval.search import Retriever, expand_aliases
    from retrieval.text import clean_user_text

    imports_s = time.perf_counter() - STARTED
    data_dir = Path(spec["data_dir"])
    mode = spec["mode"]
    server = None
    extra = {}
    extra_fields: dict[str, str] = {}
    if mode == "server":
        started = time.perf_counter()
        server = start_chroma(data_dir / "server")
        extra = {"CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(server.port)}
        server_start_s = time.perf_counter() - started
    try:
        settings = bench_settings(data_dir, G21_MANIFEST=spec["manifest"], **extra)
        warm_up()
        started = time.perf_counter()
        corpus = load_corpus(settings.manifest)
        parse_s = time.perf_counter() - started
        choice = make_embeddings(settings.embeddings)
        store = open_store(settings, corpus, choice)
        started = time.perf_counter()
        report = ingest(corpus, store, settings.chunk_tokens)
        ingest_s = time.perf_counter() - started
        chunks = report.added + report.updated + report.unchanged

        started = time.perf_counter()
        try:
            retriever = StackHolder(settings, auto_ingest=False).get().retriever  # bot start
        except StoreUnavailableError as exc:
            # Recorded, then measured on a paged read so the query numbers still exist.
            extra_fields["open_error"] = str(exc)[:300]
            chunks_read = paged_chunks(store)
            retriever = Retriever(corpus, store, choice, chunks_read, settings.min_coverage)
        open_s = time.perf_counter() - started
        questions = read_questions(spec["questions"])
        retriever.search("warm-up 预热")
        search_s, chroma_s, bm25_s = [], [], []
        repeats = int(spec.get("repeats", 3))
        for q in questions:
            search_s.append(timed_median(lambda q=q: retriever.search(q.question), repeats)[0])
            query = expand_aliases(clean_user_text(q.question))
            vector = choice.embeddings.embed_query(query)
            chroma_s.append(timed_median(lambda v=vector: store.query(v, 50), repeats)[0])
            t = terms(query)
            bm25_s.append(timed_median(lambda t=t: retriever.lexical.search(t, 50), repeats)[0])
        rss_mb = _peak_mb(resource.RUSAGE_SELF)
    finally:
        if server is not None:
            server.stop()
    data = data_dir / "server" if server is not None else data_dir / "chroma"
    search = summary_ms(search_s)
    result = {
        "mode": mode,
        "chunks": chunks,
        "documents": len(corpus.documents),
        "imports_s": round(imports_s, 2),
        "parse_s": round(parse_s, 3),
        "ingest_s": round(ingest_s, 2),
        "open_s": round(open_s, 2),
        "disk_mb": dir_size_mb(data),
        "rss_mb": rss_mb,
        "query_p50_ms": search["p50"],
        "query_p95_ms": search["p95"],
        "chroma_p50_ms": summary_ms(chroma_s)["p50"],
        "chroma_p95_ms": summary_ms(chroma_s)["p95"],
        "bm25_p50_ms": summary_ms(bm25_s)["p50"],
        "bm25_chunks": len(retriever.chunks),
        "questions": len(questions),
        **extra_fields,
    }
    if server is not None:
        # the server was this process's only child: its peak RSS
        result["server_start_s"] = round(server_start_s, 2)
        result["client_rss_mb"] = rss_mb
        result["server_rss_mb"] = _peak_mb(resource.RUSAGE_CHILDREN)
        result["rss_mb"] = round(rss_mb + result["server_rss_mb"], 1)
    return result


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))), flush=True)
