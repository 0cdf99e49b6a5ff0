"""Telegram handlers: commands, questions, buttons, inline queries, odd input, errors."""

from __future__ import annotations

import asyncio
import html
import logging
import re
import time
from collections.abc import Awaitable
from typing import Any

from telegram import (
    InlineQueryResultArticle,
    InputTextMessageContent,
    Message,
    Update,
)
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, TelegramError, TimedOut
from telegram.ext import ContextTypes

from bot.answering.answer import Answer, Turn
from bot.answering.engine import AnswerEngine
from bot.answering.messages import REPLY_LANGUAGES, message
from bot.answering.question import Question, reply_language
from bot.ops.metrics import RATE_LIMITED, Stats
from bot.ops.ratelimit import RateLimiter
from bot.ops.settings import Settings
from bot.telegram.render import (
    citation_keyboard,
    paragraph_keyboard,
    parse_callback,
    split_message,
    to_html,
)
from bot.telegram.request import answered_late
from retrieval.errors import RetrievalError
from retrieval.text import clean_user_text

log = logging.getLogger(__name__)

DRAFT_INTERVAL = 1.0  # seconds between live draft updates (Telegram throttles faster ones)


class BotState:
    """What the handlers share: the engine, settings, limits and counters."""

    def __init__(self, settings: Settings, engine: AnswerEngine) -> None:
        self.settings = settings
        self.engine = engine
        self.limiter = RateLimiter(settings.rate_limit_per_minute)
        self.stats = Stats()
        self.started = time.time()


def state(context: ContextTypes.DEFAULT_TYPE) -> BotState:
    return context.application.bot_data["state"]


def app_language(update: Update) -> str | None:
    """Telegram's ``language_code`` of the sender (a tie-breaker, never the deciding vote)."""
    user = update.effective_user
    return user.language_code if user else None


def ui_lang(update: Update, context: ContextTypes.DEFAULT_TYPE, text: str = "") -> str:
    """The user's chosen language, else the question's, else Telegram's language_code."""
    return reply_language(text, reply_lang_override(context), app_language(update))


def reply_lang_override(context: ContextTypes.DEFAULT_TYPE) -> str | None:
    chosen = (context.user_data or {}).get("lang")
    return str(chosen) if chosen in REPLY_LANGUAGES else None


async def send_html(
    msg: Message, html_text: str, plain: str, reply_markup: Any = None, quote: bool = False
) -> Message | None:
    """Send HTML; if Telegram cannot parse it, send the same text plain."""
    kwargs: dict[str, Any] = {"reply_markup": reply_markup}
    if quote:
        kwargs["do_quote"] = True
    try:
        return await msg.reply_text(html_text, **kwargs)
    except BadRequest as exc:
        if "parse entities" not in str(exc).lower():
            raise
        log.warning("HTML rejected by Telegram (%s); resending as plain text", exc)
        return await msg.reply_text(plain, parse_mode=None, **kwargs)


async def reply(update: Update, text: str, reply_markup: Any = None) -> None:
    """Short fixed replies (already safe text, escaped here)."""
    msg = update.effective_message
    if msg is not None:
        await send_html(msg, html.escape(text, quote=False), text, reply_markup)


def allowed(update: Update, settings: Settings) -> bool:
    if not settings.allowed_ids:
        return True
    ids = {
        getattr(update.effective_user, "id", None),
        getattr(update.effective_chat, "id", None),
    }
    return bool(ids & set(settings.allowed_ids)) or bool(ids & set(settings.admin_ids))


# --- commands ------------------------------------------------------------------------


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Say what the bot is, with example questions."""
    await reply(update, message(ui_lang(update, context), "start"))


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the commands."""
    await reply(update, message(ui_lang(update, context), "help", bot=context.bot.username))


