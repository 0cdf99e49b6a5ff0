"""`python3 dev.py bench` (``python -m bench``): run the parts, print tables (or one JSON
object with ``--json``)."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import answer_path, coldstart, hard_faults, kinds, peer, scale, throughput
from .common import Config, bench_settings, default_questions, log, machine, quiet_logs

PARTS = ("answer", "peer", "scale", "bot", "bot_faults", "cold_start")


def config_from_args(args: argparse.Namespace) -> Config:
    questions = Path(args.questions) if args.questions else default_questions()
    config = Config.quick(questions) if args.quick else Config.full(questions)
    if args.sizes:
        config.sizes = [int(s) for s in str(args.sizes).split(",") if s.strip()]
    if args.modes:
        config.modes = [m.strip() for m in str(args.modes).split(",") if m.strip()]
    for name in ("users", "fault_users", "messages", "repeats", "cold_runs"):
        value = getattr(args, name, None)
        if value is not None:
            setattr(config, name, int(value))
    if args.only:
        config.parts = [p.strip() for p in str(args.only).split(",") if p.strip()]
    config.plot = Path(args.plot) if args.plot else None
    return config


def _attempt(report: dict[str, Any], part: str, call: Callable[[], Any]) -> Any:
    """Run one part; a failure is recorded (and ends the run with exit 1) but the other
    parts still run."""
    started = time.perf_counter()
    log(f"{part} …")
    try:
        return call()
    except Exception as exc:
        report.setdefault("errors", {})[part] = f"{type(exc).__name__}: {exc}"
        log(f"{part} failed:\n{traceback.format_exc()}")
        return None
    finally:
        report.setdefault("part_s", {})[part] = round(time.perf_counter() - started, 2)


def run(config: Config) -> dict[str, Any]:
    """Every selected part, in one process (scale and cold start spawn their own)."""
    from bot.answering.stack import run_ingest
    from bot.entry.evaluate import read_questions
    from retrieval.corpus import load_corpus

    for part in config.parts:
        if part not in PARTS:
            raise ValueError(f"unknown part {part!r}; parts: {', '.join(PARTS)}")
    for mode in config.modes:
        if mode not in ("embedded", "server"):
            raise ValueError(f"unknown Chroma mode {mode!r}; modes: embedded, server")
    started = time.perf_counter()
    if not config.questions.is_file():
        raise ValueError(f"{config.questions}: no such question file")
    questions = read_questions(config.questions)
    if not questions:
        raise ValueError(f"{config.questions}: no questions")
    report: dict[str, Any] = {
        "machine": machine(),
        "config": {
            "questions": str(config.questions),
            "n_questions": len(questions),
            "repeats": config.repeats,
            "sizes": config.sizes,
            "modes": config.modes,
            "users": config.users,
            "fault_users": config.fault_users,
            "messages": config.messages,
            "cold_runs": config.cold_runs,
            "seed": config.seed,
            "parts": config.parts,
        },
    }
    with tempfile.TemporaryDirectory(prefix="g21bench-") as tmp, quiet_logs():
        data_dir = Path(tmp) / "data"
        run_ingest(bench_settings(data_dir))  # the shipped statement, embedded Chroma

        if "answer" in config.parts or "peer" in config.parts:
            answers = _attempt(
                report,
                "answer",
                lambda: answer_path.measure(data_dir, questions, config.repeats),
            )
            if answers:
                report.update({k: v for k, v in answers.items() if not k.startswith("_")})
            if "peer" in config.parts:
                corpus = load_corpus()
                peer_result = _attempt(
                    report, "peer", lambda: peer.measure(corpus, questions, config.repeats)
                )
                if peer_result:
                    report["peer"] = peer_result
                if answers:
                    report["ours"] = peer.ours(
                        questions, answers["_answers"], answers["_search_p95_ms"]
                    )

        if "answer" in config.parts:
            per_kind = _attempt(report, "kinds", lambda: kinds.measure(data_dir, config.repeats))
            if per_kind:
                report["answer_by_kind"] = per_kind["by_kind"]
                report["answer_by_lang"] = per_kind["by_lang"]

        if "scale" in config.parts:
            rows = _attempt(
                report,
                "scale",
                lambda: scale.measure(
                    config.sizes, config.modes, config.questions, config.repeats, config.seed
                ),
            )
            report["scale"] = rows or []
            failed = [
                f"{r['paragraphs']} {r['mode']}: {r['error']}" for r in rows or [] if "error" in r
            ]
            if failed:
                report.setdefault("errors", {})["scale"] = "\n".join(failed)
            if rows and config.plot:
                written = scale.plot(rows, config.plot, report["machine"])
                report["plot"] = str(written) if written else None

        if "bot" in config.parts:
            texts = [q.question for q in questions]
            load = (data_dir, texts, config.users, config.messages)
            bot = _attempt(report, "bot", lambda: throughput.measure(*load))
            if bot:
                report["bot"] = bot
            free = _attempt(report, "bot_unthrottled", lambda: throughput.measure(*load, False))
            if free:
                report["bot_unthrottled"] = free

        if "bot_faults" in config.parts:
            texts = [q.question for q in questions]
            faults = _attempt(
                report,
                "bot_faults",
                lambda: (
                    throughput.measure_faults(data_dir, texts, config.fault_users, config.messages)
                    + hard_faults.measure(data_dir, texts, config.fault_users, config.messages)
                ),
            )
            if faults:
                report["bot_faults"] = faults
                broken = [
                    f"{f['scenario']}: lost {f['lost']}, duplicated {f['duplicated']}, "
                    f"out of order {f['out_of_order']}"
                    for f in faults
                    if f["lost"] or f["out_of_order"] or f["duplicated"] > f.get("may_repeat", 0)
                ]
                if broken:
                    report.setdefault("errors", {})["bot_faults"] = "\n".join(broken)

        if "cold_start" in config.parts:
            first = next((q.question for q in questions if q.answerable), questions[0].question)
            cold = _attempt(
                report, "cold_start", lambda: coldstart.measure(first, config.cold_runs)
            )
            if cold:
                report["cold_start_s"] = cold["cold_start_s"]
                report["cold_start"] = cold
    report["total_s"] = round(time.perf_counter() - started, 1)
    return report


# --- tables ------------------------------------------------------------------------------


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(
            c.rjust(w) if i else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def tables(report: dict[str, Any]) -> str:
    m = report["machine"]
    c = report["config"]
    out = [
        f"machine: {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB, Python {m['python']}, "
        f"{m['platform']}, chromadb {m['chromadb']}, "
        f"python-telegram-bot {m['python_telegram_bot']}",
        f"questions: {c['questions']} ({c['n_questions']}), each ×{c['repeats']} (medians)",
        "",
    ]
    if "answer_ms" in report:
        rows = [
            ["AnswerEngine.answer (whole path)", *_p(report["answer_ms"])],
            ["Retriever.search (hybrid + gate)", *_p(report["search_ms"])],
            ["Chroma query alone", *_p(report["chroma_query_ms"])],
            ["BM25 query alone", *_p(report["bm25_query_ms"])],
        ]
        out += [
            "answer path (ms, warm, offline)",
            _table(["", "p50", "p95", "max"], rows),
            f"overhead ratio (answer p50 / (Chroma p50 + BM25 p50)): {report['overhead_ratio']}",
            "",
        ]
    if "peer" in report and "ours" in report:
        p, o = report["peer"], report["ours"]
        rows = [
            [
                "g21bot (hybrid, refs, gate)",
                o["hit_at_1"],
                o["hit_at_3"],
                o["p95_ms"],
                o["abstention_accuracy"],
            ],
            [
                "LangChain BM25Retriever + jieba",
                p["hit_at_1"],
                p["hit_at_3"],
                p["p95_ms"],
                p["abstention_accuracy"],
            ],
        ]
        out += [
            "retrieval quality vs a plain LangChain peer (answerable questions)",
            _table(["", "hit@1", "hit@3", "p95 ms", "abstention acc."], rows),
            "(the peer never abstains: every out-of-scope question gets paragraphs)",
            "",
        ]
    if report.get("scale"):
        rows = [
            [
                r["paragraphs"],
                r["mode"],
                r["chunks"],
                r["ingest_s"],
                r["open_s"],
                r["disk_mb"],
                r["ingest_rss_mb"],
                r["serve_rss_mb"],
                r.get("server_rss_mb", ""),
                r["rss_mb"],
                r["query_p95_ms"],
                r["answer_p50_ms"],
                r["answer_p95_ms"],
                r["chroma_p50_ms"],
            ]
            for r in report["scale"]
            if "error" not in r
        ]
        out += [
            "scale (synthetic corpora; ingest and serving each a fresh process)",
            _table(
                [
                    "paragraphs",
                    "mode",
                    "chunks",
                    "ingest s",
                    "open s",
                    "disk MB",
                    "ingest RSS",
                    "serve RSS",
                    "server RSS",
                    "peak RSS MB",
                    "search p95 ms",
                    "answer p50 ms",
                    "answer p95 ms",
                    "chroma p50 ms",
                ],
                rows,
            ),
            "",
        ]
    for key, label in (("bot", "with the rate limiter"), ("bot_unthrottled", "rate limiter off")):
        if key in report:
            b = report[key]
            out += [
                f"Telegram bot, {b['users']} users × {b['messages']} questions at once ({label})",
                _table(
                    [
                        "answers/s",
                        "p50 ms",
                        "p95 ms",
                        "lost",
                        "duplicated",
                        "out of order",
                        "unmatched",
                    ],
                    [
                        [
                            b["answers_per_s"],
                            b["p50_ms"],
                            b["p95_ms"],
                            b["lost"],
                            b["duplicated"],
                            b["out_of_order"],
                            b["unmatched"],
                        ]
                    ],
                ),
                "",
            ]
    if report.get("bot_faults"):
        rows = [
            [
                f["scenario"],
                f["faulted_requests"],
                f["answers_per_s"],
                f["p95_ms"],
                f["lost"],
                f["duplicated"],
                f["out_of_order"],
            ]
            for f in report["bot_faults"]
        ]
        first = report["bot_faults"][0]
        out += [
            f"Telegram bot under Bot API faults, {first['users']} users × {first['messages']} "
            "questions at once (rate limiter off)",
            _table(
                ["scenario", "faulted calls", "answers/s", "p95 ms", "lost", "dup.", "order"],
                rows,
            ),
            "",
        ]
    if "cold_start" in report:
        cs = report["cold_start"]
        out += [
            f"cold start (process start → first answer, median of {cs['runs']}): "
            f"{cs['cold_start_s']} s (imports {cs['imports_s']} s)",
            "",
        ]
    for part, error in report.get("errors", {}).items():
        out.append(f"FAILED {part}: {error}")
    out.append(f"total {report['total_s']} s")
    return "\n".join(out)


def _p(block: dict[str, float]) -> list[float]:
    return [block["p50"], block["p95"], block["max"]]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python3 dev.py bench",
        description="Answer path vs its raw parts, a plain LangChain BM25 peer, synthetic "
        "corpora of growing size (embedded Chroma and a chroma server), the Telegram bot under "
        "load and under Bot API faults (local Bot API stand-in), cold start. Medians and "
        "percentiles; nothing asserted.",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    p.add_argument("--quick", action="store_true", help="small sizes: the whole run in < 2 min")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--plot", metavar="PATH", help="write a PNG of latency, ingest time and RSS vs size"
    )
    p.add_argument(
        "--questions", metavar="PATH", help="JSONL questions (default ../shared/eval/dev.jsonl)"
    )
    p.add_argument("--sizes", help="comma-separated corpus sizes in paragraphs")
    p.add_argument("--modes", help="Chroma modes for the scale runs: embedded,server")
    p.add_argument("--users", type=int, help="simulated Telegram users")
    p.add_argument("--fault-users", type=int, help="simulated users per fault scenario")
    p.add_argument("--messages", type=int, help="questions per simulated user")
    p.add_argument("--repeats", type=int, help="timings per question (the median is kept)")
    p.add_argument("--cold-runs", type=int, help="cold-start runs (the median is kept)")
    p.add_argument(
        "--only", help="comma-separated parts: answer,peer,scale,bot,bot_faults,cold_start"
    )
    return p


def bench(args: argparse.Namespace) -> int:
    """One run as configured by ``args``; exit status 1 when a part failed."""
    config = config_from_args(args)
    report = run(config)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(tables(report))
    return 1 if report.get("errors") else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Arguments, then logging as `g21bot` sets it up (from the g21bot settings), then the
    run. Exit status: 0, 1 when a part failed, 2 for a bad argument or setting."""
    args = build_parser().parse_args(argv)
    from pydantic import ValidationError

    from bot.ops.logs import setup_logging
    from bot.ops.settings import Settings
    from retrieval.errors import RetrievalError

    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(x) for x in first["loc"])
        print(f"bench: invalid setting {field}: {first['msg']}", file=sys.stderr)
        return 2
    setup_logging(settings, verbose=args.verbose)
    try:
        return bench(args)
    except ValueError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    except RetrievalError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
