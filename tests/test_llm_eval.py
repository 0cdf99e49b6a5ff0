"""The LLM path measured both ways (``tests/llm_eval.py``, through ``bot.entry.evaluate``):
a hostile scripted model's made-up sentences never reach a user, in the final message or in
any draft; a faithful model's sentences arrive. Also through ``g21bot eval --labels``."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from bot.answering.engine import AnswerEngine
from bot.entry.cli import main
from bot.entry.evaluate import read_questions
from retrieval.corpus import load_corpus
from tests import llm_eval
from tests.answer_support import clear_g21_env, ingested_data_dir, settings_for
from tests.fakes.openai import OpenAIStandIn
from tests.llm_models import SETS, load_bank


async def test_hostile_sentences_never_reach_a_user_and_faithful_ones_do() -> None:
    report = await llm_eval.run("", llm_eval.QUESTIONS, SETS)

    assert set(report) == set(load_corpus().primary.versions)
    for lang, row in report.items():
        assert row["fabricated"] >= 40, lang  # every scenario played
        assert row["fabricated_delivered"] == 0, (lang, row)
        assert row["supported_kept"] >= 0.95, (lang, row)


@pytest.mark.parametrize("model", ["hostile", "faithful"])
def test_eval_command_scores_a_labelled_model(
    model: str,
    llm: OpenAIStandIn,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`g21bot eval FILE --mode llm --labels LABELS`: the labels are the model's own, the
    numbers come from what the eval command saw delivered."""
    data_dir = ingested_data_dir(tmp_path_factory)
    records = [r for r in read_questions(llm_eval.QUESTIONS) if r.lang in ("en", "zh")]
    search = AnswerEngine(settings_for(data_dir))
    asked, labels = llm_eval.script(search, llm, records, load_bank(SETS), model)
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        "".join(
            json.dumps({"id": q.id, "lang": q.lang, "question": q.question}, ensure_ascii=False)
            + "\n"
            for q in asked
        ),
        encoding="utf-8",
    )
    label_file = tmp_path / "labels.jsonl"
    label_file.write_text(
        "".join(
            json.dumps({"id": x.id, "sentence": x.sentence, "fabricated": x.fabricated}) + "\n"
            for x in labels
        ),
        encoding="utf-8",
    )
    clear_g21_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "G21_DATA_DIR": str(data_dir),
        "G21_LLM_MODEL": "openai:stand-in",
        "OPENAI_BASE_URL": llm.base_url,
        "OPENAI_API_KEY": "sk-test",
        "G21_LLM_RETRIES": "0",
        "G21_LLM_COOLDOWN": "0",
        "G21_LOG_LEVEL": "ERROR",
    }.items():
        monkeypatch.setenv(name, value)

    argv = ["eval", str(questions), "--mode", "llm", "--labels", str(label_file), "--json"]
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:  # the CLI configures the root logger for the process
        assert main(argv) == 0
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    report = json.loads(capsys.readouterr().out)

    assert llm.pending == []
    assert set(report["labelled"]) == {"en", "zh"}
    for block in report["labelled"].values():
        assert block["fabricated_delivered"] == 0
        if model == "faithful":
            assert block["fabricated"] == 0
            assert block["supported_kept"] >= 0.95
        else:
            assert block["fabricated"] > 0
    assert report["citation_validity"] == 1.0
