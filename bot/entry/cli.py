"""The `g21bot` command: ingest, search, ask, chat, run, eval, bench."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.ops.settings import Settings
from retrieval.errors import RetrievalError

log = logging.getLogger("g21bot")


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings()
    if getattr(args, "manifest", None):
        settings.manifest = args.manifest
    return settings


def cmd_ingest(args: argparse.Namespace) -> int:
    from bot.answering.stack import run_ingest
    from retrieval.corpus import load_corpus
    from retrieval.ingest import iter_chunks

    settings = _settings(args)
    started = time.perf_counter()
    corpus = load_corpus(settings.manifest or None)
    # Counted, not kept: a large corpus is written a batch at a time.
    total = sum(1 for _ in iter_chunks(corpus, settings.chunk_tokens))
    if not settings.chroma_host:
        from bot.entry.preflight import ConfigError, writable

        try:
            writable(settings.data_dir)  # read-only, full, or below a file: say so, once
        except ConfigError as exc:
            print(f"g21bot: {exc}", file=sys.stderr)
            return 2
    done = {"embedded": 0, "written": 0}

    def progress(stage: str, n: int) -> None:
        done[stage] += n
        if total >= 200 and sys.stderr.isatty():
            width = 30
            filled = int(width * done[stage] / total)
            print(
                f"\r{stage:>8} [{'#' * filled}{'.' * (width - filled)}] {done[stage]}/{total}"
                " chunks",
                end="",
                file=sys.stderr,
                flush=True,
            )

    # This process only ingests: the analyzers can go before Chroma's index grows.
    report = run_ingest(settings, args.rebuild, progress, corpus, release_analyzers=True)
    if total >= 200 and sys.stderr.isatty():
        print(file=sys.stderr)
    elapsed = time.perf_counter() - started
    print(f"ingest: {total} chunks: {report.summary()} ({elapsed:.2f} s)")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from bot.answering.engine import AnswerEngine

    engine = AnswerEngine(_settings(args).model_copy(update={"llm_model": ""}))
    result, _ = engine.search(args.question, args.k)
    document = engine.document
    lang = args.lang or engine.question(args.question).lang
    rows = [
        {
            "paragraph": hit.paragraph,
            "score": hit.score,
            "lang": lang,
            "text": document.text(hit.paragraph, lang),
        }
        for hit in result.hits
    ]
    if args.json:
        print(
            json.dumps(
                {
                    "query": result.query,
                    "covered": result.covered,
                    "coverage": result.coverage,
                    "missing": list(result.request.missing) if result.request else [],
                    "results": rows,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return 0
    if result.request and result.request.missing:
        print(
            f"(the statement has {document.count} paragraphs; no paragraph "
            f"{', '.join(map(str, result.request.missing))})"
        )
    if not result.covered and not result.request:
        print(f"(not covered: coverage {result.coverage:.2f}; closest paragraphs below)")
    for row in rows:
        print(f"¶{row['paragraph']}  score {row['score']:.3f}  [{lang}]\n    {row['text']}\n")
    return 0


def _print_answer(answer: object, as_json: bool) -> None:
    from bot.answering.answer import Answer

    assert isinstance(answer, Answer)
    if as_json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(answer.text)


def cmd_ask(args: argparse.Namespace) -> int:
    from bot.answering.engine import AnswerEngine

    engine = AnswerEngine(_settings(args))
    answer = asyncio.run(engine.aanswer(args.question, lang=args.lang))
    _print_answer(answer, args.json)
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.entry.terminal import chat

    return chat(_settings(args), lang=args.lang)


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if not settings.telegram_bot_token.get_secret_value():
        print(
            "No Telegram bot token is set. To run the bot: talk to @BotFather in Telegram, "
            "create a bot, then put TELEGRAM_BOT_TOKEN=<token> in .env (see .env.example).\n"
            "Meanwhile you can ask questions here, in the terminal.",
            file=sys.stderr,
        )
        if sys.stdin.isatty() or args.chat:
            return cmd_chat(args)
        return 2
    from bot.entry.preflight import ConfigError, check

    try:
        check(settings, bot=True, webhook=args.webhook)
    except ConfigError as exc:
        print(f"g21bot: {exc}", file=sys.stderr)
        return 2
    from bot.telegram.server import serve_bot

    return serve_bot(settings, webhook=args.webhook)


async def _evaluate(engine: Any, questions: Any, labels: Any) -> dict[str, Any]:
    from bot.entry.evaluate import evaluate

    try:
        return await evaluate(engine, questions, labels)
    finally:
        await engine.aclose()


def cmd_eval(args: argparse.Namespace) -> int:
    from bot.answering.engine import AnswerEngine
    from bot.entry.evaluate import EvalFileError, read_labels, read_questions

    try:
        questions = read_questions(args.file)
        labels = read_labels(args.labels) if args.labels else []
    except (EvalFileError, OSError) as exc:
        print(f"g21bot: {exc}", file=sys.stderr)
        return 2
    settings = _settings(args)
    mode = args.mode or ("llm" if settings.llm_model else "extractive")
    if mode == "llm" and not settings.llm_model:
        print("eval --mode llm needs G21_LLM_MODEL set", file=sys.stderr)
        return 2
    if mode == "extractive":
        settings = settings.model_copy(update={"llm_model": ""})
    report = asyncio.run(_evaluate(AnswerEngine(settings), questions, labels))
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return 0
    keys = [
        "hit_at_1",
        "hit_at_3",
        "mrr",
        "answer_citation_hit",
        "citation_validity",
        "abstention_accuracy",
        "false_abstention_rate",
    ]
    print(f"{report['n']} questions ({report['answerable']} answerable), mode {mode}")
    print(f"{'':8}" + "".join(f"{k:>22}" for k in keys))
    for name, block in [("all", report), *report["by_lang"].items()]:
        print(f"{name:8}" + "".join(f"{block[k]:>22}" for k in keys))
    lat = report["latency_ms"]
    print(f"latency ms: p50 {lat['p50']}, p95 {lat['p95']}")
    for lang, block in report.get("labelled", {}).items():
        print(
            f"labelled {lang}: fabricated_delivered {block['fabricated_delivered']} of "
            f"{block['fabricated']}, supported_kept {block['supported_kept']} of "
            f"{block['faithful']}"
        )
    for q in report["questions"]:
        if not q["ok"]:
            print(
                f"  miss {q['id']}: retrieved {q['retrieved'][:5]} cited {q['cited']} "
                f"abstained {q['abstained']}"
            )
    return 0


BENCH_PACKAGE = "g21bot_bench"


def bench_dir() -> Path:
    """Where the benchmark code lives: ``tests/bench`` of the checkout g21bot runs from."""
    import bot

    return Path(bot.__file__).resolve().parents[1] / "tests" / "bench"


def load_bench() -> Any:
    """The benchmark's ``run`` module, loaded from the checkout (it is not installed)."""
    import importlib
    import importlib.util

    folder = bench_dir()
    init = folder / "__init__.py"
    if not init.is_file():
        raise FileNotFoundError(
            f"`g21bot bench` needs the benchmark code in {folder}, which is part of a source "
            "checkout (tests/), not of an installed package: run it from a git clone "
            "installed with `pip install -e '.[dev]'`"
        )
    if BENCH_PACKAGE not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            BENCH_PACKAGE, init, submodule_search_locations=[str(folder)]
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[BENCH_PACKAGE] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[BENCH_PACKAGE]
            raise
    return importlib.import_module(f"{BENCH_PACKAGE}.run")


