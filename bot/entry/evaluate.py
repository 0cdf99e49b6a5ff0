"""`g21bot eval`: the scores defined in the evaluation README, over a JSONL question file."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.answering.answer import Answer
from bot.answering.engine import AnswerEngine
from bot.answering.markers import without_markers
from bot.answering.question import Question as Asked
from bot.answering.verify import find_quote
from retrieval.corpus import Document


class EvalFileError(ValueError):
    """The question file is not the JSONL format the evaluation README defines."""


@dataclass(frozen=True)
class Question:
    id: str
    lang: str
    question: str
    paragraphs: tuple[int, ...]
    answerable: bool


def read_questions(path: str | Path) -> list[Question]:
    out = []
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            out.append(
                Question(
                    str(row["id"]),
                    str(row.get("lang", "")),
                    str(row["question"]),
                    tuple(int(p) for p in row.get("paragraphs", [])),
                    bool(row.get("answerable", bool(row.get("paragraphs")))),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise EvalFileError(f"{path}:{lineno}: not a question record ({exc})") from exc
    return out


@dataclass(frozen=True)
class Label:
    """A sentence a (test) model wrote for one question, and whether it made it up."""

    id: str
    sentence: str
    fabricated: bool


def read_labels(path: str | Path) -> list[Label]:
    """Labels as JSONL: ``{"id": question id, "sentence": …, "fabricated": true|false}``."""
    out = []
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            out.append(Label(str(row["id"]), str(row["sentence"]), bool(row["fabricated"])))
        except (ValueError, KeyError, TypeError) as exc:
            raise EvalFileError(f"{path}:{lineno}: not a label record ({exc})") from exc
    return out


def _plain(text: str) -> str:
    """Text as a reader compares it: no markers, folded case and spacing, no end marks."""
    text = re.sub(r"\s+", " ", without_markers(text)).casefold()
    return re.sub(r"\s+([,.;:!?。，；：！？])", r"\1", text).strip(" .。;；")


def shows(texts: Sequence[str], sentence: str) -> bool:
    """True when a reader of ``texts`` reads ``sentence`` (its words, whatever its markers)."""
    wanted = _plain(sentence)
    return bool(wanted) and any(wanted in _plain(t) for t in texts)


def score_labels(
    rows: Sequence[tuple[Question, Answer, list[str]]], labels: Sequence[Label]
) -> dict[str, Any]:
    """Per language: fabricated sentences a user saw (final message or any draft) and the
    share of faithful ones the final message kept."""
    by_id = {q.id: (q, answer, drafts) for q, answer, drafts in rows}
    out: dict[str, dict[str, Any]] = {}
    for label in labels:
        if label.id not in by_id:
            continue
        q, answer, drafts = by_id[label.id]
        block = out.setdefault(
            q.lang, {"fabricated": 0, "fabricated_delivered": 0, "faithful": 0, "kept": 0}
        )
        if label.fabricated:
            block["fabricated"] += 1
            block["fabricated_delivered"] += shows([answer.text, *drafts], label.sentence)
        else:
            block["faithful"] += 1
            block["kept"] += shows([answer.text], label.sentence)
    for block in out.values():
        faithful = block.pop("kept")
        block["supported_kept"] = (
            round(faithful / block["faithful"], 4) if block["faithful"] else 1.0
        )
    return out


def quote_is_valid(document: Document, paragraph: int, quote: str) -> bool:
    """The paragraph exists and the quote stands in one of its language versions, by the
    bot's own verification rule."""
    return find_quote(document, paragraph, quote) is not None


def _percentile(values: Sequence[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return round(ordered[index], 2)


def score(rows: list[tuple[Question, Answer, float]], document: Document) -> dict[str, Any]:
    answerable = [(q, a) for q, a, _ in rows if q.answerable]
    unanswerable = [(q, a) for q, a, _ in rows if not q.answerable]

    def share(count: int, total: int) -> float:
        return round(count / total, 4) if total else 0.0

    def hit(q: Question, a: Answer, k: int) -> bool:
        return any(p in q.paragraphs for p in a.retrieved[:k])

    def rr(q: Question, a: Answer) -> float:
        for rank, p in enumerate(a.retrieved[:10], start=1):
            if p in q.paragraphs:
                return 1.0 / rank
        return 0.0

    citations = [(c.paragraph, c.quote) for _, a, _ in rows for c in a.citations]
    valid = sum(quote_is_valid(document, p, quote) for p, quote in citations)
    latencies = [ms for _, _, ms in rows]
    return {
        "n": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "hit_at_1": share(sum(hit(q, a, 1) for q, a in answerable), len(answerable)),
        "hit_at_3": share(sum(hit(q, a, 3) for q, a in answerable), len(answerable)),
        "mrr": round(sum(rr(q, a) for q, a in answerable) / len(answerable), 4)
        if answerable
        else 0.0,
        "answer_citation_hit": share(
            sum(any(p in q.paragraphs for p in a.cited) for q, a in answerable), len(answerable)
        ),
        "citation_validity": share(valid, len(citations)) if citations else 1.0,
        "abstention_accuracy": share(
            sum(a.abstained and not a.citations for _, a in unanswerable), len(unanswerable)
        ),
        "false_abstention_rate": share(sum(a.abstained for _, a in answerable), len(answerable)),
        "latency_ms": {"p50": _percentile(latencies, 0.5), "p95": _percentile(latencies, 0.95)},
    }


def is_ok(q: Question, a: Answer) -> bool:
    if q.answerable:
        return not a.abstained and any(p in q.paragraphs for p in a.cited)
    return a.abstained and not a.citations


async def evaluate(
    engine: AnswerEngine,
    questions: list[Question],
    labels: Sequence[Label] = (),
    ask: Callable[[Question], Asked | str] | None = None,
) -> dict[str, Any]:
    """Ask every question through the bot's own answer path and score the answers; with
    ``labels`` (what a test model says it made up), also what reached the user of them.
    ``ask`` turns a record into the engine's input (default: the question's text)."""
    document = engine.document
    # Warm up outside the timings: dictionaries and indexes load on first use.
    engine.search("warm-up 预热")
    rows = []
    seen: list[tuple[Question, Answer, list[str]]] = []
    for q in questions:
        drafts: list[str] = []

        async def keep(text: str, drafts: list[str] = drafts) -> None:
            drafts.append(text)

        started = time.perf_counter()
        answer = await engine.aanswer(ask(q) if ask else q.question, on_draft=keep)
        rows.append((q, answer, (time.perf_counter() - started) * 1000))
        seen.append((q, answer, drafts))
    report = score(rows, document)
    report["mode"] = engine.mode
    report["by_lang"] = {
        lang: score([r for r in rows if r[0].lang == lang], document)
        for lang in sorted({q.lang for q in questions})
    }
    report["questions"] = [
        {
            "id": q.id,
            "lang": q.lang,
            "retrieved": a.retrieved[:10],
            "cited": a.cited,
            "abstained": a.abstained,
            "ok": is_ok(q, a),
            "latency_ms": round(ms, 2),
        }
        for q, a, ms in rows
    ]
    if labels:
        report["labelled"] = score_labels(seen, labels)
    return report
