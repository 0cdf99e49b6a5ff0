"""Building and running the Telegram application: polling or webhook."""

from __future__ import annotations

import asyncio
import logging

from telegram import BotCommand, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    Defaults,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bot.answering.engine import AnswerEngine
from bot.ops.chatstore import ChatStore
from bot.ops.settings import Settings
from bot.telegram import handlers as h
from bot.telegram.inbox import UpdatesRequest, replay_pending
from bot.telegram.lifecycle import BotHooks
from bot.telegram.processor import ChatOrderedProcessor
from bot.telegram.request import BotApiRequest
from retrieval.errors import RetrievalError

__all__ = ["ChatOrderedProcessor", "build_application", "run_bot"]

log = logging.getLogger(__name__)

COMMANDS = {
    "en": [
        ("start", "What this bot does"),
        ("help", "Commands and tips"),
        ("para", "Show paragraph N in full"),
        ("about", "About the statement"),
        ("lang", "Reply language: zh, en or auto"),
        ("reset", "Forget our conversation"),
        ("ask", "Ask a question (in groups)"),
    ],
    "zh": [
        ("start", "机器人简介"),
        ("help", "命令与提示"),
        ("para", "查看第 N 段全文"),
        ("about", "关于声明"),
        ("lang", "回答语言：zh、en 或 auto"),
        ("reset", "清除对话记录"),
        ("ask", "提问（群组中使用）"),
    ],
}
DESCRIPTIONS = {
    "en": (
        "Answers questions about the G-21 statement on the follow-up to the 2013 high-level "
        "meeting on nuclear disarmament, citing paragraph numbers (¶N). Ask in English or Chinese.",
        "Cited answers on the G-21 nuclear disarmament statement",
    ),
    "zh": (
        "回答关于 21 国集团《关于 2013 年核裁军问题大会高级别会议后续行动的声明》的问题，并标明段落编号（¶N）。可用中文或英文提问。",
        "21 国集团核裁军声明问答，附段落引用",
    ),
}


async def post_init(application: Application) -> None:
    """Command menu and descriptions, in English (default) and Chinese."""
    bot = application.bot
    for lang, commands in COMMANDS.items():
        code = None if lang == "en" else lang
        await bot.set_my_commands([BotCommand(c, d) for c, d in commands], language_code=code)
        description, short = DESCRIPTIONS[lang]
        await bot.set_my_description(description, language_code=code)
        await bot.set_my_short_description(short, language_code=code)
    # Load the indexes now, not on the first question. A store that is down must not stop
    # the bot from starting: the engine opens it again on use, and /readyz reports it.
    state = application.bot_data["state"]
    try:
        await asyncio.to_thread(state.engine.stack)
    except RetrievalError as exc:
        log.warning("indexes not loaded at start: %s", exc)
    # Before polling starts: what a kill interrupted is answered before anything new.
    await replay_pending(application, state.store)


async def post_shutdown(application: Application) -> None:
    """Close the LLM client on the loop that used it, and the chat state."""
    state = application.bot_data["state"]
    await state.engine.aclose()
    await asyncio.to_thread(state.store.close)


def open_store(settings: Settings, persistence: bool) -> ChatStore:
    """The chat state: a SQLite file in the data dir (an earlier version's telegram.pickle
    imported once), or in memory for a bot without persistence."""
    if not persistence:
        return ChatStore(":memory:", settings.history_turns, settings.history_bytes)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return ChatStore(
        settings.data_dir / "state.sqlite3",
        settings.history_turns,
        settings.history_bytes,
        pickle_path=settings.data_dir / "telegram.pickle",
    )


def build_application(
    settings: Settings,
    engine: AnswerEngine | None = None,
    persistence: bool = True,
    webhook: bool = False,
) -> Application:
    """The whole bot: settings → handlers, limits, chat state."""
    engine = engine or AnswerEngine(settings)
    store = open_store(settings, persistence)
    state = h.BotState(settings, engine, store)
    hooks = BotHooks(state.gate, state.sessions, state.notices, settings.chat_queue_limit)
    # Few connections: a Bot API call takes milliseconds, and every pooled connection adds
    # bookkeeping to each call. getUpdates: the Updater's own loop retries it (and logs),
    # with the same offset; what it returns is stored before the next call can acknowledge it.
    request = BotApiRequest(
        connection_pool_size=8,
        retries=settings.telegram_retries,
        backoff=settings.telegram_retry_backoff,
    )
    updates_request = UpdatesRequest(store, connection_pool_size=1)
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_base_url)
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        .request(request)
        .get_updates_request(updates_request)
        .rate_limiter(
            AIORateLimiter(
                overall_max_rate=settings.telegram_max_rate,
                overall_time_period=1,
                max_retries=3,
            )
        )
        .concurrent_updates(
            ChatOrderedProcessor(
                settings.max_concurrent_updates, settings.chat_queue_limit, hooks=hooks
            )
        )
        .post_init(post_init)
        .post_shutdown(post_shutdown)
    )
    if webhook:
        builder = builder.updater(None)
    application = builder.build()
    application.bot_data["state"] = state
    application.bot_data["http"] = (request, updates_request)

    private = filters.ChatType.PRIVATE
    groups = filters.ChatType.GROUPS
    new_message = filters.UpdateType.MESSAGE
    application.add_handler(CommandHandler("start", h.start))
    application.add_handler(CommandHandler("help", h.help_command))
    application.add_handler(CommandHandler("about", h.about))
    application.add_handler(CommandHandler("para", h.show_paragraph))
    application.add_handler(CommandHandler("lang", h.set_language))
    application.add_handler(CommandHandler("reset", h.reset))
    application.add_handler(CommandHandler("ask", h.ask_command))
    application.add_handler(CommandHandler("stats", h.stats))
    application.add_handler(CommandHandler("reindex", h.reindex))
    application.add_handler(MessageHandler(filters.UpdateType.CHANNEL_POSTS, h.ignore))
    application.add_handler(MessageHandler(filters.COMMAND, h.unknown_command))
    application.add_handler(
        MessageHandler(
            private & filters.UpdateType.EDITED_MESSAGE & filters.TEXT, h.edited_question
        )
    )
    application.add_handler(
        MessageHandler(private & new_message & filters.TEXT, h.private_question)
    )
    application.add_handler(MessageHandler(groups & new_message & filters.TEXT, h.group_question))
    application.add_handler(MessageHandler(private & new_message & ~filters.TEXT, h.non_text))
    application.add_handler(CallbackQueryHandler(h.button))
    application.add_handler(InlineQueryHandler(h.inline_query))
    application.add_error_handler(h.error_handler)
    return application


def run_bot(settings: Settings, webhook: bool = False) -> int:
    """`g21bot run`: polling by default, webhook with --webhook; both serve /healthz,
    /readyz and /metrics on G21_LISTEN:G21_PORT."""
    from bot.telegram.server import serve_bot

    return serve_bot(settings, webhook)
