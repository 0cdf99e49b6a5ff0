"""Question kinds: a table of messages per kind and language (``data/kinds_table.txt``, with
negatives: factoids that say "what is", "which", "does"), the shared dev sets, small-talk
stripping, the lexicon's shape, packaging, and arbitrary text never breaking anything."""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.answering.kinds import (
    LANGUAGES,
    LIST_DETAILS,
    METADATA_DETAILS,
    SMALLTALK_DETAILS,
    Kind,
    classify,
    fold,
    strip_smalltalk,
)
from retrieval.text import clean_user_text

ROOT = Path(__file__).resolve().parents[1]
TABLE = Path(__file__).parent / "data" / "kinds_table.txt"
EVAL = ROOT.parent / "shared" / "eval"
KINDS = ("smalltalk", "overview", "metadata", "list", "stance", "factoid")


def _table() -> list[tuple[str, str, str]]:
    rows = []
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            lang, kind, text = (part.strip() for part in line.split("|", 2))
            rows.append((lang, kind, text))
    return rows


ROWS = _table()


def _label(kind: Kind) -> str:
    return f"{kind.name}:{kind.detail}" if kind.detail else kind.name


@pytest.mark.parametrize(("lang", "expected", "text"), ROWS, ids=[r[2][:40] for r in ROWS])
def test_table(lang: str, expected: str, text: str) -> None:
    assert _label(classify(text, lang)) == expected


def test_table_has_ten_examples_per_kind_and_language() -> None:
    counts = Counter((lang, kind.split(":")[0]) for lang, kind, _ in ROWS)
    for lang in LANGUAGES:
        for kind in KINDS:
            assert counts[lang, kind] >= 10, (lang, kind, counts[lang, kind])


def test_details_are_the_documented_ones() -> None:
    allowed = {
        "smalltalk": set(SMALLTALK_DETAILS),
        "metadata": set(METADATA_DETAILS),
        "list": set(LIST_DETAILS),
        "overview": {""},
        "stance": {""},
        "factoid": {""},
    }
    for lang, _, text in ROWS:
        kind = classify(text, lang)
        parts = set(kind.detail.split(",")) if kind.detail else {""}
        assert parts <= allowed[kind.name], (text, kind)


# --- the shared dev sets ------------------------------------------------------------------

DIALOGUE_KINDS = {
    "overview": "overview",
    "metadata": "metadata",
    "enumeration": "list",
    "stance": "stance",
    "smalltalk": "smalltalk",
}


def _dev_questions() -> list[tuple[str, str, str]]:
    """(lang, text, expected kind): single questions are factoids; dialogue turns per kind."""
    rows: list[tuple[str, str, str]] = []
    for name in ("dev.jsonl", "dev-un.jsonl"):
        for line in (EVAL / name).read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            rows.append((item["lang"], item["question"], "factoid"))
    for line in (EVAL / "dialogues.jsonl").read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        for turn in item["turns"]:
            rows.append((turn["lang"], turn["text"], DIALOGUE_KINDS.get(item["kind"], "factoid")))
    return rows


@pytest.mark.skipif(not (EVAL / "dialogues.jsonl").exists(), reason="no shared eval folder")
def test_dev_sets() -> None:
    """Every non-factoid turn gets its kind. A factoid may come out as a stance question (the
    stance reply still searches and cites, and abstains when nothing answers: "本集团对…持什么
    立场" is a stance question by design), never as small talk, overview, metadata or list."""
    confusion: Counter[tuple[str, str]] = Counter()
    for lang, text, expected in _dev_questions():
        got = classify(text, lang).name
        confusion[expected, got] += 1
        if expected == "factoid":
            assert got in ("factoid", "stance"), (text, got)
        else:
            assert got == expected, (text, got)
    assert confusion["factoid", "stance"] <= 6, confusion


