"""The composer's material (an overview's points, a list's entries): shown to the model as
points it may cite, each standing in its paragraph, and grounded like everything else."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.answering.answer import Answer
from bot.answering.compose import Context
from bot.answering.engine import AnswerEngine
from bot.answering.llm import LLMComposer
from bot.answering.question import Question
from tests.answer_support import ingested_data_dir, settings_for
from tests.fakes.openai import OpenAIStandIn, structured

QUESTION = "What is the Conference on Disarmament's top priority?"
POINT = (14, "the Treaty on the Prohibition of Nuclear Weapons was adopted on 7 July 2017")


@pytest.fixture
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ingested_data_dir(tmp_path_factory)


async def test_material_is_offered_as_points_and_may_be_cited(
    llm: OpenAIStandIn, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", llm.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    settings = settings_for(
        data_dir, G21_LLM_MODEL="openai:stand-in", G21_LLM_RETRIES=0, G21_LLM_TIMEOUT=5
    )
    engine = AnswerEngine(settings_for(data_dir))
    result, _ = engine.search(QUESTION)
    assert 14 not in result.paragraphs[:4]  # the point's paragraph was not among the shown
    ctx = Context(
        Question.build(QUESTION),
        QUESTION,
        result,
        engine.document,
        lambda _term: 1.0,
        kind="overview",
        material=(POINT,),
    )
    answer_text = (
        "The Treaty on the Prohibition of Nuclear Weapons was adopted on 7 July 2017 [¶14]."
    )
    llm.script(
        structured(
            {
                "citations": [{"paragraph": 14, "quote": POINT[1]}],
                "answer": f"{answer_text} It was signed by every State [¶99].",
                "not_covered": False,
            }
        )
    )
    composer = LLMComposer(settings)
    try:
        items = [item async for item in composer.astream(ctx)]
    finally:
        await composer.aclose()

    final = items[-1]
    assert isinstance(final, Answer)
    assert (final.text, final.cited) == (answer_text, [14])
    prompt = llm.chat_requests[0].last_user_text
    assert f"<points>\n[¶14] {POINT[1]}\n</points>" in prompt
