from __future__ import annotations

from bot_harness import (  # noqa: F401
    USER,
    _end_of_test_checks,
    allow_errors,
    api,
    buttons,
    data_dir,
    ingested_dir,
    sent,
    start_bot,
    texts,
)


async def test_smoke(api, start_bot):
    bot = await start_bot()
    a = api.private_text(USER, "第10段说了什么？")
    b = api.private_text(USER, "What does the Group say about the Middle East?")
    await bot.handled(a, b)
    print(texts(api, USER))
    print([buttons(r) for r in sent(api, USER)])
