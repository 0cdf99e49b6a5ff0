"""The `g21bot` command: ingest, search, ask, chat, run, eval, bench."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
import traceback
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


async def _evaluate_dialogues(settings: Any, dialogues: Any) -> dict[str, Any]:
    from bot.answering.engine import AnswerEngine
    from bot.entry.evaluate import evaluate_dialogues

    engine = AnswerEngine(settings)
    try:
        return await evaluate_dialogues(engine, settings, dialogues)
    finally:
        await engine.aclose()


def _report_dialogues(report: dict[str, Any], as_json: bool) -> int:
    if as_json:
        print(json.dumps(report, ensure_ascii=False))
        return 0
    print(f"{report['n_dialogues']} conversations, {report['n_turns']} turns")
    for key in ("turn_success", "dialogue_success", "citation_precision", "reply_language"):
        print(f"{key:>20}: {report[key]}")
    for kind, value in report["by_kind"].items():
        print(f"{kind:>20}: {value}")
    for turn in report["turns"]:
        if not turn["ok"]:
            reply = turn["reply"].replace("\n", " ")[:100]
            print(f"  miss {turn['dialogue']} {turn['text']!r}: cited {turn['cited']} → {reply}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from bot.answering.engine import AnswerEngine
    from bot.entry.evaluate import (
        EvalFileError,
        is_dialogue_file,
        read_dialogues,
        read_labels,
        read_questions,
    )

    try:
        dialogues = read_dialogues(args.file) if is_dialogue_file(args.file) else None
        questions = [] if dialogues is not None else read_questions(args.file)
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
    if dialogues is not None:
        return _report_dialogues(asyncio.run(_evaluate_dialogues(settings, dialogues)), args.json)
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


BENCH_POINTER = (
    "the benchmark is part of a source checkout, not of g21bot: from the checkout's root run "
    "`python3 dev.py bench [--quick] [--json] [--plot PATH]` (or `make bench`)"
)


def cmd_bench(args: argparse.Namespace) -> int:
    print(f"g21bot: {BENCH_POINTER}", file=sys.stderr)
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
        help="moved: run `python3 dev.py bench` from a source checkout",
        description=BENCH_POINTER,
        prefix_chars="+",  # any argument, options included, only gets the pointer
    )
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_bench)
    return parser


def rejected_token(error: BaseException) -> str:
    """The one line for a token Telegram refused (PTB's own message quotes the token)."""
    cause: BaseException | None = error
    while cause is not None and cause.__cause__ is not None:
        cause = cause.__cause__
    code = {"Unauthorized": "401", "Not Found": "404"}.get(str(cause), "401/404")
    line = f"Telegram rejected the token (HTTP {code}): check TELEGRAM_BOT_TOKEN"
    if code != "401":
        line += " (and that TELEGRAM_BASE_URL ends in /bot)"
    return line


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from bot.ops.logs import install_excepthooks, setup_logging

    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(x) for x in first["loc"])
        print(f"g21bot: invalid setting {field}: {first['msg']}", file=sys.stderr)
        return 2
    redactor = setup_logging(settings, verbose=args.verbose)
    install_excepthooks(redactor)
    try:
        return int(args.func(args))
    except RetrievalError as exc:
        print(redactor.scrub(f"g21bot: {exc}"), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from telegram.error import InvalidToken

        if isinstance(exc, InvalidToken):
            print(f"g21bot: {rejected_token(exc)}", file=sys.stderr)
            return 1
        # Anything else: the traceback for the operator, with every secret taken out.
        sys.stderr.write(redactor.scrub("".join(traceback.format_exception(exc))))
        print(redactor.scrub(f"g21bot: {type(exc).__name__}: {exc}"), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
