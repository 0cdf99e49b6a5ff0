"""Tests of the local Telegram Bot API stand-in, driven by the real python-telegram-bot."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import telegram
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    ReplyParameters,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest

from tests.fakes.telegram import (
    BOT_ID,
    BOT_USER,
    BOT_USERNAME,
    BotApiStandIn,
    check_html,
    spec_path,
)

TOKEN = "123456:TEST-token"
USER = 4242
GROUP = -1001234567890


@pytest.fixture
def api() -> Iterator[BotApiStandIn]:
    with BotApiStandIn(token=TOKEN) as standin:
        yield standin


@pytest.fixture
def spec_api(api: BotApiStandIn) -> BotApiStandIn:
    if not api.spec_available:
        pytest.skip(f"Telegram Bot API spec not found at {spec_path()} (set TELEGRAM_BOT_API_SPEC)")
    return api


@pytest.fixture
async def bot(api: BotApiStandIn) -> AsyncIterator[Bot]:
    request = HTTPXRequest(connection_pool_size=4, read_timeout=5, connect_timeout=5)
    updates_request = HTTPXRequest(connection_pool_size=2, read_timeout=5, connect_timeout=5)
    async with Bot(
        TOKEN, base_url=api.base_url, request=request, get_updates_request=updates_request
    ) as instance:
        yield instance


def raw_post(api: BotApiStandIn, method: str, **kwargs: Any) -> httpx.Response:
    with httpx.Client(timeout=5, trust_env=False) as client:
        return client.post(f"{api.url}/{method}", **kwargs)


def violations_of(api: BotApiStandIn, method: str) -> list[str]:
    return [v for v in api.violations if v.startswith(f"{method}:")]


# -- PTB against the stand-in ---------------------------------------------------------------


async def test_get_me(api: BotApiStandIn, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == BOT_ID
    assert me.username == BOT_USERNAME
    assert me.first_name == "G21 Bot"
    assert me.is_bot
    assert me.can_join_groups is True
    assert me.can_read_all_group_messages is False
    assert me.supports_inline_queries is True
    assert bot.username == BOT_USERNAME  # initialize() called getMe too
    assert [r.method for r in api.requests()] == ["getMe", "getMe"]
    method, params, timestamp = api.requests()[0]
    assert (method, params) == ("getMe", {})
    assert timestamp <= time.time()
    assert api.violations == []


async def test_send_message_html_with_keyboard(api: BotApiStandIn, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("Paragraph 12", callback_data="para:12")],
            [InlineKeyboardButton("Source", url="https://www.un.org/")],
        ]
    )
    text = "<b>Paragraph 12</b> says &lt;disarmament&gt; &amp; more: <i>see</i> <code>p12</code>"
    first = await bot.send_message(USER, text, parse_mode=ParseMode.HTML, reply_markup=keyboard)
    second = await bot.send_message(USER, "Second answer")

    assert first.message_id == 1
    assert second.message_id == 2
    assert first.chat.id == USER
    assert first.chat.type == "private"
    assert first.from_user is not None
    assert first.from_user.id == BOT_ID
    assert first.text == "Paragraph 12 says <disarmament> & more: see p12"
    assert [(e.type, e.offset, e.length) for e in first.entities] == [
        ("bold", 0, 12),
        ("italic", 40, 3),
        ("code", 44, 3),
    ]
    assert first.parse_entities()[first.entities[0]] == "Paragraph 12"
    assert first.reply_markup == keyboard

    sent = api.requests("sendMessage")[0].params
    assert sent["chat_id"] == USER
    assert sent["text"] == text
    assert sent["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "para:12"
    assert api.sent_messages(USER) == [first.text, "Second answer"]
    assert api.sent_messages(USER, raw=True)[0] == text
    assert api.sent_messages(USER + 1) == []
    assert api.violations == []


async def test_get_updates_offset_semantics(api: BotApiStandIn, bot: Bot) -> None:
    first = api.private_text(USER, "What does paragraph 3 say?", language_code="fr")
    second = api.private_text(USER, "And paragraph 4?")
    assert second["update_id"] == first["update_id"] + 1

    updates = await bot.get_updates()
    assert [u.update_id for u in updates] == [first["update_id"], second["update_id"]]
    message = updates[0].message
    assert message is not None
    assert message.text == "What does paragraph 3 say?"
    assert message.chat.type == "private"
    assert message.from_user is not None
    assert message.from_user.language_code == "fr"

    # Without an offset nothing is confirmed: the same updates come again.
    assert len(await bot.get_updates()) == 2
    # limit
    assert [u.update_id for u in await bot.get_updates(limit=1)] == [first["update_id"]]
    # offset = last + 1 confirms both; the queue is empty now.
    assert await bot.get_updates(offset=second["update_id"] + 1) == ()
    assert api.pending_updates() == []

    third = api.private_text(USER, "Thanks")
    updates = await bot.get_updates(offset=second["update_id"] + 1)
    assert [u.update_id for u in updates] == [third["update_id"]]
    assert updates[0].message is not None
    assert updates[0].message.message_id == 3  # message ids count per chat

    # A negative offset keeps only the last updates.
    api.private_text(USER, "a")
    last = api.private_text(USER, "b")
    assert [u.update_id for u in await bot.get_updates(offset=-1)] == [last["update_id"]]
    assert api.violations == []


async def test_get_updates_long_poll_returns_when_an_update_arrives(
    api: BotApiStandIn, bot: Bot
) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=4))
    await api.awaitable_wait_for(lambda: api.requests("getUpdates"))
    update = api.private_text(USER, "hello")
    updates = await poll
    assert [u.update_id for u in updates] == [update["update_id"]]
    assert time.monotonic() - started < 3.5
    assert api.requests("getUpdates")[0].params["timeout"] == 4
    assert api.violations == []


async def test_get_updates_long_poll_times_out_empty(api: BotApiStandIn, bot: Bot) -> None:
    assert await bot.get_updates(timeout=1) == ()


async def test_wait_for_updates_consumed(api: BotApiStandIn, bot: Bot) -> None:
    update = api.private_text(USER, "hi")
    consumed = asyncio.create_task(asyncio.to_thread(api.wait_for_updates_consumed, 5))
    await bot.get_updates(offset=update["update_id"] + 1)
    await consumed


INJECTIONS: dict[str, Callable[[BotApiStandIn], dict[str, Any]]] = {
    "private_text": lambda a: a.private_text(USER, "hello"),
    "group_text": lambda a: a.group_text(GROUP, USER, f"@{BOT_USERNAME} what is G-21?"),
    "group_reply": lambda a: a.group_text(GROUP, USER, "and then?", reply_to_bot=True),
    "command": lambda a: a.command(USER, "start"),
    "group_command": lambda a: a.command(USER, "ask", "p. 5", chat_id=GROUP, mention_bot=True),
    "callback": lambda a: a.callback(USER, USER, "para:5", 7),
    "inline_query": lambda a: a.inline_query(USER, "paragraph 5"),
    "sticker": lambda a: a.sticker(USER),
    "photo": lambda a: a.photo(USER, caption="look"),
    "voice": lambda a: a.voice(USER),
    "document": lambda a: a.document(USER),
    "location": lambda a: a.location(USER),
    "edited_text": lambda a: a.edited_text(USER, "edited"),
    "forwarded_text": lambda a: a.forwarded_text(USER, "forwarded"),
    "channel_post": lambda a: a.channel_post(-1009876543210, "news"),
    "push_update": lambda a: a.push_update(
        {
            "my_chat_member": {
                "chat": {"id": GROUP, "type": "supergroup", "title": "G21"},
                "from": {"id": USER, "is_bot": False, "first_name": "Ann"},
                "date": 1_700_000_000,
                "old_chat_member": {"status": "left", "user": BOT_USER},
                "new_chat_member": {"status": "member", "user": BOT_USER},
            }
        }
    ),
}


@pytest.mark.parametrize("name", list(INJECTIONS))
async def test_injected_updates_are_valid(api: BotApiStandIn, bot: Bot, name: str) -> None:
    update = INJECTIONS[name](api)
    assert api.pending_updates()[-1] == update
    parsed = Update.de_json(json.loads(json.dumps(update)), bot)
    assert parsed.update_id == update["update_id"]
    assert parsed.effective_user is not None or name == "channel_post"
    if api.spec_available:
        assert api.check_object("Update", update) == []
    fetched = await bot.get_updates()
    assert fetched[-1].update_id == update["update_id"]


def test_update_ids_are_unique_and_increasing(api: BotApiStandIn) -> None:
    ids = [factory(api)["update_id"] for factory in INJECTIONS.values()]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


async def test_command_and_mention_entities(api: BotApiStandIn, bot: Bot) -> None:
    update = api.group_text(GROUP, USER, f"/ask@{BOT_USERNAME} what about @{BOT_USERNAME}?")
    message = Update.de_json(update, bot).message
    assert message is not None
    assert message.chat.type == "supergroup"
    entities = message.parse_entities()
    assert list(entities.values()) == [f"/ask@{BOT_USERNAME}", f"@{BOT_USERNAME}"]
    assert [e.type for e in entities] == ["bot_command", "mention"]

    private = Update.de_json(api.command(USER, "start", "deep-link"), bot).message
    assert private is not None
    assert private.text == "/start deep-link"
    assert private.entities[0].type == "bot_command"
    assert private.entities[0].offset == 0

    explicit = api.group_text(GROUP, USER, "/x", entities=[])
    assert "entities" not in explicit["message"]

    emoji = api.private_text(USER, "👍 /help")
    assert emoji["message"]["entities"][0]["offset"] == 3  # UTF-16 code units


async def test_group_reply_to_bot_points_to_bot_message(api: BotApiStandIn, bot: Bot) -> None:
    sent = await bot.send_message(GROUP, "An answer")
    update = Update.de_json(api.group_text(GROUP, USER, "why?", reply_to_bot=True), bot)
    assert update.message is not None
    replied = update.message.reply_to_message
    assert replied is not None
    assert replied.message_id == sent.message_id
    assert replied.from_user is not None
    assert replied.from_user.id == BOT_ID


async def test_callback_for_sent_message(api: BotApiStandIn, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("More", callback_data="more:1")]])
    sent = await bot.send_message(USER, "Answer", reply_markup=keyboard)
    update = Update.de_json(api.callback(USER, USER, "more:1", sent.message_id), bot)
    query = update.callback_query
    assert query is not None
    assert query.data == "more:1"
    assert query.message is not None
    assert query.message.message_id == sent.message_id
    assert isinstance(query.message, telegram.Message)
    assert query.message.text == "Answer"
    assert await query.answer("ok")
    assert api.requests("answerCallbackQuery")[0].params["callback_query_id"] == query.id
    assert api.violations == []


async def test_edit_and_delete(api: BotApiStandIn, bot: Bot) -> None:
    sent = await bot.send_message(USER, "Draft answer")
    edited = await bot.edit_message_text(
        "<b>Final</b> answer", USER, sent.message_id, parse_mode="HTML"
    )
    assert isinstance(edited, telegram.Message)
    assert edited.text == "Final answer"
    assert edited.edit_date is not None
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("<b>Final</b> answer", USER, sent.message_id, parse_mode="HTML")
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Again", callback_data="again")]])
    with_markup = await bot.edit_message_reply_markup(USER, sent.message_id, reply_markup=keyboard)
    assert isinstance(with_markup, telegram.Message)
    assert with_markup.reply_markup == keyboard
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", USER, 999)
    assert api.sent_messages(USER) == ["Draft answer", "Final answer"]
    assert await bot.delete_message(USER, sent.message_id)
    assert api.message(USER, sent.message_id) is None
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(USER, sent.message_id)
    assert api.violations == []


async def test_other_methods(api: BotApiStandIn, bot: Bot) -> None:
    commands = [BotCommand("start", "Start"), BotCommand("ask", "Ask about a paragraph")]
    assert await bot.set_my_commands(commands)
    assert await bot.set_my_commands([BotCommand("start", "Démarrer")], language_code="fr")
    assert await bot.get_my_commands() == tuple(commands)
    assert [c.description for c in await bot.get_my_commands(language_code="fr")] == ["Démarrer"]
    assert await bot.set_my_description("Answers about the G-21 statement")
    assert (await bot.get_my_description()).description == "Answers about the G-21 statement"
    assert await bot.set_my_short_description("G-21 statement helper")
    assert (await bot.get_my_short_description()).short_description == "G-21 statement helper"
    assert await bot.set_my_name("G21 Helper")
    assert (await bot.get_my_name()).name == "G21 Helper"
    assert await bot.set_chat_menu_button(menu_button=telegram.MenuButtonCommands())
    assert isinstance(await bot.get_chat_menu_button(), telegram.MenuButtonCommands)
    assert await bot.send_chat_action(USER, "typing")
    assert await bot.send_message_draft(USER, 1, "Thinking")
    article = InlineQueryResultArticle(
        "1", "Paragraph 5", InputTextMessageContent("<b>5.</b> text", parse_mode="HTML")
    )
    assert await bot.answer_inline_query("77", [article])
    assert await bot.pin_chat_message(USER, 1)  # in the spec, not implemented: True
    assert await bot.set_webhook("https://example.org/hook")
    info = await bot.get_webhook_info()
    assert info.url == "https://example.org/hook"
    with pytest.raises(Conflict):
        await bot.get_updates()
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert (await bot.get_webhook_info()).url == ""
    assert await bot.log_out()
    assert await bot.close()
    assert api.violations == []


# -- faults -----------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_429_raises_retry_after(api: BotApiStandIn, bot: Bot) -> None:
    api.fail_next("sendMessage", "429", retry_after=3)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(USER, "hi")
    assert caught.value.retry_after in (3, timedelta(seconds=3))
    sent = await bot.send_message(USER, "hi")  # only the next call was faulted
    assert sent.message_id == 1
    faulted, ok = api.requests("sendMessage")
    assert (faulted.fault, faulted.status, ok.fault, ok.status) == ("429", 429, None, 200)
    assert api.sent_messages() == ["hi"]
    assert api.violations == []


async def test_500_raises_network_error(api: BotApiStandIn, bot: Bot) -> None:
    api.fail_next("sendMessage", "500", count=2)
    for _ in range(2):
        with pytest.raises(NetworkError):
            await bot.send_message(USER, "hi")
    await bot.send_message(USER, "hi")
    assert [r.fault for r in api.requests("sendMessage")] == ["500", "500", None]


async def test_drop_raises_network_error(api: BotApiStandIn, bot: Bot) -> None:
    api.fail_next("*", "drop")
    with pytest.raises(NetworkError):
        await bot.send_message(USER, "hi")
    record = api.requests("sendMessage")[0]
    assert record.faulted
    assert record.status is None


async def test_slow_answer_times_out(api: BotApiStandIn, bot: Bot) -> None:
    api.fail_next("sendMessage", "slow", delay=3)
    with pytest.raises(TimedOut):
        await bot.send_message(USER, "hi", read_timeout=0.3)
    assert api.requests("sendMessage")[0].fault == "slow"


def test_fail_ratio_is_deterministic() -> None:
    def run() -> list[bool]:
        with (
            BotApiStandIn(token=TOKEN) as standin,
            httpx.Client(timeout=5, trust_env=False) as client,
        ):
            standin.fail_ratio("sendMessage", "500", 0.2, seed=7)
            for i in range(40):
                client.post(f"{standin.url}/sendMessage", data={"chat_id": "1", "text": f"m{i}"})
            client.post(f"{standin.url}/getMe")
            return [r.faulted for r in standin.requests()]

    first, second = run(), run()
    assert first == second
    assert first[-1] is False  # getMe is not affected
    assert 2 <= sum(first) <= 16


def test_unknown_token_and_unknown_method(api: BotApiStandIn) -> None:
    with httpx.Client(timeout=5, trust_env=False) as client:
        response = client.post(f"{api.base_url}999:wrong/getMe")
    assert response.status_code == 401
    assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    response = raw_post(api, "sendTelepathy", data={"chat_id": "1"})
    if api.spec_available:  # without the spec every method is answered with True
        assert response.status_code == 404
        assert response.json()["description"] == "Not Found"
        assert violations_of(api, "sendTelepathy")
    # method names are case-insensitive
    assert raw_post(api, "GETME").json()["result"]["id"] == BOT_ID


async def test_ptb_invalid_token(api: BotApiStandIn) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("999:wrong", base_url=api.base_url):
            pass


# -- spec checking ----------------------------------------------------------------------------


def test_json_body_and_missing_required_field(api: BotApiStandIn) -> None:
    response = raw_post(api, "sendMessage", json={"chat_id": 5, "text": "json body"})
    assert response.json()["result"]["text"] == "json body"
    assert api.requests("sendMessage")[0].params == {"chat_id": 5, "text": "json body"}
    response = raw_post(api, "sendMessage", data={"text": "no chat"})
    if api.spec_available:
        assert response.status_code == 400
        assert response.json()["description"].startswith("Bad Request: ")
        assert "sendMessage: chat_id: required field missing" in api.violations


def test_multipart_upload(spec_api: BotApiStandIn) -> None:
    response = raw_post(
        spec_api,
        "sendDocument",
        data={"chat_id": "5", "caption": "<b>doc</b>", "parse_mode": "HTML"},
        files={"document": ("notes.txt", b"hello", "text/plain")},
    )
    assert response.json() == {"ok": True, "result": True}
    params = spec_api.requests("sendDocument")[0].params
    assert params["chat_id"] == 5
    assert params["document"].filename == "notes.txt"
    assert params["document"].data == b"hello"
    assert spec_api.violations == []


def test_bad_raw_requests_are_recorded_as_violations(spec_api: BotApiStandIn) -> None:
    api = spec_api
    bad_button = {"inline_keyboard": [[{"text": "x", "callback_data": "y" * 65}]]}
    response = raw_post(
        api,
        "sendMessage",
        data={
            "chat_id": "1",
            "text": "x" * 4097,
            "bogus_field": "1",
            "disable_notification": "maybe",
            "reply_markup": json.dumps(bad_button),
        },
    )
    assert response.json()["ok"] is True  # recorded, not rejected
    found = "\n".join(api.violations)
    assert "sendMessage: bogus_field: unknown field" in found
    assert "sendMessage: text: length 4097 characters outside 1-4096 characters" in found
    assert "sendMessage: disable_notification: expected Boolean" in found
    assert "reply_markup.inline_keyboard[0][0].callback_data" in found
    assert "65 bytes outside 1-64 bytes" in found

    api.clear()
    assert api.violations == [] and api.requests() == []
    raw_post(api, "sendMessage", data={"chat_id": "1", "text": "<b>x", "parse_mode": "HTML"})
    raw_post(
        api, "sendMessage", data={"chat_id": "1", "text": "<div>y</div>", "parse_mode": "HTML"}
    )
    raw_post(api, "sendMessage", data={"chat_id": "1", "text": "a < b & c", "parse_mode": "HTML"})
    found = "\n".join(api.violations)
    assert "sendMessage: text: bad HTML: unclosed tag <b>" in found
    assert "sendMessage: text: bad HTML: unsupported tag <div>" in found
    assert "unescaped '<'" in found and "unescaped '&'" in found

    api.clear()
    # text length counts after entity parsing: 4096 visible characters in tags are fine
    raw_post(
        api,
        "sendMessage",
        data={"chat_id": "1", "text": "<b>" + "x" * 4096 + "</b>", "parse_mode": "HTML"},
    )
    assert api.violations == []


def test_nested_objects_are_checked(spec_api: BotApiStandIn) -> None:
    results = [
        {
            "type": "article",
            "id": "1",
            "title": "T",
            "input_message_content": {"message_text": "<i>x", "parse_mode": "HTML"},
        },
        {"type": "article", "id": "2", "input_message_content": {"message_text": "ok"}},
    ]
    raw_post(
        spec_api,
        "answerInlineQuery",
        data={"inline_query_id": "1", "results": json.dumps(results)},
    )
    found = "\n".join(spec_api.violations)
    assert "results[0].input_message_content.message_text: bad HTML: unclosed tag <i>" in found
    assert "results[1].title: required field missing" in found


def test_strict_mode_rejects_violations() -> None:
    with BotApiStandIn(token=TOKEN, strict=True) as api:
        if not api.spec_available:
            pytest.skip(f"Telegram Bot API spec not found at {spec_path()}")
        response = raw_post(api, "sendMessage", data={"chat_id": "1", "text": "x", "foo": "1"})
        assert response.status_code == 400
        assert "foo: unknown field" in response.json()["description"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("<b>bold</b> <strong>s</strong> <i>i</i> <em>e</em> <u>u</u> <ins>n</ins>", None),
        ('<s>s</s> <strike>k</strike> <del>d</del> <span class="tg-spoiler">p</span>', None),
        ('<tg-spoiler>p</tg-spoiler> <a href="https://x.org/?a=1&amp;b=2">l</a>', None),
        ('<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji> <code>c</code>', None),
        ('<pre><code class="language-python">x = 1</code></pre> &quot;q&quot; &#128077;', None),
        ("<blockquote>q</blockquote> <blockquote expandable>e</blockquote>", None),
        ("<b>x", "unclosed tag <b>"),
        ("<div>x</div>", "unsupported tag <div>"),
        ("a<br/>b", "unsupported self-closing tag <br/>"),
        ("<b><i>x</b></i>", "does not match"),
        ("<span>x</span>", 'class="tg-spoiler"'),
        ("<a>x</a>", "<a> without href"),
        ('<b class="c">x</b>', 'unsupported attribute "class" in <b>'),
        ("&nbsp;", "unsupported named entity &nbsp;"),
        ("x > y", "unescaped '>'"),
        ("<code><b>x</b></code>", "nested in <code>/<pre>"),
        ("</i>", "unexpected end tag </i>"),
        ("<!-- c -->", "comments"),
    ],
)
def test_check_html(text: str, problem: str | None) -> None:
    problems = check_html(text)
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems


# -- waiting ----------------------------------------------------------------------------------


def test_wait_for_times_out_with_recent_requests(api: BotApiStandIn) -> None:
    raw_post(api, "sendMessage", data={"chat_id": "1", "text": "visible in the report"})

    def never() -> bool:
        return False

    with pytest.raises(AssertionError) as caught:
        api.wait_for(never, timeout=0.2)
    report = str(caught.value)
    assert "never" in report
    assert "sendMessage -> 200" in report
    assert "visible in the report" in report


async def test_awaitable_wait_for_sees_requests_of_a_concurrent_bot(
    api: BotApiStandIn, bot: Bot
) -> None:
    async def answer_later() -> None:
        await api.awaitable_wait_for(lambda: api.requests("getUpdates"))
        await bot.send_message(USER, "done")

    api.fail_next("getUpdates", "slow", delay=0.0)
    task = asyncio.create_task(answer_later())
    await bot.get_updates()
    texts = await api.awaitable_wait_for(lambda: api.sent_messages(USER), timeout=5)
    await task
    assert texts == ["done"]
    assert api.wait_for_request("sendMessage")[0].ok


async def test_reply_parameters(api: BotApiStandIn, bot: Bot) -> None:
    question = api.private_text(USER, "What is paragraph 9 about?")["message"]
    answer = await bot.send_message(
        USER, "About verification.", reply_parameters=ReplyParameters(question["message_id"])
    )
    assert answer.reply_to_message is not None
    assert answer.reply_to_message.text == "What is paragraph 9 about?"
    with pytest.raises(BadRequest, match=r"(?i)message to be replied not found"):
        await bot.send_message(USER, "x", reply_parameters=ReplyParameters(999))
    assert api.violations == []
