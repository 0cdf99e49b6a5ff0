"""What people ask first, on the real statement: small talk, the outline, facts about the
document, complete lists, stances, and follow-ups read against the chat's earlier turns."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.answering.answer import Answer, Turn
from bot.answering.engine import AnswerEngine
from bot.answering.followup import resolve
from bot.answering.question import Question
from bot.entry.evaluate import cited_paragraphs, is_refusal
from retrieval.corpus import Document
from tests.answer_support import assert_grounded, ingested_data_dir, settings_for


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> AnswerEngine:
    data_dir: Path = ingested_data_dir(tmp_path_factory)
    return AnswerEngine(settings_for(data_dir))


@pytest.fixture(scope="module")
def document(engine: AnswerEngine) -> Document:
    return engine.document


def converse(engine: AnswerEngine, *questions: str) -> list[Answer]:
    """Ask ``questions`` one after another in one conversation, as the bot remembers it."""
    history: list[Turn] = []
    answers = []
    for text in questions:
        answer = engine.answer(text, history)
        answers.append(answer)
        history.append(Turn.of(text, answer))
    return answers


# --- small talk --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("hello", "en"),
        ("hi there", "en"),
        ("thanks!", "en"),
        ("what can you do?", "en"),
        ("你好", "zh"),
        ("谢谢！", "zh"),
    ],
)
def test_small_talk_gets_a_friendly_reply_without_citations(
    engine: AnswerEngine, text: str, lang: str
) -> None:
    answer = engine.answer(text)
    assert answer.kind == "smalltalk" and answer.lang == lang
    assert not answer.citations and not answer.abstained
    assert not is_refusal(answer.text) and "[¶" not in answer.text


# --- overview, metadata, lists -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("What is this statement about?", "en"),
        ("What's the gist of this document?", "en"),
        ("这份声明讲了什么？", "zh"),
        ("概括一下这份声明的要点", "zh"),
    ],
)
def test_overview_outlines_the_statement_with_citations(
    engine: AnswerEngine, document: Document, text: str, lang: str
) -> None:
    answer = engine.answer(text)
    assert answer.kind == "overview" and answer.lang == lang
    cited = cited_paragraphs(answer.text)
    assert len(cited) >= 3 and set(cited) <= set(document.numbers)
    assert set(answer.cited) == set(cited)
    assert_grounded(answer, document)


def test_who_submitted_it_and_to_whom(engine: AnswerEngine, document: Document) -> None:
    answer = engine.answer("Which group wrote this, and to which body is it addressed?")
    assert "Group of 21" in answer.text and "Conference on Disarmament" in answer.text
    # Cited where the Group itself speaks of the Conference (not where resolutions do).
    assert answer.cited == [8, 13, 15]
    assert_grounded(answer, document)
    zh = engine.answer("这份声明是谁提交的？提交给哪个机构？")
    assert "21 国集团" in zh.text and "裁军谈判会议" in zh.text and zh.cited == [8, 13, 15]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("How many paragraphs does it have?", "15 paragraphs"), ("声明共有几段？", "15 段")],
)
def test_paragraph_count(engine: AnswerEngine, text: str, expected: str) -> None:
    answer = engine.answer(text)
    assert expected in answer.text and not answer.abstained


@pytest.mark.parametrize(
    ("text", "symbols"),
    [
        (
            "Which General Assembly resolutions are mentioned?",
            {"67/39", "68/32", "73/40", "71/258"},
        ),
        ("声明提到了哪些联合国大会决议？", {"67/39", "68/32", "73/40", "71/258"}),
    ],
)
def test_list_of_resolutions_is_complete(
    engine: AnswerEngine, document: Document, text: str, symbols: set[str]
) -> None:
    answer = engine.answer(text)
    assert answer.kind == "list"
    for symbol in symbols:
        assert symbol in answer.text
    # One bullet per resolution, each with its paragraphs: 68/32 stands in ¶2 and ¶13.
    bullet = next(line for line in answer.text.splitlines() if "68/32" in line)
    assert cited_paragraphs(bullet) == [2, 13]
    assert {1, 2, 13, 14} <= set(answer.cited)
    assert_grounded(answer, document)


def test_list_of_dates(engine: AnswerEngine, document: Document) -> None:
    answer = engine.answer("What dates does the statement mention?")
    for date in ("26 September 2013", "January 2014", "7 July 2017"):
        assert date in answer.text
    assert_grounded(answer, document)


# --- stance ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lead", "paragraph"),
    [
        (
            "Does the G-21 support a nuclear-weapon-free zone in the Middle East?",
            "strongly supports",
            10,
        ),
        ("Is the G-21 happy with how the nuclear-weapon States behave?", "deeply concerned", 11),
        ("21国集团支持在中东建立无核武器区吗？", "支持", 10),
    ],
)
def test_stance_leads_with_what_the_text_does(
    engine: AnswerEngine, document: Document, text: str, lead: str, paragraph: int
) -> None:
    answer = engine.answer(text)
    first_line = answer.text.splitlines()[0]
    assert lead in first_line
    assert answer.cited[0] == paragraph
    assert_grounded(answer, document)


# --- follow-ups --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "paragraph", "needle"),
    [
        (
            "What does the statement say about CELAC?",
            "when did its summit take place?",
            6,
            "January 2014",
        ),
        (
            "What does the statement say about the ICJ advisory opinion?",
            "in which year?",
            12,
            "1996",
        ),
        ("国际法院的咨询意见是哪一年发表的？", "它的结论是什么？", 12, "真诚"),
        ("高级别国际会议在哪里召开？", "什么时候开？", 4, "待定日期"),
    ],
)
def test_follow_up_leans_on_the_last_topic(
    engine: AnswerEngine, first: str, second: str, paragraph: int, needle: str
) -> None:
    _, answer = converse(engine, first, second)
    assert not answer.abstained
    assert answer.cited[0] == paragraph
    assert needle in answer.text


def test_follow_up_that_names_a_new_topic_moves_to_it(engine: AnswerEngine) -> None:
    first, second = converse(
        engine,
        "What does the Group say about the Middle East?",
        "and about the nuclear-weapon States?",
    )
    assert first.cited[0] == 10
    assert second.cited[0] == 11


def test_follow_up_without_an_earlier_turn_is_a_new_question(engine: AnswerEngine) -> None:
    assert engine.answer("in which year?").abstained


@pytest.mark.parametrize(
    ("follow_up", "check"),
    [
        ("which paragraph was that?", lambda a: a.cited == [12] and "[¶12]" in a.text),
        ("tell me more", lambda a: a.shown == [12]),
        ("in Chinese please", lambda a: a.lang == "zh" and 12 in a.cited),
    ],
)
def test_follow_ups_about_the_last_answer(
    engine: AnswerEngine, follow_up: str, check: object
) -> None:
    _, answer = converse(engine, "What did the International Court of Justice conclude?", follow_up)
    assert callable(check) and check(answer), answer.text


def test_why_after_a_paragraph(engine: AnswerEngine) -> None:
    history = [Turn("/para 7", engine.paragraph_view(7, "en"), (7,), "en")]
    answer = engine.answer("why?", history)
    assert not answer.abstained and 7 in answer.cited


@pytest.mark.parametrize(
    ("text", "intent", "standalone"),
    [
        ("what about the Middle East?", "shift", "the Middle East"),
        ("And how about nuclear-weapon States?", "shift", "nuclear-weapon States"),
        ("and about the nuclear-weapon states?", "shift", "the nuclear-weapon states"),
        ("那中东呢？", "shift", "中东"),
        ("What about it?", "lean", "What about it? CELAC summit"),
        ("in which year?", "lean", "in which year? CELAC summit"),
        ("which paragraph was that?", "which_paragraph", "CELAC summit"),
        ("What is the highest priority of the Conference on Disarmament?", "new", None),
    ],
)
def test_resolve_reads_a_question_in_its_conversation(
    text: str, intent: str, standalone: str | None
) -> None:
    history = (Turn("CELAC summit", "…", (6,), "en", topic="CELAC summit"),)
    q = Question.build(text, history)
    resolved = resolve(q, covered=lambda t: len(t.split()) > 3)
    assert resolved.intent == intent
    assert resolved.standalone == (standalone or text)


# --- precision ---------------------------------------------------------------------------


def test_quotes_only_sentences_that_answer(engine: AnswerEngine) -> None:
    answer = engine.answer("What did the ICJ say?")
    assert answer.cited == [12]


def test_sentences_are_not_cut_at_abbreviations(engine: AnswerEngine) -> None:
    answer = engine.answer("What do they request of the President?")
    assert "Mr. President" in answer.text
    assert not re.search(r"“President", answer.text)


# --- conversation scoring ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("… [¶3] and [¶7]", [3, 7]),
        ("• 68/32 [¶2, ¶13]", [2, 13]),
        ("• the resolutions [¶1-4]", [1, 2, 3, 4]),
        ("(¶1-15) and ¶7 alone are no citations", []),
    ],
)
def test_citations_are_read_from_the_reply_text(reply: str, expected: list[int]) -> None:
    assert cited_paragraphs(reply) == expected


# --- languages -------------------------------------------------------------------------------


def test_traditional_chinese_is_answered_in_traditional_characters(
    engine: AnswerEngine, document: Document
) -> None:
    answer = engine.answer("本集團支持在中東建立無核武器區嗎？")
    assert answer.lang == "zh" and answer.cited == [10]
    assert "中東" in answer.text and "中东" not in answer.text
    assert "繁體" in answer.text  # marked as a conversion
    assert_grounded_quotes(answer, document)


def assert_grounded_quotes(answer: Answer, document: Document) -> None:
    """The citations keep the statement's own (simplified) words."""
    for citation in answer.citations:
        assert citation.quote in document.text(citation.paragraph, "zh")


@pytest.mark.parametrize(
    "text", ["Was sagt die Erklärung über den Nahen Osten?", "この声明は何について述べていますか？"]
)
def test_an_unserved_language_gets_the_served_ones_named_in_english(
    engine: AnswerEngine, text: str
) -> None:
    answer = engine.answer(text)
    assert answer.lang == "en" and not answer.citations
    assert "Arabic, Chinese, English, French, Russian and Spanish" in answer.text
    assert not is_refusal(answer.text)


@pytest.mark.parametrize(
    ("text", "lang", "paragraph"),
    [
        ("¿Qué dice el G-21 sobre las zonas libres de armas nucleares?", "es", 10),
        ("Qu'est-ce que le Groupe demande au Président ?", "fr", 15),
        ("Что заключил Международный Суд в 1996 году?", "ru", 12),
        ("ماذا يقول البيان عن الشرق الأوسط؟", "ar", 10),
    ],
)
def test_un_languages_are_answered_in_their_own_version(
    engine: AnswerEngine, document: Document, text: str, lang: str, paragraph: int
) -> None:
    answer = engine.answer(text)
    assert answer.lang == lang and paragraph in answer.cited
    assert_grounded(answer, document)
