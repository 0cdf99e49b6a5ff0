"""`g21bot bench` in its smallest configuration: every part runs and reports what it must.
Structure only; speed is measured by the benchmark, never asserted here."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import bot.entry.cli

QUESTIONS = [
    {
        "id": "s1",
        "lang": "zh",
        "question": "核裁军问题大会高级别会议是哪一天举行的？",
        "paragraphs": [1],
        "answerable": True,
    },
    {
        "id": "s2",
        "lang": "en",
        "question": "What was the Secretary-General asked to do?",
        "paragraphs": [3],
        "answerable": True,
    },
    {
        "id": "s3",
        "lang": "en",
        "question": "What does paragraph 7 say?",
        "paragraphs": [7],
        "answerable": True,
    },
    {
        "id": "s4",
        "lang": "en",
        "question": "Does the statement discuss climate change?",
        "paragraphs": [],
        "answerable": False,
    },
]


@pytest.fixture
def question_file(tmp_path: Path) -> Path:
    path = tmp_path / "questions.jsonl"
    path.write_text(
        "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in QUESTIONS), encoding="utf-8"
    )
    return path


@pytest.mark.timeout(180)
def test_bench_smallest_run_reports_every_part(
    run_cli: Callable[..., Any], question_file: Path, tmp_path: Path
) -> None:
    plot = tmp_path / "bench.png"
    result = run_cli(
        "bench",
        "--json",
        "--questions",
        str(question_file),
        "--sizes",
        "60",
        "--users",
        "2",
        "--fault-users",
        "2",
        "--messages",
        "2",
        "--repeats",
        "1",
        "--cold-runs",
        "1",
        "--plot",
        str(plot),
    )
    report = result.json()
    assert result.code == 0, report.get("errors")
    assert "errors" not in report

    for key in ("cores", "memory_gib", "python", "platform"):
        assert key in report["machine"]
    assert {"p50", "p95"} <= set(report["answer_ms"])
    for block in ("chroma_query_ms", "bm25_query_ms"):
        assert {"p50", "p95"} <= set(report[block])
    assert report["overhead_ratio"] is None or report["overhead_ratio"] > 0

    for side in ("peer", "ours"):
        assert {"hit_at_1", "hit_at_3", "p95_ms"} <= set(report[side])
        assert 0 <= report[side]["hit_at_1"] <= report[side]["hit_at_3"] <= 1
    assert report["peer"]["abstains"] is False

    rows = report["scale"]
    assert {r["mode"] for r in rows} == {"embedded", "server"}
    for row in rows:
        assert row["paragraphs"] == 60
        assert row["chunks"] >= 60
        for key in ("ingest_s", "disk_mb", "rss_mb", "query_p50_ms", "query_p95_ms"):
            assert row[key] >= 0, key
    assert "server_rss_mb" in next(r for r in rows if r["mode"] == "server")

    for key in ("bot", "bot_unthrottled"):
        load = report[key]
        assert load["answers"] == 4
        assert load["lost"] == load["duplicated"] == load["out_of_order"] == 0
        assert load["unmatched"] == 0
        assert load["spec_violations"] == 0
        assert {"answers_per_s", "p95_ms"} <= set(load)

    assert report["cold_start_s"] > 0
    assert report["cold_start"]["answered"] is True

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_without_checkout_explains(
    run_cli: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.entry.cli, "bench_dir", lambda: tmp_path / "no-tests" / "bench")
    result = run_cli("bench", "--quick")
    assert result.code == 2
    assert "tests" in result.err and "checkout" in result.err
