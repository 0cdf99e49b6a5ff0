"""`g21bot eval`: the scores defined in the evaluation README, over a JSONL file of single
questions or of conversations."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bot.answering.answer import Answer
from bot.answering.engine import AnswerEngine
from bot.answering.markers import without_markers
from bot.answering.messages import REPLY_LANGUAGES, message
from bot.answering.question import Question as Asked
from bot.answering.verify import find_quote
from bot.ops.settings import Settings
from retrieval.corpus import Document
from retrieval.language import served_language

T = TypeVar("T")


class EvalFileError(ValueError):
    """The question file is not the JSONL format the evaluation README defines."""


@dataclass(frozen=True)
class Question:
    id: str
    lang: str
    question: str
    paragraphs: tuple[int, ...]
    answerable: bool


def _records(path: str | Path, what: str, build: Callable[[Any], T]) -> list[T]:
    """``build`` applied to every JSON line of ``path``; a bad line names its file and line."""
    out = []
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(build(json.loads(line)))
        except (ValueError, KeyError, TypeError) as exc:
            raise EvalFileError(f"{path}:{lineno}: not a {what} record ({exc})") from exc
    return out


def _question(row: Any) -> Question:
    return Question(
        str(row["id"]),
        str(row.get("lang", "")),
        str(row["question"]),
        tuple(int(p) for p in row.get("paragraphs", [])),
        bool(row.get("answerable", bool(row.get("paragraphs")))),
    )


def read_questions(path: str | Path) -> list[Question]:
    return _records(path, "question", _question)


@dataclass(frozen=True)
class Label:
    """A sentence a (test) model wrote for one question, and whether it made it up."""

    id: str
    sentence: str
    fabricated: bool


def read_labels(path: str | Path) -> list[Label]:
    """Labels as JSONL: ``{"id": question id, "sentence": …, "fabricated": true|false}``."""
    return _records(
        path, "label", lambda r: Label(str(r["id"]), str(r["sentence"]), bool(r["fabricated"]))
    )


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
    engine.load()
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


# --- conversations ----------------------------------------------------------------------

_CITATION_GROUP = re.compile(r"\[(¶\s*\d+(?:\s*(?:,|-|–)\s*¶?\s*\d+)*)\]")


@dataclass(frozen=True)
class DialogueTurn:
    text: str
    lang: str
    paragraphs: tuple[int, ...] = ()
    min_citations: int = 1
    must_include: tuple[tuple[str, ...], ...] = ()
    answerable: bool = True
    smalltalk: bool = False


@dataclass(frozen=True)
class Dialogue:
    id: str
    kind: str
    turns: tuple[DialogueTurn, ...]


def is_dialogue_file(path: str | Path) -> bool:
    """True when the file holds conversations (records with ``turns``), not questions."""
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                return "turns" in json.loads(line)
            except ValueError:
                return False
    return False


def _dialogue(row: Any) -> Dialogue:
    turns = tuple(
        DialogueTurn(
            str(t["text"]),
            str(t.get("lang", "")),
            tuple(int(p) for p in t.get("paragraphs", [])),
            int(t.get("min_citations", 1)),
            tuple(tuple(str(a) for a in group) for group in t.get("must_include", [])),
            bool(t.get("answerable", True)),
            bool(t.get("smalltalk", False)),
        )
        for t in row["turns"]
    )
    return Dialogue(str(row["id"]), str(row.get("kind", "")), turns)


def read_dialogues(path: str | Path) -> list[Dialogue]:
    return _records(path, "conversation", _dialogue)


def cited_paragraphs(reply: str) -> list[int]:
    """Paragraph numbers of the reply's citations: ``[¶N]``, ``[¶N, ¶M]``, ``[¶N-M]``."""
    found: list[int] = []
    for group in _CITATION_GROUP.findall(reply):
        for part in group.split(","):
            numbers = [int(n) for n in re.findall(r"\d+", part)]
            if len(numbers) == 2 and re.search(r"[-–]", part):
                found.extend(range(numbers[0], numbers[1] + 1))
            else:
                found.extend(numbers)
    return list(dict.fromkeys(found))


