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
from telegram.request import BaseRequest

from bot.answering.engine import AnswerEngine
from bot.ops.chatstore import ChatStore
from bot.ops.settings import Settings
from bot.telegram import handlers as h
from bot.telegram.inbox import UpdatesRequest, replay_pending
from bot.telegram.lifecycle import BotHooks
from bot.telegram.processor import ChatOrderedProcessor
from bot.telegram.request import BotApiRequest
from retrieval.errors import RetrievalError

__all__ = ["ChatOrderedProcessor", "build_application"]

log = logging.getLogger(__name__)

COMMANDS = {
    "en": [
        ("start", "What this bot does"),
        ("help", "Commands and tips"),
        ("para", "Show paragraph N in full"),
        ("about", "About the statement"),
        ("lang", "Reply language: zh, en, fr, es, ru, ar or auto"),
        ("reset", "Forget our conversation"),
        ("ask", "Ask a question (in groups)"),
    ],
    "zh": [
        ("start", "机器人简介"),
        ("help", "命令与提示"),
        ("para", "查看第 N 段全文"),
        ("about", "关于声明"),
        ("lang", "回答语言：zh、en、fr、es、ru、ar 或 auto"),
        ("reset", "清除对话记录"),
        ("ask", "提问（群组中使用）"),
    ],
    "fr": [
        ("start", "Présentation du bot"),
        ("help", "Commandes et conseils"),
        ("para", "Afficher le paragraphe N en entier"),
        ("about", "À propos de la déclaration"),
        ("lang", "Langue des réponses : zh, en, fr, es, ru, ar ou auto"),
        ("reset", "Oublier notre conversation"),
        ("ask", "Poser une question (dans un groupe)"),
    ],
    "es": [
        ("start", "Qué hace este bot"),
        ("help", "Comandos y consejos"),
        ("para", "Mostrar el párrafo N completo"),
        ("about", "Acerca de la declaración"),
        ("lang", "Idioma de las respuestas: zh, en, fr, es, ru, ar o auto"),
        ("reset", "Olvidar nuestra conversación"),
        ("ask", "Hacer una pregunta (en grupos)"),
    ],
    "ru": [
        ("start", "Что умеет этот бот"),
        ("help", "Команды и подсказки"),
        ("para", "Показать пункт N полностью"),
        ("about", "О заявлении"),
        ("lang", "Язык ответов: zh, en, fr, es, ru, ar или auto"),
        ("reset", "Забыть наш разговор"),
        ("ask", "Задать вопрос (в групповом чате)"),
    ],
    "ar": [
        ("start", "ما يقوم به هذا البوت"),
        ("help", "الأوامر والإرشادات"),
        ("para", "عرض نص الفقرة N كاملا"),
        ("about", "معلومات عن البيان"),
        ("lang", "لغة الردود: zh أو en أو fr أو es أو ru أو ar أو auto"),
        ("reset", "حذف سجل محادثتنا"),
        ("ask", "طرح سؤال (في الدردشات الجماعية)"),
    ],
}
DESCRIPTIONS = {
    "en": (
        "Answers questions about the G-21 statement on the follow-up to the 2013 high-level "
        "meeting on nuclear disarmament, citing paragraph numbers (¶N). Ask in any of the six "
        "UN languages: Arabic, Chinese, English, French, Russian or Spanish.",
        "Cited answers on the G-21 nuclear disarmament statement",
    ),
    "zh": (
        "回答关于 21 国集团《关于 2013 年核裁军问题大会高级别会议后续行动的声明》的问题，并标明段落编号（¶N）。可用联合国六种正式语文中的任何一种提问：阿拉伯文、中文、英文、法文、俄文或西班牙文。",
        "21 国集团核裁军声明问答，附段落引用",
    ),
    "fr": (
        "Répond aux questions sur la déclaration du Groupe des 21 relative à la suite donnée à la "
        "réunion de haut niveau de 2013 sur le désarmement nucléaire, en citant les numéros de "
        "paragraphe (¶N). Posez vos questions dans l'une des six langues officielles de l'ONU : "
        "anglais, arabe, chinois, espagnol, français ou russe.",
        "Réponses citées sur la déclaration du Groupe des 21 relative au désarmement nucléaire",
    ),
    "es": (
        "Responde a preguntas sobre la declaración del Grupo de los 21 relativa al seguimiento de "
        "la reunión de alto nivel de 2013 sobre el desarme nuclear y cita los números de párrafo "
        "(¶N). Puede preguntar en cualquiera de los seis idiomas oficiales de las Naciones Unidas: "
        "árabe, chino, español, francés, inglés o ruso.",
        "Respuestas con citas sobre la declaración del Grupo de los 21 relativa al desarme nuclear",
    ),
    "ru": (
        "Отвечает на вопросы о заявлении Группы 21 о последующих мерах в связи с проведенным в "
        "2013 году совещанием высокого уровня по ядерному разоружению и указывает номера пунктов "
        "(¶N). Вопросы можно задавать на любом из шести официальных языков ООН: английском, "
        "арабском, испанском, китайском, русском или французском.",
        "Ответы со ссылками на пункты заявления Группы 21 по ядерному разоружению",
    ),
    "ar": (
        "يجيب عن الأسئلة المتعلقة ببيان مجموعة الـ 21 بشأن متابعة الاجتماع الرفيع المستوى المعني "
        "بنزع السلاح النووي المعقود عام 2013، مع ذكر أرقام الفقرات (¶N). ويمكن طرح الأسئلة بأي من "
        "اللغات الرسمية الست للأمم المتحدة: الإسبانية أو الإنكليزية أو الروسية أو الصينية أو "
        "العربية أو الفرنسية.",
        "إجابات موثقة بأرقام الفقرات عن بيان مجموعة الـ 21 بشأن نزع السلاح النووي",
    ),
}


async def post_init(application: Application) -> None:
    """Command menu and descriptions: English by default, and one per UN language."""
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
        await asyncio.to_thread(state.engine.load)
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
    request: BaseRequest | None = None,
) -> Application:
    """The whole bot: settings → handlers, limits, chat state. ``request``: a Bot API client
    other than Telegram's (a replay of conversations in process)."""
    engine = engine or AnswerEngine(settings)
    store = open_store(settings, persistence)
    state = h.BotState(settings, engine, store)
    hooks = BotHooks(state.gate, state.sessions, state.notices, settings.chat_queue_limit)
    # Few connections: a Bot API call takes milliseconds, and every pooled connection adds
    # bookkeeping to each call. getUpdates: the Updater's own loop retries it (and logs),
    # with the same offset; what it returns is stored before the next call can acknowledge it.
    request = request or BotApiRequest(
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
