"""Answer latency per question kind and per language (``AnswerEngine.answer``, offline,
warm): every single question of the development sets and every turn of the development
conversations, each turn asked after the turns before it (follow-ups read their history).
Kinds are the engine's own reading of each question."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from .common import DEV_QUESTIONS, bench_settings, median, summary_ms


def _conversations(folder: Path) -> list[list[str]]:
    """Each development question alone, then each development conversation's turns."""
    runs: list[list[str]] = []
    for name in ("dev.jsonl", "dev-un.jsonl"):
        path = folder / name
        if path.is_file():
            rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
            runs += [[row["question"]] for row in rows if row]
    dialogues = folder / "dialogues.jsonl"
    if dialogues.is_file():
        for line in dialogues.read_text(encoding="utf-8").splitlines():
            if line.strip():
                runs.append([turn["text"] for turn in json.loads(line)["turns"]])
    return runs


def measure(data_dir: Path, repeats: int) -> dict[str, Any]:
    """p50/p95 of the per-question median answer time, by kind and by question language."""
    from bot.answering.answer import Turn
    from bot.answering.engine import AnswerEngine

    engine = AnswerEngine(bench_settings(data_dir))
    engine.load()
    by_kind: dict[str, list[float]] = defaultdict(list)
    by_lang: dict[str, list[float]] = defaultdict(list)
    for texts in _conversations(DEV_QUESTIONS.parent):
        history: list[Any] = []
        for text in texts:
            took = []
            answer: Any = None
            for _ in range(max(1, repeats)):
                started = time.perf_counter()
                answer = engine.answer(text, history)
                took.append(time.perf_counter() - started)
            question = engine.question(text, history)
            by_kind[answer.kind or "factoid"].append(median(took))
            by_lang[("zh-hant" if question.traditional else question.lang)].append(median(took))
            history.append(Turn.of(text, answer))
    return {
        "by_kind": {k: {"n": len(v), **summary_ms(v)} for k, v in sorted(by_kind.items())},
        "by_lang": {k: {"n": len(v), **summary_ms(v)} for k, v in sorted(by_lang.items())},
    }
