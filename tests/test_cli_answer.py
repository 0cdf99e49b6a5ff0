"""`g21bot ask`, `g21bot chat` and `g21bot eval`, run in process through ``bot.entry.cli.main``."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from answer_support import (
    cited_reply,
    clear_g21_env,
    forget_openai_clients,
    ingested_data_dir,
)
from openai_standin import (
    OpenAIStandIn,
    any_message_contains,
    last_user_contains,
    structured,
    text,
)

from bot.answering.messages import message
from bot.entry.cli import main
from retrieval.corpus import Document, load_corpus

SCORE_KEYS = {
    "n",
    "answerable",
    "unanswerable",
    "hit_at_1",
    "hit_at_3",
    "mrr",
    "answer_citation_hit",
    "citation_validity",
    "abstention_accuracy",
    "false_abstention_rate",
    "latency_ms",
}
QUESTION_KEYS = {"id", "retrieved", "cited", "abstained", "ok"}

QUESTIONS = [
    {
        "id": "t1",
        "lang": "en",
        "question": "How many member States does CELAC have?",
        "paragraphs": [6],
        "answerable": True,
    },
    {
        "id": "t2",
        "lang": "en",
        "question": "Which States does the Group accuse of refusing "
        "to fulfil their treaty obligations?",
        "paragraphs": [11],
        "answerable": True,
    },
    {
        "id": "t3",
        "lang": "en",
        "question": "What does the statement say about the Paris Agreement?",
        "paragraphs": [],
        "answerable": False,
    },
    {
        "id": "t4",
        "lang": "zh",
        "question": "秘书长被要求向谁提交报告？",
        "paragraphs": [3],
        "answerable": True,
    },
    {
        "id": "t5",
        "lang": "zh",
        "question": "国际法院的咨询意见是哪一年发表的？",
        "paragraphs": [12],
        "answerable": True,
    },
    {
        "id": "t6",
        "lang": "zh",
        "question": "第18段写了什么？",
        "paragraphs": [],
        "answerable": False,
    },
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ingested_data_dir(tmp_path_factory)


@pytest.fixture(scope="module")
def document() -> Document:
    return load_corpus().primary


@pytest.fixture(autouse=True)
def cli_env(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The shared index, no `.env`, quiet logs; the root logger is restored afterwards
    (the CLI configures it for the process)."""
    clear_g21_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("G21_DATA_DIR", str(data_dir))
    monkeypatch.setenv("G21_LOG_LEVEL", "WARNING")
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def llm(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIStandIn]:
    """The OpenAI stand-in, configured as the model the CLI uses."""
    forget_openai_clients()
    with OpenAIStandIn() as standin:
        monkeypatch.setenv("OPENAI_BASE_URL", standin.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("G21_LLM_MODEL", "openai:stand-in")
        monkeypatch.setenv("G21_LLM_RETRIES", "0")
        monkeypatch.setenv("G21_LLM_COOLDOWN", "0")
        monkeypatch.setenv("G21_LLM_TIMEOUT", "5")
        yield standin
    forget_openai_clients()
    assert standin.server_errors == []


def feed(monkeypatch: pytest.MonkeyPatch, lines: list[str]) -> list[str]:
    """Answer ``input()`` with ``lines``, then end of input; returns the prompts shown."""
    pending = iter(lines)
    prompts: list[str] = []

    def fake_input(prompt: str = "") -> str:
        prompts.append(prompt)
        try:
            return next(pending)
        except StopIteration:
            raise EOFError from None

    monkeypatch.setattr("builtins.input", fake_input)
    return prompts


def write_questions(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", "utf-8")
    return path


def run_json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict[str, Any]:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


# --- ask ------------------------------------------------------------------------------------


def test_ask_json_prints_the_citations(
    capsys: pytest.CaptureFixture[str], document: Document
) -> None:
    data = run_json(capsys, ["ask", "How many member States does CELAC have?", "--json"])

    assert data["mode"] == "extractive"
    assert data["lang"] == "en"
    assert data["cited"] == [6]
    assert data["abstained"] is False
    for citation in data["citations"]:
        assert citation["quote"] in document.text(citation["paragraph"], "en")
    assert "[¶6]" in data["text"]


def test_ask_json_with_a_reply_language(
    capsys: pytest.CaptureFixture[str], document: Document
) -> None:
    data = run_json(
        capsys, ["ask", "How many member States does CELAC have?", "--lang", "zh", "--json"]
    )

    assert data["lang"] == "zh"
    assert all(c["quote"] in document.text(6, "zh") for c in data["citations"])


def test_ask_prints_the_answer_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "第十二段说了什么？"]) == 0

    out = capsys.readouterr().out
    assert "第 12 段 [¶12]" in out
    assert "国际法院" in out