async def about(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Describe the document: title, source, paragraph count, translation note."""
    lang = ui_lang(update, context)
    document = state(context).engine.document
    version = document.version(lang)
    notes = [v.note for v in document.versions.values() if v.note]
    await reply(
        update,
        message(
            lang,
            "about",
            title=version.title,
            submitter=version.submitter,
            source=document.source,
            count=document.count,
            languages=", ".join(document.languages),
            note="\n".join(notes),
        ).strip(),
    )


async def set_language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/lang zh|en|auto: the reply language."""
    choice = (context.args or [""])[0].lower()
    if choice not in ("zh", "en", "auto"):
        await reply(update, message(ui_lang(update, context), "lang_usage"))
        return
    if context.user_data is not None:
        context.user_data["lang"] = None if choice == "auto" else choice
    label = {"zh": "中文", "en": "English", "auto": "auto"}[choice]
    await reply(update, message(ui_lang(update, context), "lang_set", choice=label))


async def reset(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/reset: forget this user's conversation in this chat."""
    if context.chat_data is not None and update.effective_user:
        context.chat_data.get("history", {}).pop(update.effective_user.id, None)
    await reply(update, message(ui_lang(update, context), "reset_done"))


async def show_paragraph(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/para N: that paragraph in full, with neighbours and a language switch."""
    lang = reply_lang_override(context) or ui_lang(update, context)
    document = state(context).engine.document
    arg = (context.args or [""])[0]
    if not arg.isdigit():
        await reply(update, message(lang, "para_usage", count=document.count))
        return
    n = int(arg)
    if n not in document.numbers:
        await reply(update, message(lang, "no_such_paragraph", count=document.count, missing=n))
        return
    text = state(context).engine.paragraph_view(n, lang)
    msg = update.effective_message
    if msg is not None:
        await send_html(msg, to_html(text), text, paragraph_keyboard(n, document.count, lang))


async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/stats (admins): counts and latency percentiles."""
    st = state(context)
    if not is_admin(update, st.settings):
        await reply(update, message(ui_lang(update, context), "admin_only"))
        return
    counts = ", ".join(f"{k} {v}" for k, v in sorted(st.stats.counts.items())) or "no questions yet"
    uptime = int(time.time() - st.started)
    await reply(
        update,
        f"{counts}\nlatency p50 {st.stats.percentile(0.5):.1f} ms, "
        f"p95 {st.stats.percentile(0.95):.1f} ms\nmode {st.engine.mode}, uptime {uptime} s",
    )


async def reindex(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/reindex (admins): ingest the corpus again and reload the indexes."""
    st = state(context)
    lang = ui_lang(update, context)
    if not is_admin(update, st.settings):
        await reply(update, message(lang, "admin_only"))
        return
    report = await asyncio.to_thread(st.engine.reindex)
    await reply(update, message(lang, "reindexed", summary=report.summary()))


def is_admin(update: Update, settings: Settings) -> bool:
    user = update.effective_user
    return user is not None and user.id in settings.admin_ids


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any other command."""
    chat = update.effective_chat
    text = (update.effective_message.text or "") if update.effective_message else ""
    first = text.split()[0] if text.split() else ""
    addressed = first.lower().endswith(f"@{(context.bot.username or '').lower()}")
    if chat is not None and chat.type != ChatType.PRIVATE and not addressed:
        # In groups, only commands addressed to this bot get an answer.
        return
    await reply(update, message(ui_lang(update, context), "unknown_command"))


# --- questions -----------------------------------------------------------------------


def _history(context: ContextTypes.DEFAULT_TYPE, user_id: int) -> list[Turn]:
    if context.chat_data is None:
        return []
    histories = context.chat_data.setdefault("history", {})
    return histories.setdefault(user_id, [])


def _strip_mention(text: str, username: str) -> str:
    return re.sub(rf"@{re.escape(username)}\b", " ", text, flags=re.IGNORECASE).strip()


async def private_question(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A text message in a private chat is a question."""
    msg = update.effective_message
    if msg is not None:
        await answer_question(update, context, msg.text or "")


async def edited_question(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An edited question in a private chat is answered again, with a note."""
    msg = update.effective_message
    if (
        msg is None
        or update.effective_chat is None
        or update.effective_chat.type != ChatType.PRIVATE
    ):
        return
    await reply(update, message(ui_lang(update, context, msg.text or ""), "edited"))
    await answer_question(update, context, msg.text or "")


async def group_question(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """In groups: answer when mentioned or replied to; ignore other chatter."""
    msg = update.effective_message
    if msg is None or not msg.text:
        return
    username = context.bot.username or ""
    mentioned = f"@{username.lower()}" in msg.text.lower()
    replied = bool(
        msg.reply_to_message
        and msg.reply_to_message.from_user
        and msg.reply_to_message.from_user.id == context.bot.id
    )
    if not (mentioned or replied):
        return
    await answer_question(update, context, _strip_mention(msg.text, username))


async def ask_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/ask QUESTION (any chat)."""
    question = " ".join(context.args or [])
    await answer_question(update, context, question)


async def answer_question(update: Update, context: ContextTypes.DEFAULT_TYPE, raw: str) -> None:
    """Checks, then the answer: typing, live drafts in private chats with an LLM, final message."""
    st = state(context)
    msg, chat, user = update.effective_message, update.effective_chat, update.effective_user
    if msg is None or chat is None or user is None:
        return
    question = clean_user_text(raw)
    lang = ui_lang(update, context, question)
    if not allowed(update, st.settings):
        await reply(update, message(lang, "not_allowed"))
        return
    if not any(ch.isalnum() for ch in question):
        await reply(update, message(lang, "empty"))
        return
    if len(question) > st.settings.max_question_chars:
        await reply(
            update,
            message(lang, "too_long", length=len(question), limit=st.settings.max_question_chars),
        )
        return
    if not st.limiter.allow(user.id):
        RATE_LIMITED.inc()
        st.stats.count("rate_limited")
        await reply(update, message(lang, "slow_down"))
        return

    history = _history(context, user.id)
    asked = st.engine.question(
        question, history, reply_lang_override(context), app_language(update), str(user.id)
    )
    started = time.perf_counter()
    answer = await with_typing(
        context,
        chat.id,
        produce_answer(st, context, chat.id, chat.type, asked),
        0.0 if st.engine.mode == "llm" else st.settings.typing_delay,
    )
    outcome = "abstained" if answer.abstained else ("degraded" if answer.degraded else "answered")
    st.stats.record(answer.lang, answer.mode, outcome, time.perf_counter() - started)
    log.info(
        "answered",
        extra={
            "update_id": update.update_id,
            "chat_type": chat.type,
            "lang": answer.lang,
            "mode": answer.mode,
            "latency_ms": round(answer.latency_ms, 1),
            "cited": answer.cited,
            "outcome": outcome,
        },
    )
    # The paragraph count is for the ◀ ▶ keyboard of a shown paragraph; without one, the
    # stack is not needed (and may be down: the answer then says so).
    count = st.engine.document.count if answer.shown else 0
    await send_answer(msg, answer, count)
    history.append(Turn(question, answer.text, tuple(answer.cited or answer.shown), answer.lang))
    del history[: -max(1, st.settings.history_turns)]


async def with_typing(
    context: ContextTypes.DEFAULT_TYPE, chat_id: int, work: Awaitable[Answer], delay: float
) -> Answer:
    """``work``'s answer; "typing…" is shown only once it has taken ``delay`` seconds (an
    extractive answer takes milliseconds: the indicator would cost a Bot API call per answer
    and flash by unseen)."""
    task = asyncio.ensure_future(work)
    try:
        if delay > 0:
            await asyncio.wait({task}, timeout=delay)
        if not task.done():
            try:
                await context.bot.send_chat_action(chat_id, ChatAction.TYPING)
            except TelegramError as exc:
                # "typing…" is a courtesy: its failure must not cost the answer.
                log.info("typing action failed: %s", exc)
        return await task
    except asyncio.CancelledError:
        task.cancel()
        raise


async def produce_answer(
    st: BotState,
    context: ContextTypes.DEFAULT_TYPE,
    chat_id: int,
    chat_type: str,
    question: Question,
) -> Answer:
    """The final answer; while an LLM writes in a private chat, show live drafts."""
    last_draft = 0.0
    draft_id = abs(hash((chat_id, time.time()))) % 2_000_000_000 + 1

    async def show_draft(text: str) -> None:
        nonlocal last_draft
        now = time.monotonic()
        if chat_type != ChatType.PRIVATE or now - last_draft < DRAFT_INTERVAL or not text.strip():
            return
        last_draft = now
        try:
            await context.bot.send_message_draft(
                chat_id, draft_id, to_html(text)[:4096], parse_mode=ParseMode.HTML
            )
        except TelegramError as exc:
            # A draft is a courtesy; the final message is what counts.
            log.debug("draft update failed: %s", exc)

    return await st.engine.aanswer(question, on_draft=show_draft)


async def send_answer(msg: Message, answer: Answer, count: int) -> None:
    """The answer in as many messages as needed; buttons under the last one."""
    pieces = split_message(answer.text)
    for i, piece in enumerate(pieces):
        markup = None
        if i == len(pieces) - 1:
            if len(answer.shown) == 1:
                markup = paragraph_keyboard(answer.shown[0], count, answer.lang)
            else:
                markup = citation_keyboard(answer)
        plain = answer.text if len(pieces) == 1 else _unescape(piece)
        try:
            await send_html(msg, piece, plain, markup)
        except TimedOut as exc:
            if not answered_late(exc):
                raise
            # The message is most likely delivered: neither a resend nor an apology may
            # follow it.
            log.warning(
                "Telegram answered late on an answer (message %s of %s); not resent",
                i + 1,
                len(pieces),
            )


def _unescape(piece: str) -> str:
    return html.unescape(re.sub(r"</?b>", "", piece))


# --- buttons, inline, odd input, errors ----------------------------------------------


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A paragraph button: citation buttons open the paragraph, ◀ ▶ / language edit in place."""
    query = update.callback_query
    if query is None:
        return
    engine = state(context).engine
    document = engine.document
    parsed = parse_callback(query.data, document.count)
    lang = ui_lang(update, context)
    if parsed is None:
        await query.answer(message(lang, "button_expired"), show_alert=False)
        return
    kind, n, lang = parsed
    await query.answer()
    text = engine.paragraph_view(n, lang)
    markup = paragraph_keyboard(n, document.count, lang)
    target = query.message if isinstance(query.message, Message) else None
    if kind == "p" and target is not None:
        try:
            await target.edit_text(to_html(text), reply_markup=markup)
            return
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return
            if "not found" not in str(exc).lower() and "can't be edited" not in str(exc).lower():
                raise
            log.info("paragraph message gone (%s); sending a new one", exc)
    if target is not None:
        await send_html(target, to_html(text), text, markup)
    elif update.effective_user:
        await context.bot.send_message(update.effective_user.id, to_html(text), reply_markup=markup)


async def inline_query(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """@bot words: matching paragraphs to share, each quoted with its citation."""
    query = update.inline_query
    if query is None:
        return
    engine = state(context).engine
    text = clean_user_text(query.query)[:256]
    lang = ui_lang(update, context, text)
    try:
        document = await asyncio.to_thread(lambda: engine.document)
        numbers = (
            await asyncio.to_thread(engine.find_paragraphs, text) if text else document.numbers
        )
    except RetrievalError as exc:
        log.warning("inline query failed: %s", exc)
        numbers = []
    results = []
    for n in numbers[:50]:
        body = document.text(n, lang)
        content = f"“{body}” [¶{n}]"
        results.append(
            InlineQueryResultArticle(
                id=f"{lang}-{n}",
                title=f"¶{n} {body[:40]}…" if len(body) > 40 else f"¶{n} {body}",
                description=body[:120],
                input_message_content=InputTextMessageContent(
                    to_html(content)[:4096], parse_mode=ParseMode.HTML
                ),
            )
        )
    # Results in a language the user chose with /lang must not be cached for everybody.
    await query.answer(results, cache_time=30, is_personal=reply_lang_override(context) is not None)


async def non_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stickers, photos, voice, documents, locations … in private chats."""
    await reply(update, message(ui_lang(update, context), "text_only"))


async def ignore(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Channel posts and group chatter: deliberately no reply."""
    log.debug("ignored update %s", update.update_id)


async def error_handler(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log with context, tell the admins, apologise to the user."""
    error = context.error
    where = ""
    if isinstance(update, Update):
        chat = update.effective_chat
        where = f"update {update.update_id} ({chat.type if chat else 'no chat'})"
    log.error("error while handling %s: %s", where or "an update", error, exc_info=error)
    st = context.application.bot_data.get("state")
    if st is not None:
        for admin in st.settings.admin_ids:
            try:
                await context.bot.send_message(
                    admin,
                    html.escape(f"g21bot error in {where or 'the bot'}: {type(error).__name__}"),
                )
            except TelegramError:
                log.warning("could not notify admin %s", admin)
    if isinstance(update, Update) and update.effective_message and update.effective_chat:
        if update.effective_chat.type == ChatType.CHANNEL:
            return
        try:
            await reply(update, message(ui_lang(update, context), "error"))
        except TelegramError:
            log.warning("could not apologise for %s", where)
