"""Part 2: what a plain LangChain set-up gives on the same questions: ``BM25Retriever``
(rank_bm25) with jieba over ``RecursiveCharacterTextSplitter`` chunks (~200 characters,
overlap 20) of both language versions of the statement, chunks mapped back to the paragraphs
they overlap. It ranks; it never abstains."""

from __future__ import annotations

import re
import time
import warnings
from typing import Any

from .common import summary_ms

CHUNK_SIZE = 200
CHUNK_OVERLAP = 20
K = 10
_WORDISH = re.compile(r"\w")


def paragraph_spans(text: str) -> list[tuple[int, int, int]]:
    """(number, start, end) character spans of the numbered paragraphs ``1.``, ``2.`` … of a
    statement file, in order (the header before ``1.`` belongs to no paragraph)."""
    starts: list[tuple[int, int]] = []
    expected, offset = 1, 0
    for line in text.splitlines(keepends=True):
        if re.match(rf"\s*{expected}\.(?!\d)", line):
            starts.append((expected, offset))
            expected += 1
        offset += len(line)
    ends = [s for _, s in starts[1:]] + [len(text)]
    return [(n, s, e) for (n, s), e in zip(starts, ends, strict=True)]


def overlapping(spans: list[tuple[int, int, int]], start: int, end: int) -> list[int]:
    """Paragraph numbers a chunk [start, end) overlaps, most-overlapped first."""
    shares = [(min(end, e) - max(start, s), n) for n, s, e in spans if min(end, e) > max(start, s)]
    return [n for _, n in sorted(shares, key=lambda x: (-x[0], x[1]))]


def _tokenizer() -> Any:
    import jieba

    jieba.setLogLevel(60)

    def preprocess(text: str) -> list[str]:
        return [w for w in jieba.lcut(text.lower()) if w.strip() and _WORDISH.search(w)]

    return preprocess


def build_retriever(corpus: Any) -> tuple[Any, int]:
    """The peer over every language version of the primary document; and its chunk count."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # langchain-community announces its sunset
        from langchain_community.retrievers import BM25Retriever
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP, add_start_index=True
    )
    documents = []
    for statement in corpus.primary.versions.values():
        text = open(statement.source, encoding="utf-8").read()  # noqa: SIM115 - read once
        spans = paragraph_spans(text)
        for doc in splitter.create_documents([text], metadatas=[{"lang": statement.lang}]):
            start = int(doc.metadata["start_index"])
            doc.metadata["paragraphs"] = overlapping(spans, start, start + len(doc.page_content))
            documents.append(doc)
    retriever = BM25Retriever.from_documents(documents, preprocess_func=_tokenizer(), k=K)
    return retriever, len(documents)


def ranked_paragraphs(docs: list[Any]) -> list[int]:
    out: list[int] = []
    for doc in docs:
        for n in doc.metadata["paragraphs"]:
            if n not in out:
                out.append(n)
    return out


def hits(questions: list[Any], rankings: list[list[int]]) -> dict[str, float]:
    """hit@1 / hit@3 over the answerable questions (a gold paragraph among the first k)."""
    pairs = [(q, r) for q, r in zip(questions, rankings, strict=True) if q.answerable]

    def share(k: int) -> float:
        found = sum(any(p in q.paragraphs for p in r[:k]) for q, r in pairs)
        return round(found / len(pairs), 4) if pairs else 0.0

    return {"hit_at_1": share(1), "hit_at_3": share(3)}


def measure(corpus: Any, questions: list[Any], repeats: int) -> dict[str, Any]:
    retriever, chunks = build_retriever(corpus)
    retriever.invoke("warm-up 预热")
    rankings, took = [], []
    for q in questions:
        times = []
        for _ in range(max(1, repeats)):
            started = time.perf_counter()
            docs = retriever.invoke(q.question)
            times.append(time.perf_counter() - started)
        took.append(sorted(times)[len(times) // 2])
        rankings.append(ranked_paragraphs(docs))
    unanswerable = [q for q in questions if not q.answerable]
    latency = summary_ms(took)
    return {
        **hits(questions, rankings),
        "p50_ms": latency["p50"],
        "p95_ms": latency["p95"],
        "chunks": chunks,
        "abstains": False,
        # the peer answers every question: none of the unanswerable ones is declined
        "abstention_accuracy": 0.0 if unanswerable else None,
        "unanswerable": len(unanswerable),
    }


def ours(questions: list[Any], answers: list[Any], search_p95_ms: float) -> dict[str, Any]:
    """Our side of the comparison from the answer path's own answers: the retriever's ranking
    (a paragraph reference puts that paragraph first), and abstentions."""
    rankings = [list(a.retrieved) for a in answers]
    unanswerable = [(q, a) for q, a in zip(questions, answers, strict=True) if not q.answerable]
    answerable = [(q, a) for q, a in zip(questions, answers, strict=True) if q.answerable]
    declined = sum(a.abstained and not a.citations for _, a in unanswerable)
    return {
        **hits(questions, rankings),
        "p95_ms": search_p95_ms,
        "abstention_accuracy": round(declined / len(unanswerable), 4) if unanswerable else None,
        "false_abstention_rate": round(sum(a.abstained for _, a in answerable) / len(answerable), 4)
        if answerable
        else 0.0,
    }