# --- small talk before a question ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lang", "rest"),
    [
        (
            "hi, what does the statement say about CELAC?",
            "en",
            "what does the statement say about CELAC?",
        ),
        ("Hello there! Which resolutions are mentioned?", "en", "Which resolutions are mentioned?"),
        ("thanks! and what about the ICJ?", "en", "what about the ICJ?"),
        ("ok, does the group support a NWFZ?", "en", "does the group support a NWFZ?"),
        ("what does ¶7 say? thanks", "en", "what does ¶7 say?"),
        ("no nuclear-weapon State complied?", "en", "no nuclear-weapon State complied?"),
        ("你好，声明提到了哪些决议？", "zh", "声明提到了哪些决议？"),
        ("你好请问中东无核区在哪一段", "zh", "中东无核区在哪一段"),
        ("对核武器国家，声明说了什么？", "zh", "对核武器国家，声明说了什么？"),
        ("hola, ¿qué dice sobre la CELAC?", "es", "¿qué dice sobre la CELAC?"),
        (
            "Bonjour ! Que dit la déclaration sur la CELAC ?",
            "fr",
            "Que dit la déclaration sur la CELAC ?",
        ),
        ("Привет! Что говорится о СЕЛАК?", "ru", "Что говорится о СЕЛАК?"),
        ("مرحبا، ماذا يقول البيان عن الجماعة؟", "ar", "ماذا يقول البيان عن الجماعة؟"),
        ("hi there", "en", ""),
        ("谢谢！", "zh", ""),
        ("thanksgiving?", "en", "thanksgiving?"),
    ],
)
def test_strip_smalltalk(text: str, lang: str, rest: str) -> None:
    """What remains is a piece of the cleaned message (NFKC: full-width ？ becomes ?)."""
    assert strip_smalltalk(text, lang) == clean_user_text(rest)


def test_greeting_before_a_question_is_the_question() -> None:
    assert classify("hi, what does the statement say about CELAC?", "en") == Kind("factoid")
    assert classify("hello! what is this about?", "en") == Kind("overview")
    assert classify("你好，声明提到了哪些决议？", "zh") == Kind("list", "resolution")


def test_language_hint_may_be_wrong_or_unusual() -> None:
    """A short message detected in another language, or a regional code, still classifies."""
    assert classify("resumen", "en") == Kind("overview")
    assert classify("Quelles résolutions sont mentionnées ?", "es") == Kind("list", "resolution")
    assert classify("本集團支持在中東建立無核武器區嗎？", "zh-hant") == Kind("stance")
    assert classify("bonjour", "xx") == Kind("smalltalk", "greeting")


def test_folding() -> None:
    assert fold("Résumé") == "resume"
    assert fold("Поддерживает ЛИ") == "поддерживает ли"
    assert fold("هل تؤيّد") == "هل تويد"
    assert fold("這份聲明講了什麼") == "这份声明讲了什么"
    assert fold("What’s") == "what's"


# --- the lexicon --------------------------------------------------------------------------


def test_lexicon_has_every_section_for_every_language() -> None:
    raw = tomllib.loads((ROOT / "bot" / "answering" / "lexicon.toml").read_text("utf-8"))
    for lang in LANGUAGES:
        table = raw[lang]
        for section in ("smalltalk", "metadata", "list", "overview", "stance"):
            assert section in table, (lang, section)
        for detail in SMALLTALK_DETAILS:
            assert table["smalltalk"].get(detail), (lang, detail)
        for detail in METADATA_DETAILS:
            assert table["metadata"].get(detail), (lang, detail)
        for kind in LIST_DETAILS:
            assert table["list"]["plural"].get(kind), (lang, kind)
        for section in ("smalltalk", "metadata", "overview", "stance"):
            for value in table[section].values():
                for pattern in value if isinstance(value, list) else [value]:
                    re.compile(pattern)


def test_lexicon_ships_in_the_wheel() -> None:
    """Every data file under bot/ is matched by a package-data glob in pyproject.toml."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    globs = config["tool"]["setuptools"]["package-data"]["bot"]
    for path in (ROOT / "bot").rglob("*"):
        if path.is_file() and path.suffix in (".toml", ".txt", ".json"):
            relative = path.relative_to(ROOT / "bot").as_posix()
            assert any(fnmatch.fnmatch(relative, g) for g in globs), relative


# --- arbitrary text -----------------------------------------------------------------------

FUZZ = settings(
    max_examples=400,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
PIECES = st.sampled_from(
    [
        "hi",
        "thanks",
        "ok",
        "你好",
        "谢谢",
        "what",
        "which",
        "resolutions",
        "mention",
        "¶7",
        "summarize",
        "does the group support",
        "？",
        "!",
        " ",
        "\u200b",
        "😀",
        "ـ",
        "ّ",
        "İ",
        "ß",
        "هل",
        "ли",
        "吗",
        "第",
        "段",
        "'",
        "\\",
        "(",
        "[",
        "*",
        "+",
        "?",
    ]
)
MESSAGES = st.one_of(
    st.text(max_size=300),
    st.lists(PIECES, max_size=30).map("".join),
    st.lists(st.one_of(PIECES, st.text(max_size=5)), max_size=20).map(" ".join),
)


@FUZZ
@given(text=MESSAGES, lang=st.sampled_from([*LANGUAGES, "", "zh-hant", "xx"]))
def test_arbitrary_text_never_breaks(text: str, lang: str) -> None:
    kind = classify(text, lang)
    assert kind.name in KINDS
    rest = strip_smalltalk(text, lang)
    assert rest in clean_user_text(text)
