"""Property-based fuzzing (hypothesis, derandomized, bounded in count).

* The running bot: a few thousand generated updates (random Unicode with emoji, RTL,
  zero-width and control characters, up to 4096 characters; commands with random
  arguments; wrong entity offsets; forged button data; inline queries; edits; group chatter
  and channel posts) go through the Bot API stand-in in batches. Every update gets a reply
  or is deliberately ignored, nothing raises (no ERROR record, no apology) and every request
  the bot makes is valid by the Bot API spec.
* The parts underneath: ``AnswerEngine.answer`` never raises and only cites what the
  statement says; ``split_message`` keeps every piece valid Telegram HTML within the limit
  and loses no text; ``find_references`` never raises and finds what was written.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bot.answering.answer import Turn
from bot.answering.engine import AnswerEngine
from bot.answering.messages import MESSAGES, REPLY_LANGUAGES
from bot.entry.evaluate import cited_paragraphs
from bot.telegram.render import MAX_MESSAGE, split_message
from retrieval.corpus import Document
from retrieval.refs import find_references
from tests.answer_support import assert_grounded, ingested_data_dir, settings_for
from tests.bot_harness import (
    RunningBot,
    StartBot,
    fixture_api,  # noqa: F401  (a fixture)
    fixture_data_dir,  # noqa: F401  (a fixture)
    fixture_end_of_test_checks,  # noqa: F401  (a fixture)
    fixture_ingested_dir,  # noqa: F401  (a fixture)
    fixture_start_bot,  # noqa: F401  (a fixture)
)
from tests.fakes.telegram import BOT_USERNAME, BotApiStandIn, TelegramHTML, check_html

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
BOT_EXAMPLES = 150  # batches of conversations: a few thousand updates in all
MIN_UPDATES = 2000
APOLOGIES = {table["error"] for table in MESSAGES.values()}

# --- strategies ---------------------------------------------------------------------------

ODD = (
    "\u200b\u200c\u200d\u2060\ufeff"  # zero-width
    "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2069"  # direction marks
    "\x00\x01\x07\x08\x0b\x0c\x1b\x7f\x85\t\r\n \u00a0\u3000"  # control and space
)
EMOJI = ["👍", "🎉", "🕊️", "👨‍👩‍👧‍👦", "🇨🇳", "🏳️‍🌈", "☢️", "🤖"]
RTL = ["שלום", "مرحبا", "الشرق الأوسط", "؟", "\u05d0\u05b8"]
DOMAIN = [
    "第10段",
    "第七段",
    "第3至5段",
    "paragraph 3",
    "paragraphs 1-15",
    "¶12",
    "§ 99",
    "[¶4]",
    "Middle East",
    "核裁军",
    "裁谈会",
    "无核武器区",
    "Conference on Disarmament",
    "nuclear-weapon-free zone",
    "what about",
    "它",
    "<b>",
    "</i>",
    "&amp;",
    "&",
    "<",
    "?",
    "。",
    "c:3:en",
]
NO_CHATTER = "@/"  # kept out of group chatter, which must be ignored

fragment = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=24),
    st.text(st.sampled_from(ODD), min_size=1, max_size=6),
    st.sampled_from(EMOJI + RTL + DOMAIN),
)
short_text = st.lists(fragment, max_size=8).map("".join)
long_text = st.builds(
    lambda seed, n: (seed * (4096 // len(seed) + 1))[:n],
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=12) | st.sampled_from(DOMAIN),
    st.integers(900, 4096),
)
WORDS = ["What", "does", "the", "Group", "say", "about", "priority", "disarmament", "zones"]
WORDS += ["treaty", "它", "呢", "什么", "中东", "优先", "and", "which", "paragraph", "?"]
# Cues of the question kinds and follow-ups, so the fuzzer reaches every composer.
WORDS += ["summarize", "key points", "mention", "resolutions", "dates", "who submitted"]
WORDS += ["how many paragraphs", "hello", "thanks", "why", "tell me more", "in English please"]
WORDS += ["which paragraph was that", "概括", "要点", "提到", "哪些", "决议", "谢谢", "为什么"]
WORDS += ["¿qué", "párrafo", "пункт", "الفقرة", "resolución", "quand", "когда", "متى"]
question_like = st.lists(
    st.one_of(st.sampled_from(WORDS + DOMAIN), st.sampled_from(EMOJI + RTL + list(ODD))),
    min_size=1,
    max_size=12,
).map(" ".join)
message_text = st.one_of(*[short_text] * 3, *[question_like] * 4, long_text).map(
    lambda text: text or "?"  # Telegram never delivers an empty text message
)
chatter_text = message_text.map(lambda text: re.sub("[@/]", "", text) or "hello")

KNOWN = ["start", "help", "about", "para", "lang", "reset", "ask", "stats", "reindex"]
command_name = st.one_of(
    st.sampled_from(KNOWN),
    st.sampled_from(KNOWN).map(str.upper),
    st.sampled_from(["frobnicate", "x", "settings", "p", "stop"]),
    st.from_regex(r"[A-Za-z0-9_]{1,32}", fullmatch=True),
)
command_args = st.one_of(
    st.just(""),
    st.sampled_from(["3", "0", "15", "16", "99", "-1", "x", "zh", "en", "auto", "fr", "1 2"]),
    st.sampled_from(["第三段", "What about the Middle East?", "¶7", "ZH", " 3 "]),
    short_text.map(lambda text: text.replace("\n", " ")),
)
ENTITY_TYPES = ["mention", "hashtag", "bot_command", "url", "bold", "italic", "code", "email"]


@st.composite
def random_entities(draw: st.DrawFn, text: str) -> list[dict[str, Any]]:
    """Entities whose offsets and lengths need not fit the text (clients do send these)."""
    size = len(text.encode("utf-16-le")) // 2
    return draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "type": st.sampled_from(ENTITY_TYPES),
                    "offset": st.integers(0, size + 8),
                    "length": st.integers(1, size + 8),
                }
            ),
            max_size=4,
        )
    )


callback_data = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=64).map(
        lambda data: data.encode()[:64].decode(errors="ignore")
    ),
    st.from_regex(r"[cp]:-?[0-9]{1,5}:(zh|en|fr|)", fullmatch=True),
    st.sampled_from(["p:1:en", "p:15:zh", "c:10:en", "p:0:en", "p:16:zh", "p:3:en:extra"]),
)
language_code = st.sampled_from([None, "en", "zh", "zh-hans", "ar", "he", "de"])


@dataclass
class Event:
    kind: str
    text: str = ""
    entities: list[dict[str, Any]] | None = None
    flag: str = ""  # command: "", "bot" (@this bot) or "other" (@another bot)


@st.composite
def private_event(draw: st.DrawFn) -> Event:
    kind = draw(
        st.sampled_from(
            ["text"] * 6 + ["entities", "command"] * 2 + ["callback", "edit", "sticker", "inline"]
        )
    )
    if kind == "command":
        name = draw(command_name)
        flag = draw(st.sampled_from(["", "", "bot", "other"]))
        return Event("command", f"{name} {draw(command_args)}".strip(), flag=flag)
    if kind == "callback":
        return Event("callback", draw(callback_data))
    if kind == "inline":
        return Event("inline", draw(short_text).replace("\n", " ")[:256])
    text = draw(message_text)
    entities = draw(random_entities(text)) if kind == "entities" else None
    return Event("text" if kind == "entities" else kind, text, entities)


@st.composite
def group_event(draw: st.DrawFn) -> Event:
    kind = draw(st.sampled_from(["chatter", "chatter", "mention", "reply", "command", "entities"]))
    if kind == "command":
        name = draw(command_name)
        flag = draw(st.sampled_from(["", "bot", "other"]))
        return Event("command", f"{name} {draw(command_args)}".strip(), flag=flag)
    if kind == "entities":
        text = draw(message_text)
        return Event("entities", text, draw(random_entities(text)))
    text = draw(chatter_text)
    if kind == "mention":
        at = draw(st.sampled_from([BOT_USERNAME, BOT_USERNAME.upper()]))
        where = draw(st.booleans())
        text = f"@{at} {text}" if where else f"{text} @{at}"
    return Event(kind, text)


@dataclass
class Conversation:
    kind: str  # private, group or channel
    events: list[Event]
    language: str | None = None


conversation = st.one_of(
    st.builds(Conversation, st.just("private"), st.lists(private_event(), min_size=1, max_size=4),
              language_code),
    st.builds(Conversation, st.just("private"), st.lists(private_event(), min_size=1, max_size=4),
              language_code),
    st.builds(Conversation, st.just("group"), st.lists(group_event(), min_size=1, max_size=4)),
    st.builds(Conversation, st.just("channel"), st.lists(chatter_text.map(lambda t: Event(
        "post", t)), min_size=1, max_size=2)),
)  # fmt: skip


# --- the running bot ------------------------------------------------------------------------


@dataclass
class Expect:
    """What a batch must produce, per chat."""

    replies: Counter[int] = field(default_factory=Counter)  # chat → at least this many
    silent: set[int] = field(default_factory=set)  # chats that must see no request at all
    quoted: dict[tuple[int, int], bool] = field(default_factory=dict)  # group msg → answered?
    callbacks: set[str] = field(default_factory=set)
    inline: set[str] = field(default_factory=set)


def command_text(event: Event) -> str:
    name, _, args = event.text.partition(" ")
    suffix = {"": "", "bot": f"@{BOT_USERNAME}", "other": "@other_bot"}[event.flag]
    return f"/{name}{suffix}" + (f" {args}" if args else "")


def group_command_answered(event: Event) -> bool:
    """Known commands answer unless addressed to another bot; unknown ones only when
    addressed to this one."""
    name = event.text.partition(" ")[0].lower()
    if name in KNOWN:
        return event.flag != "other"
    return event.flag == "bot"


def inject(api: BotApiStandIn, batch: list[Conversation], ids: Iterator[int]) -> tuple:
    updates: list[dict[str, Any]] = []
    expect = Expect()
    for conv in batch:
        n = next(ids)
        if conv.kind == "private":
            user = 10_000_000 + n
            stickered = False
            for event in conv.events:
                if event.kind == "callback":
                    update = api.callback(user, user, event.text)
                    expect.callbacks.add(update["callback_query"]["id"])
                elif event.kind == "inline":
                    update = api.inline_query(user, event.text)
                    expect.inline.add(update["inline_query"]["id"])
                elif event.kind == "sticker":
                    update = api.sticker(user)
                    # "text only" is a notice: once per sender per G21_NOTICE_INTERVAL.
                    if not stickered:
                        expect.replies[user] += 1
                    stickered = True
                elif event.kind == "edit":
                    update = api.edited_text(user, event.text)
                    expect.replies[user] += 1
                else:
                    text = command_text(event) if event.kind == "command" else event.text
                    update = api.private_text(user, text, conv.language, entities=event.entities)
                    expect.replies[user] += 1
                updates.append(update)
        elif conv.kind == "group":
            group, user = -1_001_000_000_000 - n, 20_000_000 + n
            for event in conv.events:
                text = command_text(event) if event.kind == "command" else event.text
                update = api.group_text(
                    group,
                    user,
                    text,
                    entities=event.entities,
                    reply_to_bot=event.kind == "reply",
                )
                updates.append(update)
                if event.kind != "entities":  # with forged entities, either is fine
                    answered = event.kind in ("mention", "reply") or (
                        event.kind == "command" and group_command_answered(event)
                    )
                    expect.quoted[(group, update["message"]["message_id"])] = answered
            if all(e.kind == "chatter" for e in conv.events):
                expect.silent.add(group)
        else:
            channel = -1_002_000_000_000 - n
            for event in conv.events:
                updates.append(api.channel_post(channel, event.text))
            expect.silent.add(channel)
    return updates, expect


def check(requests: list[Any], expect: Expect) -> None:
    by_chat: dict[Any, list[Any]] = {}
    for record in requests:
        by_chat.setdefault(record.params.get("chat_id"), []).append(record)
    requests = [r for r in requests if r.method != "getUpdates"]  # a long poll in flight
    for record in requests:
        # Only a paragraph button on the paragraph already shown is refused ("not modified").
        assert record.status == 200 or record.method == "editMessageText", record.describe()
        if record.method == "sendMessage":
            assert record.result["text"] not in APOLOGIES, record.describe()
    for chat, wanted in expect.replies.items():
        got = [r for r in by_chat.get(chat, []) if r.method == "sendMessage"]
        assert len(got) >= wanted, f"chat {chat}: {len(got)} replies for {wanted} messages"
    for chat in expect.silent:
        assert chat not in by_chat, [r.describe() for r in by_chat[chat]]
    quoted = Counter(
        (r.params["chat_id"], (r.params.get("reply_parameters") or {}).get("message_id"))
        for r in requests
        if r.method == "sendMessage"
    )
    for key, answered in expect.quoted.items():
        assert bool(quoted[key]) == answered, f"group message {key}: answered {quoted[key]}"
    callbacks = Counter(
        r.params["callback_query_id"] for r in requests if r.method == "answerCallbackQuery"
    )
    assert callbacks == Counter(expect.callbacks)
    inline = Counter(
        r.params["inline_query_id"] for r in requests if r.method == "answerInlineQuery"
    )
    assert inline == Counter(expect.inline)


async def run_batch(
    api: BotApiStandIn, bot: RunningBot, batch: list[Conversation], ids: Iterator[int]
) -> int:
    start = len(api.requests())
    updates, expect = inject(api, batch, ids)
    await bot.handled(*updates, timeout=60)
    check(api.requests()[start:], expect)
    return len(updates)


async def test_fuzzed_updates_get_a_reply_or_are_ignored(
    api: BotApiStandIn, start_bot: StartBot
) -> None:
    # No overall Bot API throttle (a local server's setting): the run stays CI-sized.
    bot = await start_bot(G21_TELEGRAM_MAX_RATE=0)
    loop = asyncio.get_running_loop()
    ids = itertools.count()
    total = [0]

    @settings(FUZZ, max_examples=BOT_EXAMPLES, phases=[Phase.explicit, Phase.generate])
    @given(st.lists(conversation, min_size=5, max_size=40))
    def feed(batch: list[Conversation]) -> None:
        future = asyncio.run_coroutine_threadsafe(run_batch(api, bot, batch, ids), loop)
        total[0] += future.result(timeout=120)

    # hypothesis drives the batches from a worker thread; the bot runs on this loop.
    await asyncio.to_thread(feed)
    assert total[0] >= MIN_UPDATES, total[0]


# --- the parts underneath -------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> AnswerEngine:
    return AnswerEngine(settings_for(ingested_data_dir(tmp_path_factory)))


@pytest.fixture(scope="module")
def document(engine: AnswerEngine) -> Document:
    return engine.stack().corpus.primary


def check_answer_against(answer: Any, document: Document) -> None:
    assert answer.text.strip()
    assert answer.lang in REPLY_LANGUAGES
    assert_grounded(answer, document)
    assert set(answer.cited) | set(answer.shown) <= set(document.numbers)
    for n in cited_paragraphs(answer.text):
        assert n in document.numbers, answer.text


@settings(FUZZ, max_examples=500)
@given(message_text, message_text, st.sampled_from([None, "zh", "en"]))
def test_answers_never_raise_and_cite_only_what_the_statement_says(
    engine: AnswerEngine, document: Document, question: str, follow_up: str, lang: str | None
) -> None:
    first = engine.answer(question, lang=lang)
    check_answer_against(first, document)
    turn = Turn.of(question, first)
    check_answer_against(engine.answer(follow_up, [turn], lang), document)


def visible(piece: str) -> str:
    parsed = TelegramHTML.parse(piece)
    assert parsed.problems == [], (parsed.problems, piece[:200])
    return parsed.text


@settings(FUZZ, max_examples=400)
@given(
    st.one_of(message_text, st.lists(message_text, max_size=6).map("\n\n".join)),
    st.one_of(st.just(MAX_MESSAGE), st.integers(20, 600)),
)
def test_split_message_pieces_fit_and_keep_the_text(text: str, limit: int) -> None:
    pieces = split_message(text, limit)
    for piece in pieces:
        assert len(piece) <= limit
        assert check_html(piece) == []
    shown = [visible(piece) for piece in pieces]
    if text.strip():
        assert shown and all(s.strip() for s in shown)
    assert re.sub(r"\s", "", "".join(shown)) == re.sub(r"\s", "", text)


@settings(FUZZ, max_examples=500)
@given(message_text)
def test_find_references_never_raises(text: str) -> None:
    found = find_references(text)
    assert all(isinstance(n, int) and n >= 0 for n in found)
    assert len(found) == len(set(found))


ZH_DIGITS = "零一二三四五六七八九"


def zh_numeral(n: int) -> str:
    tens, ones = divmod(n, 10)
    if not tens:
        return ZH_DIGITS[ones]
    return ("" if tens == 1 else ZH_DIGITS[tens]) + "十" + (ZH_DIGITS[ones] if ones else "")


surrounding = st.text(
    st.characters(
        codec="utf-8",
        exclude_categories=["Nd", "Nl", "No", "Cs"],
        exclude_characters="第段款¶§0123456789０１２３４５６７８９零〇一二两三四五六七八九十百",
    ),
    max_size=20,
)


@settings(FUZZ, max_examples=400)
@given(
    st.integers(1, 99),
    st.sampled_from(["第{n}段", "第 {n} 段", "第{zh}段", "paragraph {n}", "Para. {n}", "¶{n}"]),
    surrounding,
    surrounding,
)
def test_find_references_finds_a_written_reference(
    n: int, template: str, before: str, after: str
) -> None:
    reference = template.format(n=n, zh=zh_numeral(n))
    assert n in find_references(f"{before} {reference} {after}")
