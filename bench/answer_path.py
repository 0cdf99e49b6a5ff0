"""Part 1: the answer path (``AnswerEngine.answer``, offline, warm) per question, and in the
same run the raw cost of its two searches: the Chroma query alone (a precomputed vector, the
call the retriever makes) and the BM25 query alone (precomputed terms).
``overhead_ratio`` = answer p50 / (Chroma p50 + BM25 p50): what everything else (parsing
the question, references, fusion, the relevance gate, the extractive answer, the citation
check) costs on top of the two lookups."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from .common import bench_settings, median, percentile, summary_ms


def timings(engine: Any, questions: list[Any], repeats: int) -> dict[str, Any]:
    """Per question the median time (s) of the whole answer, the search, and its two lookups
    alone (the Chroma call the retriever makes, the BM25 query), and the last answer."""
    from retrieval.analyze import terms
    from retrieval.embeddings import query_vector
    from retrieval.search import CANDIDATE_POOL

    stack = engine.stack()
    retriever = stack.retriever
    engine.load()  # dictionaries and indexes load on first use
    out: dict[str, Any] = {"answer": [], "chroma": [], "bm25": [], "search": [], "answers": []}
    for q in questions:
        # What Retriever.search does first: the question's version and its query.
        version, _, query = retriever.prepare(q.question)
        vector = query_vector(stack.choice.embeddings, query)
        query_terms = terms(query, version.lang)
        pool = min(len(version.chunks), CANDIDATE_POOL)  # what the retriever asks both for
        calls = {
            "answer": lambda q=q: engine.answer(q.question),
            # The whole Chroma call the retriever makes for this version (the query and
            # the filter to the version's chunks), given the vector.
            "chroma": lambda v=vector, ver=version: retriever.nearest_in(ver, v),
            "bm25": lambda t=query_terms, ver=version, n=pool: ver.lexical.search(t, n),
            "search": lambda q=q: retriever.search(q.question),
        }
        # Side by side: each repeat times all four in turn, so a slow moment of the machine
        # lands on the whole path and its parts alike, not on one of them.
        times: dict[str, list[float]] = {name: [] for name in calls}
        last_answer: Any = None
        for _ in range(max(1, repeats)):
            for name, call in calls.items():
                started = time.perf_counter()
                result = call()
                times[name].append(time.perf_counter() - started)
                if name == "answer":
                    last_answer = result
        out["answers"].append(last_answer)
        for name, took in times.items():
            out[name].append(median(took))
    return out


def measure(data_dir: Path, questions: list[Any], repeats: int) -> dict[str, Any]:
    """Each question ``repeats`` times; per question the median; p50/p95 over questions."""
    from bot.answering.engine import AnswerEngine

    engine = AnswerEngine(bench_settings(data_dir))
    retriever = engine.stack().retriever
    took = timings(engine, questions, repeats)
    answer_s, chroma_s, bm25_s, search_s = (
        took["answer"],
        took["chroma"],
        took["bm25"],
        took["search"],
    )
    answers = took["answers"]

    answer_ms = summary_ms(answer_s)
    chroma_ms = summary_ms(chroma_s)
    bm25_ms = summary_ms(bm25_s)
    parts = chroma_ms["p50"] + bm25_ms["p50"]
    return {
        "answer_ms": answer_ms,
        "search_ms": summary_ms(search_s),
        "chroma_query_ms": chroma_ms,
        "bm25_query_ms": bm25_ms,
        "overhead_ratio": round(answer_ms["p50"] / parts, 2) if parts else None,
        "answer_path": {
            "questions": len(questions),
            "repeats": repeats,
            "chunks": len(retriever.chunks),
        },
        # for the side-by-side with the peer
        "_answers": answers,
        "_search_p95_ms": round(percentile([s * 1000 for s in search_s], 0.95), 3),
        "_answer_p50_s": median(answer_s),
    }
