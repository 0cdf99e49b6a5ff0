"""`g21bot ingest`, `search` and `eval`, and what an ingest leaves on disk for the next process."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bot.ops.settings import Settings

if TYPE_CHECKING:
    from tests.conftest import CliResult

METRICS = {
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

# Our own questions (one answerable and one not, per language, plus paragraph references).
EVAL_QUESTIONS = [
    {
        "id": "t1",
        "lang": "en",
        "question": "Is it time to translate words into action?",
        "paragraphs": [13],
        "answerable": True,
    },
    {
        "id": "t2",
        "lang": "zh",
        "question": "哈瓦那首脑会议把哪个地区宣布为和平区？",
        "paragraphs": [6],
        "answerable": True,
    },
    {"id": "t3", "lang": "en", "question": "Show me ¶4", "paragraphs": [4], "answerable": True},
    {
        "id": "t4",
        "lang": "zh",
        "question": "第二十五段写了什么？",
        "paragraphs": [],
        "answerable": False,
    },
    {
        "id": "t5",
        "lang": "en",
        "question": "Who is the best football player in the Premier League?",
        "paragraphs": [],
        "answerable": False,
    },
    {
        "id": "t6",
        "lang": "zh",
        "question": "声明如何看待全球气候变暖？",
        "paragraphs": [],
        "answerable": False,
    },
]


# --- ingest ---------------------------------------------------------------------------------


def test_ingest_twice(run_cli: Callable[..., CliResult], g21_env: Path) -> None:
    first = run_cli("ingest")
    assert first.code == 0, first.err
    assert "90 chunks: 90 added, 0 updated, 0 deleted, 0 unchanged" in first.out
    assert (g21_env / "chroma").is_dir()
    # Vectors are parked under the data dir between the passes, and gone after.
    assert not [p for p in g21_env.iterdir() if p.name.startswith("g21-ingest-")]
    second = run_cli("ingest")
    assert second.code == 0, second.err
    assert "0 added, 0 updated, 0 deleted, 90 unchanged" in second.out


def test_ingest_rebuild(run_cli: Callable[..., CliResult]) -> None:
    assert run_cli("ingest").code == 0
    rebuilt = run_cli("ingest", "--rebuild")
    assert rebuilt.code == 0, rebuilt.err
    assert "90 added, 0 updated, 0 deleted" in rebuilt.out


def test_ingest_edited_corpus(run_cli: Callable[..., CliResult], corpus_copy: Path) -> None:
    assert run_cli("ingest", "--manifest", str(corpus_copy)).code == 0
    en = corpus_copy.parent / "g21-2013-hlm-follow-up.en.txt"
    text = en.read_text(encoding="utf-8")
    # Drop the last paragraph from every version, and edit another one.
    for path in corpus_copy.parent.glob("g21-2013-hlm-follow-up.*.txt"):
        body = path.read_text(encoding="utf-8")
        path.write_text(body[: body.index("\n15.")] + "\n", encoding="utf-8")
    text = en.read_text(encoding="utf-8").replace("firmly believes", "is convinced")
    en.write_text(text, encoding="utf-8")
    result = run_cli("ingest", "--manifest", str(corpus_copy))
    assert result.code == 0, result.err
    assert "84 chunks: 0 added, 1 updated, 6 deleted, 83 unchanged" in result.out


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["ingest", "--manifest", "missing.toml"], {}, "cannot read manifest"),
        (["ingest"], {"G21_EMBEDDINGS": "ollama:nomic-embed-text"}, "pip install"),
        (["ingest"], {"G21_EMBEDDINGS": "magic"}, "valid choices"),
    ],
    ids=["missing-manifest", "extra-not-installed", "unknown-embeddings"],
)
def test_ingest_errors_are_reported_not_raised(
    run_cli: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: dict[str, str],
    message: str,
) -> None:
    if "ollama" in env.get("G21_EMBEDDINGS", "") and importlib.util.find_spec("langchain_ollama"):
        pytest.skip("langchain-ollama is installed here; this case needs it absent")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = run_cli(*args)
    assert result.code == 1
    assert result.err.startswith("g21bot: ")
    assert message in result.err
    assert "Traceback" not in result.err


def test_invalid_setting_is_reported(
    run_cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("G21_CHUNK_TOKENS", "3")
    result = run_cli("ingest")
    assert result.code == 2
    assert "G21_CHUNK_TOKENS" in result.err or "chunk_tokens" in result.err


# --- search ---------------------------------------------------------------------------------


def test_search_json(run_cli: Callable[..., CliResult]) -> None:
    result = run_cli("search", "Is it time to translate words into action?", "--json", "-k", "3")
    assert result.code == 0, result.err
    data = result.json()
    assert set(data) == {"query", "covered", "coverage", "missing", "results"}
    assert data["query"] == "Is it time to translate words into action?"
    assert data["covered"] is True
    assert 0 <= data["coverage"] <= 1
    assert data["missing"] == []
    assert len(data["results"]) == 3
    first = data["results"][0]
    assert set(first) == {"paragraph", "score", "lang", "text"}
    assert (first["paragraph"], first["lang"]) == (13, "en")
    assert first["text"].startswith("The Group firmly believes")
    scores = [row["score"] for row in data["results"]]
    assert scores == sorted(scores, reverse=True)


def test_search_json_other_language_and_missing_paragraph(
    run_cli: Callable[..., CliResult],
) -> None:
    data = run_cli("search", "paragraph 12 and paragraph 40", "--json", "--lang", "zh").json()
    assert data["missing"] == [40]
    assert [row["paragraph"] for row in data["results"]] == [12]
    assert data["results"][0]["lang"] == "zh"
    assert data["results"][0]["text"].startswith("这方面，本集团回顾，国际法院")


def test_search_out_of_scope_json(run_cli: Callable[..., CliResult]) -> None:
    data = run_cli("search", "谁赢得了足球世界杯？", "--json").json()
    assert data["covered"] is False
    assert data["coverage"] < Settings().min_coverage


def test_search_text_output(run_cli: Callable[..., CliResult]) -> None:
    result = run_cli("search", "第20段")
    assert result.code == 0, result.err
    assert "15 paragraphs" in result.out and "20" in result.out
    result = run_cli("search", "¶9", "--lang", "en")
    assert result.out.startswith("¶9")
    assert "article VI" in result.out


# --- eval -----------------------------------------------------------------------------------


def test_eval_json(run_cli: Callable[..., CliResult], tmp_path: Path) -> None:
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        "\n".join(json.dumps(q, ensure_ascii=False) for q in EVAL_QUESTIONS) + "\n\n",
        encoding="utf-8",
    )
    result = run_cli("eval", str(questions), "--json")
    assert result.code == 0, result.err
    report: dict[str, Any] = result.json()

    assert set(report) >= METRICS
    assert (report["n"], report["answerable"], report["unanswerable"]) == (6, 3, 3)
    assert set(report["latency_ms"]) >= {"p50", "p95"}
    assert 0 <= report["latency_ms"]["p50"] <= report["latency_ms"]["p95"]
    assert set(report["by_lang"]) == {"zh", "en"}
    for block in report["by_lang"].values():
        assert set(block) >= METRICS
    assert report["by_lang"]["zh"]["n"] == report["by_lang"]["en"]["n"] == 3

    rows = {row["id"]: row for row in report["questions"]}
    assert list(rows) == [q["id"] for q in EVAL_QUESTIONS]
    for row in rows.values():
        assert {"id", "retrieved", "cited", "abstained", "ok"} <= set(row)
        assert all(isinstance(p, int) for p in row["retrieved"] + row["cited"])
    assert rows["t1"]["retrieved"][0] == 13
    assert rows["t2"]["retrieved"][0] == 6
    assert rows["t3"]["retrieved"] == [4]
    assert report["hit_at_1"] == report["hit_at_3"] == report["mrr"] == 1.0
    for qid in ("t4", "t5", "t6"):
        assert rows[qid]["abstained"] and rows[qid]["cited"] == []
    assert report["abstention_accuracy"] == 1.0
    assert 0.0 <= report["citation_validity"] <= 1.0


# --- durability across processes ------------------------------------------------------------

# Run in a fresh interpreter: what does the store hold, and does a vector query see it?
PROBE = r"""
import json, sys
from bot.answering.stack import StackHolder
from bot.ops.settings import Settings
stack = StackHolder(Settings(), auto_ingest=False).get()
store, embed = stack.store, stack.choice.embeddings
chunks = {c.id: c for c in store.all_chunks()}
dense = [(chunks[i], s) for i, s in store.nearest(embed.embed_query(sys.argv[1]), 3)]
result = stack.retriever.search(sys.argv[1])
print(json.dumps({
    "count": store.count(),
    "dense": [[c.paragraph, c.lang, c.text, s] for c, s in dense],
    "search": result.paragraphs,
    "texts": [c.text for c in store.all_chunks()],
}, ensure_ascii=False))
"""


def _run(
    args: list[str], data_dir: Path, cwd: Path, manifest: Path | None = None
) -> subprocess.CompletedProcess[str]:
    aliases = {f.alias for f in Settings.model_fields.values() if f.alias}
    env = {k: v for k, v in os.environ.items() if k not in aliases}
    env.update(G21_DATA_DIR=str(data_dir), ANONYMIZED_TELEMETRY="False")
    if manifest is not None:
        env["G21_MANIFEST"] = str(manifest)
    done = subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done


def _probe(
    question: str, data_dir: Path, cwd: Path, manifest: Path | None = None
) -> dict[str, Any]:
    done = _run(["-c", PROBE, question], data_dir, cwd, manifest)
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def test_ingest_is_durable_across_processes(tmp_path: Path, corpus_copy: Path) -> None:
    """chromadb #6975: writes below the HNSW sync threshold could be lost at exit. Every step
    runs in its own process, so only what reached the disk counts."""
    data_dir = tmp_path / "data"
    out = _run(["-m", "bot.entry.cli", "ingest"], data_dir, tmp_path).stdout
    assert "90 added" in out

    seen = _probe("International Court of Justice advisory opinion", data_dir, tmp_path)
    assert seen["count"] == 90
    assert seen["dense"], "the vector index came back empty"
    assert seen["dense"][0][:2] == [12, "en"]
    assert seen["search"][0] == 12

    en = corpus_copy.parent / "g21-2013-hlm-follow-up.en.txt"
    en.write_text(
        en.read_text(encoding="utf-8").replace(
            "In this regard, the Group recalls", "Quokka marmots aside, the Group recalls"
        ),
        encoding="utf-8",
    )
    args = ["-m", "bot.entry.cli", "ingest", "--manifest", str(corpus_copy)]
    out = _run(args, data_dir, tmp_path).stdout
    assert "0 added, 1 updated, 0 deleted" in out

    # The index now holds the edited copy: read it as built (else it is stale, and refused).
    seen = _probe("quokka marmots", data_dir, tmp_path, manifest=corpus_copy)
    assert seen["count"] == 90
    paragraph, lang, text, similarity = seen["dense"][0]
    assert (paragraph, lang) == (12, "en")
    assert text.startswith("Quokka marmots aside")
    assert similarity > 0.1  # the new vector, not the old one with the new text
    assert not any(t.startswith("In this regard, the Group recalls") for t in seen["texts"])