def is_refusal(reply: str) -> bool:
    """The "does not address this" reply, in any language."""
    folded = _squash(reply)
    return any(
        _squash(message(lang, "not_covered", topic="").rstrip("。.")) in folded
        for lang in REPLY_LANGUAGES
    )


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text).casefold()


def reply_in(reply: str, lang: str) -> bool:
    """The reply is written in ``lang`` (its quotes and markers aside)."""
    words = re.sub(r"“[^”]*”|\[¶[^\]]*\]|¶\s*\d+", " ", reply)
    return served_language(words) == lang


def _success(rows: list[dict[str, Any]]) -> float:
    return round(sum(r["ok"] for r in rows) / len(rows), 4) if rows else 0.0


def turn_passes(turn: DialogueTurn, reply: str) -> bool:
    cited = cited_paragraphs(reply)
    in_lang = reply_in(reply, turn.lang)
    if not turn.answerable:
        return not cited and in_lang
    if turn.smalltalk:
        return bool(reply.strip()) and not is_refusal(reply) and in_lang
    folded = _squash(reply)
    return (
        not is_refusal(reply)
        and len(set(cited) & set(turn.paragraphs)) >= turn.min_citations
        and all(any(_squash(a) in folded for a in group) for group in turn.must_include)
        and in_lang
    )


async def evaluate_dialogues(
    engine: AnswerEngine, settings: Settings, dialogues: list[Dialogue]
) -> dict[str, Any]:
    """Replay every conversation in a fresh private chat through the Telegram front end and
    score the replies as the evaluation README defines."""
    from bot.entry.replay import Replay

    engine.load()
    rows: list[dict[str, Any]] = []
    async with Replay(settings, engine) as replay:
        for dialogue in dialogues:
            chat = replay.new_chat()
            for turn in dialogue.turns:
                started = time.perf_counter()
                reply = await replay.say(chat, turn.text)
                rows.append(
                    {
                        "dialogue": dialogue.id,
                        "kind": dialogue.kind,
                        "text": turn.text,
                        "lang": turn.lang,
                        "cited": cited_paragraphs(reply),
                        "gold": list(turn.paragraphs),
                        "answerable": turn.answerable,
                        "reply_language_ok": reply_in(reply, turn.lang),
                        "ok": turn_passes(turn, reply),
                        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
                        "reply": reply,
                    }
                )

    def share(count: int, total: int) -> float:
        return round(count / total, 4) if total else 0.0

    cites = [(p, r) for r in rows if r["answerable"] and r["cited"] for p in r["cited"]]
    by_dialogue: dict[str, bool] = {}
    for r in rows:
        by_dialogue[r["dialogue"]] = by_dialogue.get(r["dialogue"], True) and r["ok"]
    kinds = sorted({r["kind"] for r in rows})
    return {
        "n_dialogues": len(dialogues),
        "n_turns": len(rows),
        "turn_success": share(sum(r["ok"] for r in rows), len(rows)),
        "dialogue_success": share(sum(by_dialogue.values()), len(by_dialogue)),
        "citation_precision": share(sum(p in r["gold"] for p, r in cites), len(cites))
        if cites
        else 1.0,
        "reply_language": share(sum(r["reply_language_ok"] for r in rows), len(rows)),
        "by_kind": {
            k: share(
                sum(r["ok"] for r in rows if r["kind"] == k), sum(r["kind"] == k for r in rows)
            )
            for k in kinds
        },
        "by_lang": {
            lang: share(
                sum(r["ok"] for r in rows if r["lang"] == lang),
                sum(r["lang"] == lang for r in rows),
            )
            for lang in sorted({r["lang"] for r in rows})
        },
        "latency_ms": {
            "p50": _percentile([r["latency_ms"] for r in rows], 0.5),
            "p95": _percentile([r["latency_ms"] for r in rows], 0.95),
        },
        "turns": rows,
    }
