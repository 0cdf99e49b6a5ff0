"""LLM mode in Telegram: live drafts (sendMessageDraft) in private chats, typing only in
groups, and the final verified answer with its buttons — the real python-telegram-bot stack
against the Bot API stand-in, the real LangChain OpenAI client against the OpenAI stand-in."""

from __future__ import annotations

import html
import re

import pytest
from answer_support import cited_reply
from bot_harness import (
    GROUP,
    USER,
    StartBot,
    buttons,
    fixture_api,  # noqa: F401  (a fixture)
    fixture_data_dir,  # noqa: F401  (a fixture)
    fixture_end_of_test_checks,  # noqa: F401  (a fixture)
    fixture_ingested_dir,  # noqa: F401  (a fixture)
    fixture_start_bot,  # noqa: F401  (a fixture)
    mention,
    sent,
)
from openai_standin import OpenAIStandIn, error, structured
from telegram_standin import BotApiStandIn

pytestmark = pytest.mark.filterwarnings(
    "ignore::telegram.warnings.PTBDeprecationWarning",
    "ignore::UserWarning",  # pydantic's serializer note from the openai SDK's stream helper
)

PRIORITY = "What is the highest priority of the Conference on Disarmament?"
GOOD = cited_reply(
    "Nuclear disarmament is the Conference on Disarmament's highest priority [¶8].",
    (8, "Nuclear disarmament is the highest priority of the Conference on Disarmament"),
)


def llm_settings(llm: OpenAIStandIn) -> dict[str, str]:
    return {
        "G21_LLM_MODEL": "openai:stand-in",
        "OPENAI_BASE_URL": llm.base_url,
        "OPENAI_API_KEY": "sk-test",
        "G21_LLM_RETRIES": "0",
        "G21_LLM_COOLDOWN": "0",
        "G21_LLM_TIMEOUT": "10",
    }


async def test_private_chat_streams_drafts_then_sends_the_verified_answer(
    api: BotApiStandIn, llm: OpenAIStandIn, start_bot: StartBot
) -> None:
    llm.script(structured(GOOD))
    bot = await start_bot(**llm_settings(llm))
    await bot.handled(api.private_text(USER, PRIORITY))

    drafts = sent(api, USER, "sendMessageDraft")
    final = sent(api, USER)
    assert drafts, "no live draft in a private chat"
    assert all(int(d.params["draft_id"]) != 0 for d in drafts)
    assert len(final) == 1
    # The draft came before the final message, and showed the beginning of the answer (a
    # whole verified sentence, in HTML with the marker in bold).
    assert drafts[0].timestamp <= final[0].timestamp
    shown = html.unescape(re.sub(r"</?b>", "", str(drafts[0].params["text"])))
    assert str(final[0].result["text"]).startswith(shown)
    assert "[¶8]" in str(final[0].result["text"])
    assert ("¶8", "c:8:en") in buttons(final[0])
    assert llm.chat_requests and llm.chat_requests[-1].stream


async def test_group_gets_typing_but_no_drafts(
    api: BotApiStandIn, llm: OpenAIStandIn, start_bot: StartBot
) -> None:
    llm.script(structured(GOOD))
    bot = await start_bot(**llm_settings(llm))
    await bot.handled(api.group_text(GROUP, USER, mention(PRIORITY)))

    assert not api.requests("sendMessageDraft")
    assert [r for r in sent(api, GROUP, "sendChatAction") if r.params["action"] == "typing"]
    final = sent(api, GROUP)
    assert len(final) == 1 and "[¶8]" in str(final[0].result["text"])


async def test_failing_llm_still_answers_extractively_in_telegram(
    api: BotApiStandIn, llm: OpenAIStandIn, start_bot: StartBot
) -> None:
    llm.script(error(500))
    bot = await start_bot(**llm_settings(llm))
    await bot.handled(api.private_text(USER, PRIORITY))

    final = sent(api, USER)
    assert len(final) == 1
    text = str(final[0].result["text"])
    assert "[¶8]" in text and "highest priority" in text
    assert ("¶8", "c:8:en") in buttons(final[0])