def cmd_bench(args: argparse.Namespace) -> int:
    try:
        bench = load_bench()
    except (FileNotFoundError, ImportError) as exc:
        print(f"g21bot: {exc}", file=sys.stderr)
        return 2
    try:
        return int(bench.main(args))
    except ValueError as exc:
        print(f"g21bot bench: {exc}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="g21bot",
        description="Answers questions about the G-21 statement on the follow-up to the 2013 "
        "high-level meeting on nuclear disarmament, citing paragraph numbers.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="parse the corpus and load it into the index")
    p.add_argument("--manifest", help="corpus manifest (TOML); default: the shipped statement")
    p.add_argument("--rebuild", action="store_true", help="drop the collection and build it anew")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("search", help="ranked paragraphs for a question")
    p.add_argument("question")
    p.add_argument("-k", type=int, default=5, help="how many paragraphs (default 5)")
    p.add_argument("--lang", choices=["zh", "en"], help="language of the shown text")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("ask", help="answer one question with citations")
    p.add_argument("question")
    p.add_argument("--lang", choices=["zh", "en"], help="reply language (default: the question's)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", help="a conversation in the terminal")
    p.add_argument("--lang", choices=["zh", "en"])
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("run", help="run the Telegram bot (polling, or --webhook)")
    p.add_argument("--webhook", action="store_true", help="serve a webhook instead of polling")
    p.add_argument("--chat", action="store_true", help="without a token, chat in the terminal")
    p.add_argument("--lang", choices=["zh", "en"])
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("eval", help="score answers on a JSONL question file")
    p.add_argument("file", type=Path)
    p.add_argument("--mode", choices=["extractive", "llm"], help="default: the configured mode")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--labels",
        type=Path,
        help="JSONL of sentences a test model wrote ({id, sentence, fabricated}): also report "
        "fabricated_delivered and supported_kept per language",
    )
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser(
        "bench",
        help="benchmarks against baselines measured in the same run (needs the checkout's tests/)",
        description="Answer path vs its raw parts, a plain LangChain BM25 peer, synthetic "
        "corpora of growing size (embedded Chroma and a chroma server), the Telegram bot under "
        "load and under Bot API faults (local Bot API stand-in), cold start. Medians and "
        "percentiles; nothing asserted.",
    )
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
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from bot.ops.logs import setup_logging

    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(x) for x in first["loc"])
        print(f"g21bot: invalid setting {field}: {first['msg']}", file=sys.stderr)
        return 2
    setup_logging(settings, verbose=args.verbose)
    try:
        return int(args.func(args))
    except RetrievalError as exc:
        print(f"g21bot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
