"""Webhook mode: the ASGI app (webhook with secret, /healthz, /readyz, /metrics) in process over
httpx's ASGI transport, and `g21bot run --webhook` as a real process behind uvicorn."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from bot_harness import (
    USER,
    RunningBot,
    StartBot,
    fixture_allow_errors,  # noqa: F401  (a fixture)
    fixture_api,  # noqa: F401  (a fixture)
    fixture_data_dir,  # noqa: F401  (a fixture)
    fixture_end_of_test_checks,  # noqa: F401  (a fixture)
    fixture_ingested_dir,  # noqa: F401  (a fixture)
    fixture_start_bot,  # noqa: F401  (a fixture)
    free_port,
    texts,
)
from process_support import child_process, settings_free_env, terminate
from telegram_standin import BotApiStandIn

from bot.telegram.server import SECRET_HEADER, create_app
from retrieval.errors import StoreUnavailableError

WEBHOOK_URL = "https://bot.example.test/tg/hook"
HOOK_PATH = "/tg/hook"
SECRET = "webhook-Secret_0123456789"
MIDDLE_EAST = "What does the Group say about the Middle East?"


@dataclass
class Webhook:
    bot: RunningBot
    http: httpx.AsyncClient

    async def post(self, update: Any, secret: str | None = SECRET) -> httpx.Response:
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        body = update if isinstance(update, bytes) else json.dumps(update).encode()
        return await self.http.post(
            HOOK_PATH, content=body, headers={**headers, "Content-Type": "application/json"}
        )


@pytest.fixture
async def webhook(start_bot: StartBot) -> AsyncIterator[Webhook]:
    bot = await start_bot(webhook=True, G21_WEBHOOK_URL=WEBHOOK_URL, G21_WEBHOOK_SECRET=SECRET)
    assert bot.app.updater is None
    asgi = create_app(bot.settings, bot.app)
    transport = httpx.ASGITransport(app=asgi)
    async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as http:
        yield Webhook(bot, http)


async def test_health_and_readiness(webhook: Webhook) -> None:
    health = await webhook.http.get("/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    ready = await webhook.http.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready", "paragraphs": 15}


async def test_readiness_reports_an_unavailable_store(
    webhook: Webhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable() -> None:
        raise StoreUnavailableError("Chroma at 127.0.0.1:1 does not answer")

    monkeypatch.setattr(webhook.bot.state.engine, "stack", unavailable)
    ready = await webhook.http.get("/readyz")
    assert ready.status_code == 503 and ready.json()["status"] == "unavailable"
    assert (await webhook.http.get("/healthz")).status_code == 200


async def test_bot_starts_while_the_store_is_down(
    start_bot: StartBot, api: BotApiStandIn, allow_errors: None
) -> None:
    bot = await start_bot(
        webhook=True,
        G21_WEBHOOK_URL=WEBHOOK_URL,
        G21_WEBHOOK_SECRET=SECRET,
        CHROMA_HOST="127.0.0.1",
        CHROMA_PORT=free_port(),  # nothing listens there
    )
    asgi = create_app(bot.settings, bot.app)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi), base_url="http://bot.test"
    ) as http:
        assert (await http.get("/healthz")).status_code == 200
        ready = await http.get("/readyz")
        assert ready.status_code == 503 and "Chroma" in ready.json()["reason"]
        update = api.private_text(USER, MIDDLE_EAST)
        posted = await http.post(HOOK_PATH, json=update, headers={SECRET_HEADER: SECRET})
        assert posted.status_code == 200
        await bot.handled(update)
    assert texts(api, USER) == [
        "The statement index is temporarily unavailable. Please try again in a minute."
    ]


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET[:-1], SECRET + "x", SECRET.upper()])
async def test_webhook_refuses_a_missing_or_wrong_secret(
    webhook: Webhook, api: BotApiStandIn, secret: str | None
) -> None:
    refused = await webhook.post(api.private_text(USER, MIDDLE_EAST), secret=secret)
    assert refused.status_code == 403
    accepted = await webhook.post(update := api.private_text(USER, "第3段"))
    assert accepted.status_code == 200
    await webhook.bot.handled(update)
    assert [t.split("\n")[0] for t in texts(api, USER)] == ["第 3 段 [¶3]"]


async def test_webhook_update_is_answered(webhook: Webhook, api: BotApiStandIn) -> None:
    update = api.private_text(USER, MIDDLE_EAST)
    assert (await webhook.post(update)).status_code == 200
    await webhook.bot.handled(update)
    assert "[¶10]" in texts(api, USER)[-1]
    assert api.requests("getUpdates") == []  # no polling in webhook mode


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe\x00garbage",
        b"[]",
        b"null",
        b'{"message": {"text": "hi"}}',
        b'{"update_id": "1"}',
        b'{"update_id": 1.5}',
        b'{"update_id": 7, "message": {"text": "no chat, no date"}}',
    ],
)
async def test_malformed_webhook_body_is_refused_and_the_bot_stays_healthy(
    webhook: Webhook, api: BotApiStandIn, body: bytes
) -> None:
    assert (await webhook.post(body)).status_code == 400
    assert (await webhook.http.get("/healthz")).status_code == 200
    update = api.private_text(USER, MIDDLE_EAST)
    assert (await webhook.post(update)).status_code == 200
    await webhook.bot.handled(update)
    assert "[¶10]" in texts(api, USER)[-1]


async def test_webhook_serves_only_its_routes(webhook: Webhook) -> None:
    assert (await webhook.http.get(HOOK_PATH)).status_code == 405
    assert (await webhook.http.post("/", content=b"{}")).status_code == 404
    assert (await webhook.http.post("/healthz")).status_code == 405


async def test_same_update_posted_twice_is_answered_once(
    webhook: Webhook, api: BotApiStandIn
) -> None:
    update = api.private_text(USER, "第10段")
    later = api.private_text(USER, "第11段")
    for each in (update, update, later):
        assert (await webhook.post(each)).status_code == 200
    await webhook.bot.handled(update, later)
    assert [t.split("\n")[0] for t in texts(api, USER)] == ["第 10 段 [¶10]", "第 11 段 [¶11]"]


async def test_metrics_show_questions_and_latencies(webhook: Webhook, api: BotApiStandIn) -> None:
    updates = [api.private_text(USER, MIDDLE_EAST), api.private_text(USER, "量子计算机的原理")]
    for update in updates:
        assert (await webhook.post(update)).status_code == 200
    await webhook.bot.handled(*updates)
    metrics = await webhook.http.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    for series in (
        'questions_total{lang="en",mode="extractive",outcome="answered"}',
        'questions_total{lang="zh",mode="abstain",outcome="abstained"}',
        "answer_latency_seconds_bucket{",
        "answer_latency_seconds_count ",
        "retrieval_latency_seconds_count ",
        "abstentions_total ",
        "# TYPE rate_limited_total counter",
        "# TYPE telegram_api_errors_total counter",
        "# TYPE llm_errors_total counter",
    ):
        assert series in text, series


# --- `g21bot run --webhook`, a real process ------------------------------------------------

REAL_LOOKING_TOKEN = "8123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw_"


def _serving(port: int, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Wait until the process answers /healthz (a readiness probe, like a load balancer's)."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as http:
        while time.monotonic() < deadline:
            assert process.poll() is None, f"g21bot exited with {process.returncode}"
            try:
                if http.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)  # not listening yet: probe again
    raise AssertionError("g21bot did not serve /healthz in time")


def test_g21bot_run_webhook_process(data_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    with BotApiStandIn(token=REAL_LOOKING_TOKEN) as standin:
        env = settings_free_env(
            TELEGRAM_BOT_TOKEN=standin.token,
            TELEGRAM_BASE_URL=standin.base_url,
            G21_WEBHOOK_URL=WEBHOOK_URL,
            G21_WEBHOOK_SECRET=SECRET,
            G21_LISTEN="127.0.0.1",
            G21_PORT=str(port),
            G21_DATA_DIR=str(data_dir),
            G21_LOG_LEVEL="DEBUG",  # the most a log could leak
        )
        g21bot = Path(sys.executable).with_name("g21bot")
        stderr_path = tmp_path / "g21bot.stderr"
        with child_process(
            [str(g21bot), "run", "--webhook"], env=env, cwd=tmp_path, stderr_path=stderr_path
        ) as process:
            (set_webhook,) = standin.wait_for_request("setWebhook", timeout=60)
            assert set_webhook.params["url"] == WEBHOOK_URL
            assert set_webhook.params["secret_token"] == SECRET
            # the command menu is set in webhook mode too
            menus = {r.params.get("language_code") for r in standin.requests("setMyCommands")}
            assert menus == {None, "zh"}
            _serving(port, process)

            update = standin.private_text(USER, MIDDLE_EAST)
            hook = f"http://127.0.0.1:{port}{HOOK_PATH}"
            with httpx.Client(timeout=10.0) as http:
                assert http.post(hook, json=update).status_code == 403
                posted = http.post(hook, json=update, headers={SECRET_HEADER: SECRET})
                assert posted.status_code == 200
                standin.wait_for(lambda: standin.sent_messages(USER), timeout=30)
                assert http.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
            returncode = terminate(process, timeout=30)
        log = stderr_path.read_text(errors="replace")
        assert returncode == 0, log[-3000:]
        assert "[¶10]" in standin.sent_messages(USER)[0]
        assert standin.token not in log and SECRET not in log
        assert REAL_LOOKING_TOKEN.split(":")[1] not in log
        assert "INFO bot.telegram.server: stopped" in log and " ERROR " not in log
        assert "[REDACTED]" in log  # secrets did reach the logger, and were scrubbed
        assert standin.violations == []


def test_g21bot_run_polling_process(data_dir: Path, tmp_path: Path) -> None:
    """Polling mode serves the health and metrics endpoints too, answers, and stops
    cleanly on SIGTERM."""
    port = free_port()
    with BotApiStandIn(token=REAL_LOOKING_TOKEN) as standin:
        env = settings_free_env(
            TELEGRAM_BOT_TOKEN=standin.token,
            TELEGRAM_BASE_URL=standin.base_url,
            G21_LISTEN="127.0.0.1",
            G21_PORT=str(port),
            G21_DATA_DIR=str(data_dir),
            G21_LOG_LEVEL="DEBUG",
        )
        g21bot = Path(sys.executable).with_name("g21bot")
        stderr_path = tmp_path / "g21bot.stderr"
        with child_process(
            [str(g21bot), "run"], env=env, cwd=tmp_path, stderr_path=stderr_path
        ) as process:
            _serving(port, process)
            standin.private_text(USER, MIDDLE_EAST)
            standin.wait_for(lambda: standin.sent_messages(USER), timeout=30)
            with httpx.Client(timeout=10.0) as http:
                assert http.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
                metrics = http.get(f"http://127.0.0.1:{port}/metrics").text
                assert "questions_total{" in metrics
                # No webhook route in polling mode.
                assert http.post(f"http://127.0.0.1:{port}{HOOK_PATH}", json={}).status_code in (
                    404,
                    405,
                )
            assert not standin.requests("setWebhook")
            returncode = terminate(process, timeout=30)
        log = stderr_path.read_text(errors="replace")
        assert returncode == 0, log[-3000:]
        assert "[¶10]" in standin.sent_messages(USER)[0]
        assert REAL_LOOKING_TOKEN.split(":")[1] not in log
        assert " ERROR " not in log, log[-3000:]
        assert standin.violations == []
