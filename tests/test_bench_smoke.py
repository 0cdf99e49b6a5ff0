"""The benchmark (`python3 dev.py bench`, ``python -m bench``) in its smallest configuration:
every part runs and reports what it must. Structure only; speed is measured by the benchmark,
never asserted here."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import dev
from bench.run import main as bench_main
from tests.conftest import CliResult

ROOT = Path(__file__).resolve().parents[1]

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


@pytest.fixture
def run_bench(
    g21_env: Path, capsys: pytest.CaptureFixture[str]
) -> Iterator[Callable[..., CliResult]]:
    """Runs `python -m bench ARGS…` in this process (``bench.run.main``) in the ``g21_env``
    environment; the logging set-up it installs is undone afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        code = bench_main(list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    yield run
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)


@pytest.mark.timeout(180)
def test_bench_smallest_run_reports_every_part(
    run_bench: Callable[..., Any], question_file: Path, tmp_path: Path
) -> None:
    plot = tmp_path / "bench.png"
    result = run_bench(
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


def test_cli_bench_points_to_dev_py(run_cli: Callable[..., Any]) -> None:
    result = run_cli("bench", "--quick", "--json")
    assert result.code == 2
    assert "python3 dev.py bench" in result.err and "checkout" in result.err
    assert result.out == ""


def test_dev_py_bench_passes_arguments_through(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(dev, "ensure", lambda extra="dev": calls.append(("ensure", extra)))
    monkeypatch.setattr(dev, "run", lambda *args: calls.append(args) or 0)
    assert dev.main(["bench", "--quick", "--json"]) == 0
    assert calls == [("ensure", "dev"), (dev.PY, "-m", "bench", "--quick", "--json")]


def test_bench_runs_as_a_module_from_the_root() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for option in ("--quick", "--json", "--plot", "--only"):
        assert option in done.stdout
