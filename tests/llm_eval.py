"""Measure the LLM answer path both ways, through ``bot.entry.evaluate`` (the code behind
``g21bot eval``): a hostile scripted model and a faithful one behind the OpenAI stand-in,
their own labels scored against what users saw (final messages and every draft).

    python -m tests.llm_eval [--manifest PATH] [--questions FILE] [--sets NAME …]

prints, per language, ``fabricated_delivered`` (made-up sentences a user saw: must be 0) and
``supported_kept`` (share of the faithful model's sentences delivered; target ≥ 0.95)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bot.answering.engine import AnswerEngine
from bot.answering.llm import CONTEXT_PARAGRAPHS
from bot.answering.question import Question as Asked
from bot.answering.stack import run_ingest
from bot.entry.evaluate import Label, Question, evaluate, read_questions
from bot.ops.settings import Settings
from tests.fakes.openai import OpenAIStandIn
from tests.llm_models import (
    HOSTILE_SCENARIOS,
    SETS,
    Reply,
    Sentence,
    faithful,
    for_question,
    hostile,
    load_bank,
)

QUESTIONS = Path(__file__).parent / "data" / "llm_questions.jsonl"


def asking(engine: AnswerEngine) -> Callable[[Question], Asked]:
    """A record as the engine's input, replying in the record's language: languages this
    branch does not serve yet (fr, es, ru, ar) are set, not detected."""

    def ask(record: Question) -> Asked:
        asked = engine.question(record.question)
        if asked.reply_lang == record.lang:
            return asked
        return dataclasses.replace(asked, lang=record.lang, reply_lang=record.lang)

    return ask


def script(
    engine: AnswerEngine,
    llm: OpenAIStandIn,
    records: Sequence[Question],
    bank: list[Sentence],
    model: str,
) -> tuple[list[Question], list[Label]]:
    """Queue one reply per question the model will be asked (and per hostile scenario);
    the records to ask and the models' labels."""
    document = engine.document
    ask = asking(engine)
    asked, labels = [], []
    for record in records:
        if record.lang not in document.versions:
            continue
        result, _ = engine.search(ask(record).text)
        if result.request is not None or not result.covered:
            continue  # answered without the model
        shown = result.paragraphs[:CONTEXT_PARAGRAPHS]
        scenarios = HOSTILE_SCENARIOS if model == "hostile" else ("faithful",)
        for scenario in scenarios:
            reply: Reply | None
            if scenario == "faithful":
                reply = faithful(document, bank, record.lang, shown)
            else:
                reply = hostile(document, bank, record.lang, shown, scenario)
            if reply is None:
                continue
            one = dataclasses.replace(record, id=f"{record.id}-{scenario}")
            llm.script(reply.scripted(match=for_question(record.question)))
            asked.append(one)
            labels += [Label(one.id, s.text, s.fabricated) for s in reply.sentences]
    return asked, labels


async def measure(
    engine: AnswerEngine,
    llm: OpenAIStandIn,
    records: Sequence[Question],
    bank: list[Sentence],
    model: str,
) -> dict[str, Any]:
    """``evaluate``'s report for ``model`` ("faithful" or "hostile"), with ``labelled``."""
    asked, labels = script(engine, llm, records, bank, model)
    try:
        return await evaluate(engine, asked, labels, ask=asking(engine))
    finally:
        llm.clear_script()


def llm_settings(data_dir: Path, base_url: str, manifest: str = "") -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        G21_DATA_DIR=str(data_dir),
        G21_MANIFEST=manifest,
        G21_LLM_MODEL="openai:stand-in",
        OPENAI_BASE_URL=base_url,
        OPENAI_API_KEY="sk-test",
        G21_LLM_RETRIES=0,
        G21_LLM_COOLDOWN=0,
        G21_LLM_TIMEOUT=10,
    )


async def run(manifest: str, questions: Path, sets: Sequence[str]) -> dict[str, Any]:
    bank = load_bank(sets)
    records = read_questions(questions)
    with tempfile.TemporaryDirectory() as tmp, OpenAIStandIn() as llm:
        settings = llm_settings(Path(tmp), llm.base_url, manifest)
        run_ingest(settings)
        engine = AnswerEngine(settings)
        try:
            reports = {
                m: await measure(engine, llm, records, bank, m) for m in ("faithful", "hostile")
            }
        finally:
            await engine.aclose()
    out: dict[str, Any] = {}
    for model, report in reports.items():
        for lang, block in report["labelled"].items():
            row = out.setdefault(lang, {"fabricated_delivered": 0, "fabricated": 0})
            row["fabricated_delivered"] += block["fabricated_delivered"]
            row["fabricated"] += block["fabricated"]
            if model == "faithful":
                row["supported_kept"] = block["supported_kept"]
                row["faithful"] = block["faithful"]
            else:
                # The hostile model's good sentences (other marker forms, around a bad one).
                row["kept_among_hostile"] = block["supported_kept"]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", default="", help="corpus manifest (default: the shipped one)")
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--sets", nargs="+", default=list(SETS), help="labelled sentence files")
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(run(args.manifest, args.questions, args.sets)), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