def test_ask_out_of_scope_question(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(
        capsys, ["ask", "What does the statement say about the Paris Agreement?", "--json"]
    )

    assert data["abstained"] is True
    assert data["citations"] == []


# --- chat -----------------------------------------------------------------------------------


def test_chat_answers_questions_and_commands(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, document: Document
) -> None:
    prompts = feed(
        monkeypatch,
        [
            "What is the Conference on Disarmament's top priority?",
            "",
            "/para 3",
            "/lang en",
            "核武器国家提出了什么借口？",
            "/reset",
            "/help",
            "/bogus",
            "/quit",
            "never read",
        ],
    )

    assert main(["chat"]) == 0

    out = capsys.readouterr().out
    assert "Nuclear disarmament is the highest priority of the Conference on Disarmament" in out
    assert "[¶8]" in out
    assert f"Paragraph 3 [¶3]\n{document.text(3, 'en')}" in out
    assert "(reply language: en)" in out
    assert "the nuclear-weapon States have consistently refused" in out
    assert "(conversation forgotten)" in out
    assert "(unknown command)" in out
    assert len(prompts) == 9


def test_chat_keeps_the_conversation_for_follow_ups(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, document: Document
) -> None:
    feed(monkeypatch, ["核武器国家提出了什么借口？", "那中东呢？", "/lang zh", "/para 20"])

    assert main(["chat"]) == 0

    out = capsys.readouterr().out
    assert document.text(10, "zh") in out
    assert message("zh", "no_such_paragraph", count=15, missing="20") in out


def test_chat_with_a_model_answers_every_turn_through_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, llm: OpenAIStandIn
) -> None:
    """Each question runs on the same event loop, so the client's pooled connections keep
    working: the follow-up is condensed by the model and answered from what it condensed."""
    day_quote = (
        "The Group invites all stakeholders to promote the International Day for the Total "
        "Elimination of Nuclear Weapons on a continuous basis"
    )
    llm.script(
        structured(
            cited_reply(
                "It is nuclear disarmament [¶8].",
                (8, "Nuclear disarmament is the highest priority of the Conference on Disarmament"),
            ),
            match=any_message_contains("<question>\nWhat is the Conference"),
        ),
        text(
            "What does the Group invite all stakeholders to promote?",
            match=last_user_contains("Follow-up question"),
        ),
        structured(
            cited_reply(
                "It invites everyone to promote the International Day [¶5].", (5, day_quote)
            ),
            match=last_user_contains("<paragraphs>\n[¶5] "),
        ),
    )
    feed(
        monkeypatch,
        [
            "What is the Conference on Disarmament's top priority?",
            "And what do they ask of others?",
        ],
    )

    assert main(["chat"]) == 0

    out = capsys.readouterr().out
    assert "It is nuclear disarmament [¶8]." in out
    assert "It invites everyone to promote the International Day [¶5]." in out
    assert llm.pending == []
    assert llm.attempts == 3


# --- eval -----------------------------------------------------------------------------------


def assert_score_block(block: dict[str, Any]) -> None:
    assert block.keys() >= SCORE_KEYS
    assert set(block["latency_ms"]) == {"p50", "p95"}
    assert block["citation_validity"] == 1.0


def test_eval_json_reports_every_score(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write_questions(tmp_path / "questions.jsonl", QUESTIONS)

    report = run_json(capsys, ["eval", str(path), "--json"])

    assert_score_block(report)
    assert (report["n"], report["answerable"], report["unanswerable"]) == (6, 4, 2)
    assert report["mode"] == "extractive"
    assert report["answer_citation_hit"] == 1.0
    assert report["abstention_accuracy"] == 1.0
    assert report["false_abstention_rate"] == 0.0
    assert set(report["by_lang"]) == {"en", "zh"}
    for lang, block in report["by_lang"].items():
        assert_score_block(block)
        assert block["n"] == sum(q["lang"] == lang for q in QUESTIONS)
    rows = {q["id"]: q for q in report["questions"]}
    assert list(rows) == [q["id"] for q in QUESTIONS]
    for q in QUESTIONS:
        row = rows[q["id"]]
        assert row.keys() >= QUESTION_KEYS
        assert row["ok"] is True
        if q["answerable"] and not q["question"].startswith("第"):
            assert len(row["retrieved"]) >= 5
    assert rows["t3"]["abstained"] is True
    assert rows["t3"]["cited"] == []


def test_eval_llm_mode_against_the_stand_in(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, llm: OpenAIStandIn
) -> None:
    rows = [q for q in QUESTIONS if q["lang"] == "en"]
    path = write_questions(tmp_path / "questions.jsonl", rows)
    llm.script(
        structured(
            cited_reply(
                "CELAC has 33 member States [¶6].",
                (6, "The 33 member States of CELAC declared their commitment"),
            ),
            match=any_message_contains(rows[0]["question"]),
        ),
        structured(
            cited_reply(
                "The nuclear-weapon States [¶11].",
                (11, "the nuclear-weapon States have consistently refused to fulfil"),
            ),
            match=any_message_contains(rows[1]["question"]),
        ),
    )

    report = run_json(capsys, ["eval", str(path), "--mode", "llm", "--json"])

    assert report["mode"] == "llm"
    assert_score_block(report)
    assert report["answer_citation_hit"] == 1.0
    assert report["abstention_accuracy"] == 1.0
    assert llm.pending == []
    assert llm.attempts == 2  # the out-of-scope question never reaches the model


def test_eval_llm_mode_needs_a_model(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write_questions(tmp_path / "questions.jsonl", QUESTIONS[:1])

    assert main(["eval", str(path), "--mode", "llm", "--json"]) == 2
    assert "G21_LLM_MODEL" in capsys.readouterr().err


@pytest.mark.parametrize(
    "content",
    [
        '{"id": "x1", "lang": "en"}\n',
        "not json at all\n",
        '{"id": "x2", "question": "q", "paragraphs": ["seven"]}\n',
    ],
)
def test_eval_rejects_a_malformed_question_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content, "utf-8")

    assert main(["eval", str(path), "--json"]) == 2

    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{path}:1" in captured.err


def test_eval_reports_a_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["eval", str(tmp_path / "absent.jsonl")]) == 2
    assert "absent.jsonl" in capsys.readouterr().err


def test_eval_plain_output_lists_the_scores(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write_questions(tmp_path / "questions.jsonl", QUESTIONS)

    assert main(["eval", str(path)]) == 0

    out = capsys.readouterr().out
    assert "6 questions (4 answerable), mode extractive" in out
    assert "citation_validity" in out
    assert "latency ms: p50" in out
