"""Back-off after model failures is per user: one user's timeouts pause the model for that
user only; several users failing within one pause mean the model is down, for everyone."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.answering.backoff import MAX_FACTOR, Backoff
from bot.answering.engine import AnswerEngine
from bot.answering.stack import StackHolder
from tests.answer_support import cited_reply, ingested_data_dir, settings_for
from tests.fakes.openai import OpenAIStandIn, error, last_user_contains, structured

PRIORITY_Q = "What is the Conference on Disarmament's top priority?"
GOOD_P8 = cited_reply(
    "Nuclear disarmament is the highest priority of the Conference on Disarmament [¶8].",
    (8, "Nuclear disarmament is the highest priority of the Conference on Disarmament"),
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_failure_pauses_only_the_user_who_asked() -> None:
    clock = Clock()
    backoff = Backoff(15, outage_users=3, clock=clock)

    backoff.failed("alice")

    assert not backoff.available("alice")
    assert backoff.available("bob")
    assert backoff.available(None)
    clock.now += 15
    assert backoff.available("alice")


def test_repeated_failures_pause_a_user_longer_up_to_a_limit() -> None:
    clock = Clock()
    backoff = Backoff(10, outage_users=99, clock=clock)

    for _ in range(6):
        backoff.failed("mallory")
    clock.now += 10 * MAX_FACTOR - 1

    assert not backoff.available("mallory")
    clock.now += 1
    assert backoff.available("mallory")


def test_a_success_forgets_the_failures() -> None:
    clock = Clock()
    backoff = Backoff(10, clock=clock)
    backoff.failed("alice")
    clock.now += 10
    backoff.succeeded("alice")
    backoff.failed("alice")
    clock.now += 10

    assert backoff.available("alice")  # the base pause again, not twice it


def test_several_users_failing_at_once_pause_everyone() -> None:
    clock = Clock()
    backoff = Backoff(15, outage_users=3, clock=clock)

    backoff.failed("a")
    backoff.failed("b")
    assert backoff.available("c")
    backoff.failed("c")

    assert not backoff.available("d")
    clock.now += 15
    assert backoff.available("d")


def test_one_user_alone_never_pauses_everyone() -> None:
    clock = Clock()
    backoff = Backoff(15, outage_users=2, clock=clock)

    for _ in range(50):
        backoff.failed("mallory")
        clock.now += 1

    assert backoff.available("anyone else")


def test_memory_is_bounded() -> None:
    backoff = Backoff(15, outage_users=10**9, max_users=100)
    for i in range(1000):
        backoff.failed(f"user-{i}")

    assert len(backoff._users) == 100


def test_no_pause_without_a_cooldown() -> None:
    backoff = Backoff(0)
    backoff.failed("alice")

    assert backoff.available("alice")


# --- through the engine --------------------------------------------------------------------

EngineFactory = Callable[..., AnswerEngine]


@pytest.fixture(scope="module")
def holder(tmp_path_factory: pytest.TempPathFactory) -> StackHolder:
    shared = StackHolder(settings_for(ingested_data_dir(tmp_path_factory)))
    shared.get()
    return shared


@pytest.fixture
async def engine(
    llm: OpenAIStandIn, holder: StackHolder, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[AnswerEngine]:
    monkeypatch.setenv("OPENAI_BASE_URL", llm.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    settings = settings_for(
        Path(holder.settings.data_dir),
        G21_LLM_MODEL="openai:stand-in",
        G21_LLM_RETRIES=0,
        G21_LLM_COOLDOWN=600,
        G21_LLM_TIMEOUT=5,
    )
    made = AnswerEngine(settings, holder)
    yield made
    await made.aclose()


async def ask(engine: AnswerEngine, user: str, question: str = PRIORITY_Q) -> Any:
    return await engine.aanswer(engine.question(question, user_key=user))


async def test_one_users_failure_leaves_the_model_on_for_others(
    engine: AnswerEngine, llm: OpenAIStandIn
) -> None:
    llm.script(error(500), structured(GOOD_P8), structured(GOOD_P8))

    first = await ask(engine, "mallory")
    again = await ask(engine, "mallory")
    other = await ask(engine, "alice")
    anonymous = await ask(engine, None)  # type: ignore[arg-type]

    assert first.mode == again.mode == "extractive"
    assert other.mode == anonymous.mode == "llm"
    assert llm.attempts == 3  # mallory's second question never reached the model


async def test_a_down_model_is_paused_for_everyone(
    engine: AnswerEngine, llm: OpenAIStandIn
) -> None:
    llm.script(*[error(500, match=last_user_contains("<question>")) for _ in range(3)])

    for user in ("a", "b", "c"):
        assert (await ask(engine, user)).mode == "extractive"
    later = await ask(engine, "d")

    assert later.mode == "extractive"
    assert llm.attempts == 3
