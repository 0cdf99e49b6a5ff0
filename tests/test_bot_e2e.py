"""The Telegram bot end to end: the real python-telegram-bot application, polling the local Bot
API stand-in over HTTP. Each test ends with no spec violation and no ERROR log record (see
``bot_harness``)."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any

import pytest

from bot.answering import messages as fixed
from tests.bot_harness import (
    ADMIN,
    GROUP,
    OTHER_USER,
    USER,
    RunningBot,
    StartBot,
    buttons,
    fixture_allow_errors,  # noqa: F401  (a fixture)
    fixture_api,  # noqa: F401  (a fixture)
    fixture_data_dir,  # noqa: F401  (a fixture)
    fixture_end_of_test_checks,  # noqa: F401  (a fixture)
    fixture_ingested_dir,  # noqa: F401  (a fixture)
    fixture_start_bot,  # noqa: F401  (a fixture)
    mention,
    sent,
    texts,
)
from tests.fakes.telegram import BOT_USER, BOT_USERNAME, BotApiStandIn

# AIORateLimiter reads RetryAfter.retry_after, which PTB 22 marks as changing type: not ours.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

MIDDLE_EAST = "What does the Group say about the Middle East?"
PARA_10_ZH = "第10段说了什么？"
# Under a paragraph: its own language's names for the six versions, in a fixed order.
VERSIONS = {"zh": "中文", "en": "English", "fr": "Français", "es": "Español", "ru": "Русский"}
VERSIONS["ar"] = "العربية"


def other_versions(n: int, lang: str) -> list[tuple[str, str]]:
    """The buttons that show paragraph ``n`` in each language but ``lang``."""
    return [(name, f"p:{n}:{code}") for code, name in VERSIONS.items() if code != lang]


NAV_10_ZH = [("◀ ¶9", "p:9:zh"), ("¶11 ▶", "p:11:zh"), *other_versions(10, "zh")]


async def ask(bot: RunningBot, *updates: dict[str, Any]) -> None:
    await bot.handled(*updates)


def last(api: BotApiStandIn, chat_id: int) -> str:
    found = texts(api, chat_id)
    assert found, f"no message to {chat_id}"
    return found[-1]


def callback_answers(api: BotApiStandIn) -> list[dict[str, Any]]:
    return [r.params for r in api.requests("answerCallbackQuery") if r.ok]


# --- done when ------------------------------------------------------------------------------


async def test_private_questions_cite_paragraph_10_and_its_button_opens_it(
    api: BotApiStandIn, start_bot: StartBot
) -> None:
    bot = await start_bot()
    request = api.private_text(USER, PARA_10_ZH)
    question = api.private_text(USER, MIDDLE_EAST)
    await ask(bot, request, question)

    shown, answer = sent(api, USER)
    assert shown.result["text"].startswith("第 10 段 [¶10]\n本集团认可")
    assert "<b>[¶10]</b>" in shown.params["text"] and shown.params["parse_mode"] == "HTML"
    assert buttons(shown) == NAV_10_ZH
    assert "[¶10]" in answer.result["text"] and "Middle East" in answer.result["text"]
    assert ("¶10", "c:10:en") in buttons(answer)

    tap = api.callback(USER, USER, "c:10:en", message_id=answer.result["message_id"])
    await ask(bot, tap)
    assert callback_answers(api)[-1]["callback_query_id"] == tap["callback_query"]["id"]
    opened = sent(api, USER)[-1]
    assert opened.result["text"].startswith("Paragraph 10 [¶10]\nThe Group recognizes")
    assert buttons(opened) == [("◀ ¶9", "p:9:en"), ("¶11 ▶", "p:11:en"), *other_versions(10, "en")]
    assert api.requests("editMessageText") == []


@pytest.mark.parametrize(
    ("delay", "slow", "typing"),
    [
        ("0.5", 0.0, False),  # the default: an answer in milliseconds shows no "typing…"
        ("0", 0.0, True),  # 0: before every answer
        ("0.05", 0.3, True),  # an answer slower than the delay shows it meanwhile
    ],
)
async def test_typing_shows_only_while_an_answer_takes_time(
    api: BotApiStandIn,
    start_bot: StartBot,
    monkeypatch: pytest.MonkeyPatch,
    delay: str,
    slow: float,
    typing: bool,
) -> None:
    bot = await start_bot(G21_TYPING_DELAY=delay)
    engine = bot.state.engine
    original = engine.aanswer

    async def answer(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(slow)  # a slow store, say
        return await original(*args, **kwargs)

    monkeypatch.setattr(engine, "aanswer", answer)
    await ask(bot, api.private_text(USER, MIDDLE_EAST))
    calls = [r.method for r in api.requests() if r.params.get("chat_id") == USER]
    assert calls == (["sendChatAction", "sendMessage"] if typing else ["sendMessage"])
    assert "[¶10]" in last(api, USER)


async def test_supergroup_ignores_chatter_and_answers_when_addressed(
    api: BotApiStandIn, start_bot: StartBot
) -> None:
    bot = await start_bot()
    chatter = [
        api.group_text(GROUP, USER, "just chatting about the weather"),
        api.group_text(GROUP, USER, "what about paragraph 8?"),
        api.group_text(GROUP, USER, "/ask@other_bot 第八段"),
        api.group_text(GROUP, USER, "/frobnicate"),
    ]
    await ask(bot, *chatter)
    assert sent(api, GROUP) == []
    assert api.requests("sendChatAction") == []

    addressed = {
        "mention": api.group_text(GROUP, USER, mention("第八段")),
        "reply": api.group_text(GROUP, OTHER_USER, MIDDLE_EAST, reply_to_bot=True),
        "ask": api.group_text(GROUP, USER, f"/ask {PARA_10_ZH}"),
        "ask@bot": api.group_text(GROUP, OTHER_USER, f"/ask@{BOT_USERNAME} paragraph 3"),
        "MENTION": api.group_text(GROUP, USER, f"@{BOT_USERNAME.upper()} ¶5?"),
    }
    await ask(bot, *addressed.values())
    replies = sent(api, GROUP)
    assert len(replies) == 5
    expected = ["[¶8]", "[¶10]", "[¶10]", "[¶3]", "[¶5]"]
    for reply, update, marker in zip(replies, addressed.values(), expected, strict=True):
        assert marker in reply.result["text"]
        # In a group the answer quotes the question it answers.
        assert reply.params["reply_parameters"]["message_id"] == update["message"]["message_id"]
    assert replies[0].result["text"].startswith("第 8 段")


async def test_group_command_for_this_bot_gets_a_reply(
    api: BotApiStandIn, start_bot: StartBot
) -> None:
    bot = await start_bot()
    unknown = api.group_text(GROUP, USER, f"/frobnicate@{BOT_USERNAME}")
    empty_ask = api.group_text(GROUP, USER, "/ask")
    await ask(bot, unknown, empty_ask)
    assert texts(api, GROUP)[0].startswith("I don't know that command")
    assert texts(api, GROUP)[1].startswith("Please type a question")


async def test_sticker_gets_a_text_only_reply(api: BotApiStandIn, start_bot: StartBot) -> None:
    bot = await start_bot()
    await ask(bot, api.sticker(USER))
    assert texts(api, USER) == ["I can only answer text questions. Please type your question."]


# --- commands -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language_code", "greeting"),
    [
        ("zh-hans", "您好！"),
        ("zh", "您好！"),
        ("en", "Hello!"),
        ("fr", "Bonjour !"),
        ("es-419", "¡Hola!"),
        ("ru", "Здравствуйте!"),
        ("ar", "مرحبا!"),
        ("de", "Hello!"),
        (None, "Hello!"),
    ],
)
async def test_start_follows_the_users_language(
    api: BotApiStandIn, start_bot: StartBot, language_code: str | None, greeting: str
) -> None:
    bot = await start_bot()
    await ask(bot, api.command(USER, "start", language_code=language_code))
    assert last(api, USER).startswith(greeting)
    assert "/help" in last(api, USER)


async def test_help_lists_the_commands_and_inline_use(
    api: BotApiStandIn, start_bot: StartBot
) -> None:
    bot = await start_bot()
    await ask(bot, api.command(USER, "help"), api.command(USER, "help", language_code="zh"))
    english, chinese = texts(api, USER)
    for command in ("/para", "/about", "/lang", "/reset", "/ask", f"@{BOT_USERNAME}"):
        assert command in english and command in chinese
    assert chinese.startswith("可用阿拉伯文、中文、英文、法文、俄文或西班牙文提问")
    assert "/lang zh|en|fr|es|ru|ar|auto" in english and "/lang zh|en|fr|es|ru|ar|auto" in chinese


async def test_bot_sets_its_command_menu_in_the_six_languages(
    api: BotApiStandIn, start_bot: StartBot
) -> None:
    await start_bot()
    menus = {r.params.get("language_code") for r in api.requests("setMyCommands") if r.ok}
    assert menus == {None, "zh", "fr", "es", "ru", "ar"}
    for method in ("setMyDescription", "setMyShortDescription"):
        described = {r.params.get("language_code") for r in api.requests(method) if r.ok}
        assert described == menus, method
    for request in api.requests("setMyCommands"):
        names = [c["command"] for c in request.params["commands"]]
        assert names == ["start", "help", "para", "about", "lang", "reset", "ask"]
        (lang,) = [c["description"] for c in request.params["commands"] if c["command"] == "lang"]
        for code in ("zh", "en", "fr", "es", "ru", "ar", "auto"):
            assert code in lang


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("7", "Paragraph 7 [¶7]\n"),
        ("15", "Paragraph 15 [¶15]\n"),
        ("0", "The statement has 15 paragraphs (1-15); there is no paragraph 0."),
        ("99", "The statement has 15 paragraphs (1-15); there is no paragraph 99."),
        ("seven", "Usage: /para N, with N from 1 to 15."),
        ("-3", "Usage: /para N, with N from 1 to 15."),
        ("", "Usage: /para N, with N from 1 to 15."),
    ],
)
async def test_para_command(
    api: BotApiStandIn, start_bot: StartBot, args: str, expected: str
) -> None:
    bot = await start_bot()
    await ask(bot, api.command(USER, "para", args))
    assert last(api, USER).startswith(expected)


async def test_para_command_in_chinese(api: BotApiStandIn, start_bot: StartBot) -> None:
    bot = await start_bot()
    await ask(bot, api.command(USER, "para", "1", language_code="zh-hant"))
    reply = sent(api, USER)[-1]
    assert reply.result["text"].startswith("第 1 段 [¶1]\n")
    assert buttons(reply) == [("¶2 ▶", "p:2:zh"), *other_versions(1, "zh")]


async def test_paragraph_buttons_edit_the_message_in_place(
    api: BotApiStandIn, start_bot: StartBot
) -> None:
    bot = await start_bot()
    await ask(bot, api.command(USER, "para", "14"))
    message_id = sent(api, USER)[-1].result["message_id"]

    steps = [
        ("p:15:en", "Paragraph 15 [¶15]", [("◀ ¶14", "p:14:en"), *other_versions(15, "en")]),
        ("p:15:zh", "第 15 段 [¶15]", [("◀ ¶14", "p:14:zh"), *other_versions(15, "zh")]),
        (
            "p:14:zh",
            "第 14 段 [¶14]",
            [("◀ ¶13", "p:13:zh"), ("¶15 ▶", "p:15:zh"), *other_versions(14, "zh")],
        ),
        (
            "p:14:fr",
            "Paragraphe 14 [¶14]",
            [("◀ ¶13", "p:13:fr"), ("¶15 ▶", "p:15:fr"), *other_versions(14, "fr")],
        ),
        (
            "p:14:es",
            "Párrafo 14 [¶14]",
            [("◀ ¶13", "p:13:es"), ("¶15 ▶", "p:15:es"), *other_versions(14, "es")],
        ),
        (
            "p:14:ru",
            "Пункт 14 [¶14]",
            [("◀ ¶13", "p:13:ru"), ("¶15 ▶", "p:15:ru"), *other_versions(14, "ru")],
        ),
        (
            "p:14:ar",
            "الفقرة 14 [¶14]",
            [("◀ ¶13", "p:13:ar"), ("¶15 ▶", "p:15:ar"), *other_versions(14, "ar")],
        ),
    ]
    for data, head, keyboard in steps:
        tap = api.callback(USER, USER, data, message_id=message_id)
        await ask(bot, tap)
        edit = api.requests("editMessageText")[-1]
        assert edit.ok and edit.params["message_id"] == message_id
        assert buttons(edit) == keyboard
        stored = api.message(USER, message_id)
        assert stored is not None and stored["text"].startswith(head + "\n")
        assert callback_answers(api)[-1]["callback_query_id"] == tap["callback_query"]["id"]
    assert len(sent(api, USER)) == 1  # edits, never new messages
    stored = api.message(USER, message_id)
    assert stored is not None and "الفقرة 14 [¶14]\nوتلاحظ المجموعة" in stored["text"]
    assert stored["text"].endswith(
        "(الاقتباسات مأخوذة من ترجمة عربية غير رسمية للنص الأصلي الصيني.)"
    )


async def test_language_button_under_a_paragraph_shows_the_french_version(
    api: BotApiStandIn, start_bot: StartBot
) -> None:
    bot = await start_bot()
    await ask(bot, api.command(USER, "para", "10"))
    shown = sent(api, USER)[-1]
    assert ("Français", "p:10:fr") in buttons(shown)
    await ask(bot, api.callback(USER, USER, "p:10:fr", message_id=shown.result["message_id"]))
    stored = api.message(USER, shown.result["message_id"])
    assert stored is not None
    assert stored["text"].startswith("Paragraphe 10 [¶10]\nLe Groupe reconnaît")
    assert stored["text"].endswith("\n" + fixed.MESSAGES["fr"]["translation_note"])
    assert ("English", "p:10:en") in buttons(api.requests("editMessageText")[-1])


async def test_unchanged_edit_is_ignored(api: BotApiStandIn, start_bot: StartBot) -> None:
    bot = await start_bot()
    await ask(bot, api.command(USER, "para", "5"))
    message_id = sent(api, USER)[-1].result["message_id"]
    await ask(bot, api.callback(USER, USER, "p:5:en", message_id=message_id))
    (edit,) = api.requests("editMessageText")
    assert edit.status == 400  # "message is not modified": nothing to do, nothing logged
    assert len(callback_answers(api)) == 1
    assert len(sent(api, USER)) == 1


async def test_paragraph_button_under_a_deleted_message_sends_a_new_one(
    api: BotApiStandIn, start_bot: StartBot
) -> None:
    bot = await start_bot()
    await ask(bot, api.command(USER, "help"))  # the chat exists
    gone = {"message_id": 999, "date": int(time.time()), "chat": {"id": USER, "type": "private"}}
    query = {
        "id": "4000000000000999",
        "from": {"id": USER, "is_bot": False, "first_name": "Ann"},
        "message": {**gone, "from": dict(BOT_USER), "text": "An answer since deleted."},
        "chat_instance": "-8000000000000042",
        "data": "p:2:en",
    }
    tap = api.push_update({"callback_query": query})
    await ask(bot, tap)
    (edit,) = api.requests("editMessageText")
    assert edit.status == 400  # "message to edit not found"
    assert last(api, USER).startswith("Paragraph 2 [¶2]")
    assert [a["callback_query_id"] for a in callback_answers(api)] == [query["id"]]


@pytest.mark.parametrize(
    "data", ["x", "p:99:zh", "c:1:de", "p:1:FR", "p:0:en", "c:-1:en", "p:1:en:extra"]
)
async def test_stale_or_forged_button_data_is_answered_gracefully(
    api: BotApiStandIn, start_bot: StartBot, data: str
) -> None:
    bot = await start_bot()
    await ask(bot, api.callback(USER, USER, data))
    (answer,) = callback_answers(api)
    assert answer["text"] == "That button has expired; use /para N instead."
    assert api.requests("editMessageText") == [] and sent(api, USER) == []


async def test_about_describes_the_document(api: BotApiStandIn, start_bot: StartBot) -> None:
    bot = await start_bot()
    await ask(bot, api.command(USER, "about"), api.command(USER, "about", language_code="zh"))
    english, chinese = texts(api, USER)
    assert "Paragraphs: 15" in english and "Submitted by:" in english
    assert "段落数：15" in chinese


async def test_lang_command_sets_the_reply_language(
    api: BotApiStandIn, start_bot: StartBot
) -> None:
    bot = await start_bot()
    await ask(bot, api.command(USER, "lang", "zh"))
    assert last(api, USER) == "回答语言已设为：中文。"
    await ask(bot, api.private_text(USER, MIDDLE_EAST))
    assert last(api, USER).startswith("根据声明：") and "[¶10]" in last(api, USER)

    await ask(bot, api.command(USER, "lang", "en"))
    assert last(api, USER) == "Replies will be in English."
    await ask(bot, api.private_text(USER, PARA_10_ZH))
    assert last(api, USER).startswith("Paragraph 10 [¶10]")

    await ask(bot, api.command(USER, "lang", "auto"))
    await ask(bot, api.private_text(USER, PARA_10_ZH))
    assert last(api, USER).startswith("第 10 段 [¶10]")

    await ask(bot, api.command(USER, "lang", "de"))
    assert last(api, USER).startswith("Usage: /lang zh, /lang en, /lang fr, /lang es, /lang ru")
    assert last(api, USER).endswith(
        "/lang ar or /lang auto (follow the language of each question)."
    )


@pytest.mark.parametrize(
    ("code", "confirmed", "lead"),
    [
        ("zh", "回答语言已设为：中文。", "根据声明："),
        ("en", "Replies will be in English.", "According to the statement:"),
        ("fr", "Langue des réponses : Français.", "Selon la déclaration :"),
        ("es", "Idioma de las respuestas: Español.", "Según la declaración:"),
        ("ru", "Язык ответов: Русский.", "Согласно заявлению:"),
        ("ar", "لغة الردود: العربية.", "وفقا للبيان:"),
    ],
)
async def test_lang_command_takes_each_un_language(
    api: BotApiStandIn, start_bot: StartBot, code: str, confirmed: str, lead: str
) -> None:
    bot = await start_bot()
    await ask(bot, api.command(USER, "lang", code.upper() if code == "ru" else code))
    assert last(api, USER) == confirmed
    # Fixed messages, answers and paragraphs now come in that language, whatever the app's.
    await ask(bot, api.command(USER, "help", language_code="de"))
    assert last(api, USER) == fixed.message(code, "help", bot=BOT_USERNAME)
    await ask(
        bot,
        api.private_text(USER, "What is the highest priority of the Conference on Disarmament?"),
    )
    assert last(api, USER).startswith(lead + "\n") and "[¶8]" in last(api, USER)
    await ask(bot, api.command(USER, "para", "8"))
    shown = sent(api, USER)[-1]
    assert shown.result["text"].startswith(fixed.message(code, "paragraph_head", n=8) + " [¶8]\n")
    nav = [("◀ ¶7", f"p:7:{code}"), ("¶9 ▶", f"p:9:{code}")]
    assert buttons(shown) == nav + other_versions(8, code)


async def test_reset_forgets_the_conversation(api: BotApiStandIn, start_bot: StartBot) -> None:
    bot = await start_bot()
    await ask(bot, api.private_text(USER, MIDDLE_EAST))
    history = bot.state.store.load(f"u:{USER}", USER).history
    assert len(history) == 1 and history[0].paragraphs == (10,)
    await ask(bot, api.command(USER, "reset"))
    assert last(api, USER) == "Done: I have forgotten our conversation."
    assert bot.state.store.load(f"u:{USER}", USER).history == []


# --- inline mode ----------------------------------------------------------------------------


async def test_inline_query_offers_cited_paragraphs(
    api: BotApiStandIn, start_bot: StartBot
) -> None:
    bot = await start_bot()
    query = api.inline_query(USER, "Middle East nuclear-weapon-free zone")
    await ask(bot, query)
    (answer,) = [r for r in api.requests("answerInlineQuery") if r.ok]
    assert answer.params["inline_query_id"] == query["inline_query"]["id"]
    results = answer.params["results"]
    assert 1 <= len(results) <= 50
    assert all(re.match(r"¶\d+ ", r["title"]) for r in results)
    assert results[0]["title"].startswith("¶10 ")
    content = results[0]["input_message_content"]
    assert content["message_text"].endswith("<b>[¶10]</b>") and content["parse_mode"] == "HTML"


async def test_inline_results_in_a_chosen_language_are_personal(
    api: BotApiStandIn, start_bot: StartBot
) -> None:
    bot = await start_bot()
    await ask(bot, api.inline_query(USER, "核裁军"))
    await ask(bot, api.command(USER, "lang", "en"), api.inline_query(USER, "核裁军"))
    shared, personal = [r.params for r in api.requests("answerInlineQuery")]
    assert not shared.get("is_personal") and shared["results"][0]["id"].startswith("zh-")
    assert personal["is_personal"] is True and personal["results"][0]["id"].startswith("en-")


async def test_empty_inline_query_lists_the_paragraphs(
    api: BotApiStandIn, start_bot: StartBot
) -> None:
    bot = await start_bot()
    await ask(bot, api.inline_query(USER, ""), api.inline_query(USER, "量子计算机"))
    listing, unrelated = [r.params["results"] for r in api.requests("answerInlineQuery")]
    assert [r["title"].split()[0] for r in listing] == [f"¶{n}" for n in range(1, 16)]
    assert unrelated == []


# --- odd input ------------------------------------------------------------------------------

EMPTY = "Please type a question about the G-21 statement"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("   \u200b\u200d\u2060  ", EMPTY),
        ("\ufeff\u200b", EMPTY),
        ("👍🎉🕊️", EMPTY),
        ("?!…", EMPTY),
        ("Middle East " * 100, "That question is 1199 characters long; please keep it under 1000."),
    ],
)
async def test_odd_text_gets_a_clear_reply(
    api: BotApiStandIn, start_bot: StartBot, text: str, expected: str
) -> None:
    bot = await start_bot()
    await ask(bot, api.private_text(USER, text))
    assert texts(api, USER) == [texts(api, USER)[0]]
    assert texts(api, USER)[0].startswith(expected)


async def test_right_to_left_text_is_answered(api: BotApiStandIn, start_bot: StartBot) -> None:
    bot = await start_bot()
    await ask(
        bot,
        api.private_text(USER, "ماذا تقول المجموعة عن الشرق الأوسط؟"),
        api.private_text(USER, "\u202bMiddle East\u202c \u05e9\u05dc\u05d5\u05dd"),
    )
    arabic, mixed = texts(api, USER)
    assert arabic.strip() and "[¶" in mixed


async def test_question_at_the_length_limit_is_answered(
    api: BotApiStandIn, start_bot: StartBot
) -> None:
    bot = await start_bot(G21_MAX_QUESTION_CHARS=60)
    question = MIDDLE_EAST.ljust(60, "?")
    await ask(bot, api.private_text(USER, question), api.private_text(USER, question + "?"))
    answer, refusal = texts(api, USER)
    assert "[¶10]" in answer
    assert refusal == "That question is 61 characters long; please keep it under 60."


@pytest.mark.parametrize("kind", ["sticker", "photo", "voice", "document", "location"])
async def test_non_text_messages_get_a_text_only_reply(
    api: BotApiStandIn, start_bot: StartBot, kind: str
) -> None:
    bot = await start_bot()
    update = getattr(api, kind)(USER)
    await ask(bot, update)
    assert texts(api, USER) == ["I can only answer text questions. Please type your question."]


async def test_photo_with_a_question_caption_gets_a_text_only_reply(
    api: BotApiStandIn, start_bot: StartBot
) -> None:
    bot = await start_bot()
    await ask(bot, api.photo(USER, caption=MIDDLE_EAST))
    assert texts(api, USER) == ["I can only answer text questions. Please type your question."]


async def test_edited_question_is_answered_again_with_a_note(
    api: BotApiStandIn, start_bot: StartBot
) -> None:
    bot = await start_bot()
    first = api.private_text(USER, "第3段")
    await ask(bot, first)
    edited = api.edited_text(USER, "第4段", message_id=first["message"]["message_id"])
    await ask(bot, edited)
    original, note, again = texts(api, USER)
    assert original.startswith("第 3 段 [¶3]")
    assert note == "（您编辑了消息，以下是对新内容的回答。）"
    assert again.startswith("第 4 段 [¶4]")


async def test_forwarded_question_is_answered(api: BotApiStandIn, start_bot: StartBot) -> None:
    bot = await start_bot()
    await ask(bot, api.forwarded_text(USER, MIDDLE_EAST))
    assert "[¶10]" in last(api, USER)


async def test_channel_posts_are_deliberately_ignored(
    api: BotApiStandIn, start_bot: StartBot
) -> None:
    bot = await start_bot()
    channel = -100_777
    posts = [
        api.channel_post(channel, MIDDLE_EAST),
        api.channel_post(channel, f"/ask@{BOT_USERNAME} {PARA_10_ZH}"),
        api.channel_post(channel, mention("第八段")),
    ]
    await ask(bot, *posts)
    assert [r for r in api.requests() if r.params.get("chat_id") == channel] == []


async def test_unknown_command_gets_a_hint(api: BotApiStandIn, start_bot: StartBot) -> None:
    bot = await start_bot()
    await ask(bot, api.command(USER, "frobnicate"), api.command(USER, "x", language_code="zh"))
    assert texts(api, USER) == [
        "I don't know that command. /help lists what I can do.",
        "我不认识这个命令。/help 查看可用命令。",
    ]


# --- limits and roles -----------------------------------------------------------------------


async def test_rate_limit_slows_one_user_down_only(api: BotApiStandIn, start_bot: StartBot) -> None:
    bot = await start_bot(G21_RATE_LIMIT_PER_MINUTE=2)
    questions = [api.private_text(USER, q) for q in ("paragraph 1", MIDDLE_EAST, "¶2")]
    other = api.private_text(OTHER_USER, MIDDLE_EAST)
    await ask(bot, *questions, other)
    first, second, third = texts(api, USER)
    assert first.startswith("Paragraph 1") and "[¶10]" in second
    assert third.startswith("You are asking faster than I can answer well.")
    assert "[¶10]" in last(api, OTHER_USER)
    # Commands are not questions: still served.
    await ask(bot, api.command(USER, "para", "2"))
    assert last(api, USER).startswith("Paragraph 2 [¶2]")


async def test_allow_list_keeps_the_bot_private(api: BotApiStandIn, start_bot: StartBot) -> None:
    bot = await start_bot(G21_ALLOWED_IDS=f"{USER},{GROUP}", G21_ADMIN_IDS=str(ADMIN))
    updates = [
        api.private_text(USER, MIDDLE_EAST),
        api.private_text(OTHER_USER, MIDDLE_EAST),
        api.private_text(ADMIN, MIDDLE_EAST),
        api.private_text(777, PARA_10_ZH),
        api.group_text(GROUP, 777, mention(MIDDLE_EAST)),
    ]
    await ask(bot, *updates)
    assert "[¶10]" in last(api, USER)
    assert last(api, OTHER_USER) == "Sorry, this bot is private."
    assert "[¶10]" in last(api, ADMIN)
    assert last(api, 777) == "抱歉，此机器人不对外开放。"
    assert "[¶10]" in last(api, GROUP)  # an allowed group serves all its members


async def test_admin_commands(api: BotApiStandIn, start_bot: StartBot) -> None:
    bot = await start_bot(G21_ADMIN_IDS=f"{ADMIN},901")
    await ask(bot, api.private_text(USER, MIDDLE_EAST), api.private_text(USER, "第2段"))
    await ask(bot, api.command(USER, "stats"), api.command(USER, "reindex"))
    assert texts(api, USER)[-2:] == ["That command is for the bot's admins."] * 2

    await ask(bot, api.command(ADMIN, "stats"))
    stats = last(api, ADMIN)
    assert "questions 2" in stats and "mode:extractive 1" in stats
    assert "latency p50" in stats and "mode extractive" in stats

    await ask(bot, api.command(ADMIN, "reindex"))
    assert last(api, ADMIN).startswith("Reindexed: ") and "unchanged" in last(api, ADMIN)
    await ask(bot, api.private_text(USER, MIDDLE_EAST))
    assert "[¶10]" in last(api, USER)


# --- errors and Telegram failures -----------------------------------------------------------


async def test_handler_exception_apologises_and_notifies_admins(
    api: BotApiStandIn,
    start_bot: StartBot,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    allow_errors: None,
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot")
    bot = await start_bot(G21_ADMIN_IDS=f"{ADMIN},901")

    async def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the index caught fire")

    monkeypatch.setattr(bot.state.engine, "aanswer", explode)
    question = api.private_text(USER, MIDDLE_EAST, language_code="zh")
    await ask(bot, question)
    assert texts(api, USER) == ["抱歉，回答时出了问题，请再试一次。"]  # the user's language
    for admin in (ADMIN, 901):
        (note,) = texts(api, admin)
        assert note == f"g21bot error in update {question['update_id']} (private): RuntimeError"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None
    assert "the index caught fire" in caplog.text
    assert api.token not in caplog.text

    monkeypatch.undo()
    await ask(bot, api.private_text(USER, MIDDLE_EAST))
    assert "[¶10]" in last(api, USER)


async def test_error_while_apologising_is_only_logged(
    api: BotApiStandIn,
    start_bot: StartBot,
    caplog: pytest.LogCaptureFixture,
    allow_errors: None,
) -> None:
    bot = await start_bot(G21_ADMIN_IDS=str(ADMIN), G21_TELEGRAM_RETRIES="0")
    api.fail_next("sendMessage", "500", count=3)  # the answer, the admin note, the apology
    await ask(bot, api.private_text(USER, MIDDLE_EAST))
    assert texts(api, USER) == [] and texts(api, ADMIN) == []
    assert "could not apologise" in caplog.text and "could not notify admin" in caplog.text
    await ask(bot, api.private_text(USER, MIDDLE_EAST))
    assert "[¶10]" in last(api, USER)


async def test_answers_survive_429s_in_order(api: BotApiStandIn, start_bot: StartBot) -> None:
    bot = await start_bot()
    # Seed 2: two 429s among the first eleven sendMessage calls, so no message can use up
    # AIORateLimiter's three retries, whatever the interleaving of the chats.
    api.fail_ratio("sendMessage", "429", 0.2, seed=2, retry_after=1)
    users = [USER, OTHER_USER, 44]
    wanted = {user: [3 + i, 7 + i, 12 + i] for i, user in enumerate(users)}
    updates = [
        api.private_text(user, f"paragraph {n}")
        for round_ in range(3)
        for user in users
        for n in [wanted[user][round_]]
    ]
    await ask(bot, *updates)
    assert [r for r in api.requests("sendMessage") if r.status == 429], "no 429 was injected"
    for user in users:
        got = [int(re.match(r"Paragraph (\d+)", t)[1]) for t in texts(api, user)]  # type: ignore[index]
        assert got == wanted[user]


async def test_500_on_send_is_resent_and_answered_once(
    api: BotApiStandIn, start_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await start_bot()
    api.fail_next("sendMessage", "500", count=2)
    await ask(bot, api.private_text(USER, MIDDLE_EAST))
    attempts = [r.status for r in api.requests("sendMessage")]
    assert attempts == [500, 500, 200]
    assert len(texts(api, USER)) == 1 and "[¶10]" in last(api, USER)
    assert caplog.text.count("resending in") == 2
    assert api.token not in caplog.text


async def test_500_past_the_resends_gets_an_apology_and_the_bot_carries_on(
    api: BotApiStandIn, start_bot: StartBot, allow_errors: None
) -> None:
    bot = await start_bot(G21_TELEGRAM_RETRIES="1")
    api.fail_next("sendMessage", "500", count=2)  # the answer and its one resend
    await ask(bot, api.private_text(USER, MIDDLE_EAST))
    assert texts(api, USER) == ["Sorry, something went wrong while answering. Please try again."]
    await ask(bot, api.private_text(USER, MIDDLE_EAST))
    assert "[¶10]" in last(api, USER)


async def test_html_rejected_by_telegram_is_resent_as_plain_text(
    api: BotApiStandIn, start_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await start_bot()
    api.fail_next(
        "sendMessage", "400", description="Bad Request: can't parse entities: unclosed tag"
    )
    await ask(bot, api.private_text(USER, PARA_10_ZH))
    rejected, plain = api.requests("sendMessage")
    assert rejected.status == 400 and rejected.params["parse_mode"] == "HTML"
    assert plain.ok and "parse_mode" not in plain.params
    assert plain.params["text"].startswith("第 10 段 [¶10]\n")  # no tags, nothing escaped
    assert buttons(plain) == NAV_10_ZH
    assert "resending as plain text" in caplog.text


async def test_other_bad_requests_are_not_resent(
    api: BotApiStandIn, start_bot: StartBot, allow_errors: None
) -> None:
    bot = await start_bot()
    api.fail_next("sendMessage", "400", description="Bad Request: chat not found")
    await ask(bot, api.private_text(USER, PARA_10_ZH))
    rejected, apology = api.requests("sendMessage")
    assert rejected.status == 400
    assert apology.ok and apology.result["text"].startswith("Sorry, something went wrong")


# --- output ---------------------------------------------------------------------------------


async def test_long_answer_is_split_with_citations_kept(
    api: BotApiStandIn, start_bot: StartBot
) -> None:
    bot = await start_bot()
    await ask(bot, api.private_text(USER, "Show me paragraphs 1-15"))
    messages = sent(api, USER)
    assert len(messages) >= 2
    note = "(Quotes are from an unofficial English translation of the Chinese original.)"
    assert messages[-1].result["text"].endswith("\n" + note)
    seen: list[int] = []
    for message in messages:
        assert len(message.params["text"]) <= 4096 and len(message.result["text"]) <= 4096
        shown = message.result["text"].removesuffix("\n" + note)
        blocks = shown.split("\n\n")
        for block in blocks:
            head, _, body = block.partition("\n")
            number = re.fullmatch(r"Paragraph (\d+) \[¶(\d+)\]", head)
            assert number and number[1] == number[2], head
            assert len(body) > 40  # the paragraph text travels with its citation
            seen.append(int(number[1]))
    assert seen == list(range(1, 16))
    assert not any(buttons(m) for m in messages[:-1])  # a keyboard only under the last one


async def test_all_paragraphs_in_chinese_fit_one_message(
    api: BotApiStandIn, start_bot: StartBot
) -> None:
    bot = await start_bot()
    await ask(bot, api.private_text(USER, "第1-15段"))
    (message,) = sent(api, USER)
    assert len(message.params["text"]) <= 4096
    assert re.findall(r"\[¶(\d+)\]", message.result["text"]) == [str(n) for n in range(1, 16)]


# --- ordering, duplicates, persistence ------------------------------------------------------


async def test_same_update_twice_is_answered_once(
    api: BotApiStandIn, start_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.telegram.processor")
    bot = await start_bot()
    await bot.app.updater.stop()  # type: ignore[union-attr]  # queue both before polling
    update = api.private_text(USER, PARA_10_ZH)
    api.push_update(update)
    later = api.private_text(USER, "第11段")
    assert [u["update_id"] for u in api.pending_updates()].count(update["update_id"]) == 2
    await bot.app.updater.start_polling(poll_interval=0, timeout=5)  # type: ignore[union-attr]
    await ask(bot, update, later)
    assert [t.split("\n")[0] for t in texts(api, USER)] == ["第 10 段 [¶10]", "第 11 段 [¶11]"]
    assert f"update {update['update_id']} delivered twice; handled once" in caplog.text


async def test_conversation_and_language_survive_a_restart(
    api: BotApiStandIn, start_bot: StartBot
) -> None:
    first = await start_bot(persistence=True)
    await ask(first, api.command(USER, "lang", "en"), api.private_text(USER, PARA_10_ZH))
    await ask(first, api.private_text(USER, MIDDLE_EAST))
    assert last(api, USER).startswith("According to the statement:")
    await first.stop()
    assert (first.settings.data_dir / "state.sqlite3").is_file()

    second = await start_bot(persistence=True)
    session = second.state.store.load(f"u:{USER}", USER)
    assert session.lang == "en"
    assert [turn.paragraphs for turn in session.history] == [(10,), (10,)]
    await ask(second, api.private_text(USER, "第3段"))
    assert last(api, USER).startswith("Paragraph 3 [¶3]")  # /lang en is remembered
