"""Citation checks: quotes are located in the paragraph they cite (exactly, after folding
white space and punctuation, or with small typos) and replaced by the paragraph's own words;
everything else is dropped."""

from __future__ import annotations

import pytest

from bot.answering.answer import Citation
from bot.answering.verify import clean_markers, locate_quote, markers, verify_citations
from bot.entry.evaluate import quote_is_valid
from retrieval.corpus import Document, load_corpus

ALL = list(range(1, 16))
P8_EN = "Nuclear disarmament is the highest priority of the Conference on Disarmament"
P8_ZH = "核裁军是裁军谈判会议最为优先的任务"


@pytest.fixture(scope="module")
def document() -> Document:
    return load_corpus().primary


def only(document: Document, citation: Citation, context: list[int] = ALL) -> Citation | None:
    kept = verify_citations([citation], document, context)
    assert len(kept) <= 1
    return kept[0] if kept else None


# --- accepted -------------------------------------------------------------------------------


@pytest.mark.parametrize("quote", [P8_EN, P8_ZH])
def test_exact_quote_is_kept_unchanged(document: Document, quote: str) -> None:
    assert only(document, Citation(8, quote)) == Citation(8, quote)


@pytest.mark.parametrize(
    ("quote", "expected"),
    [
        ("nuclear  disarmament is the HIGHEST priority of the conference on disarmament!!", P8_EN),
        ("Nuclear disarmament, is the highest-priority of the Conference on Disarmament.", P8_EN),
        ("“Nuclear disarmament is the highest priority of the Conference on Disarmament”", P8_EN),
        (
            "Ｎｕｃｌｅａｒ ｄｉｓａｒｍａｍｅｎｔ ｉｓ ｔｈｅ ｈｉｇｈｅｓｔ ｐｒｉｏｒｉｔｙ",
            P8_EN[:43],
        ),
        ("核 裁 军，是裁军谈判会议最为优先的任务。", P8_ZH),
        ("核裁军是\n裁军谈判会议\n最为优先的任务", P8_ZH),
    ],
)
def test_normalised_quote_is_replaced_by_the_paragraphs_words(
    document: Document, quote: str, expected: str
) -> None:
    kept = only(document, Citation(8, quote))

    assert kept == Citation(8, expected)


@pytest.mark.parametrize(
    ("quote", "expected"),
    [
        ("Nuclear disarmement is the higest priority of the Conference on Disarmament", P8_EN),
        ("Nuclear disarmament is the highest priorty of the Conferense on Disarmament", P8_EN),
        (
            "the total elimination of nuclear weapon is the only absolute guarantee",
            "the total elimination of nuclear weapons is the only absolute guarantee",
        ),
        ("核裁军是裁军谈判会议最优先的任务", P8_ZH),
        ("核裁军是裁军谈判会议最为优先的任物", P8_ZH),
    ],
)
def test_quote_with_small_typos_is_replaced_by_the_paragraphs_words(
    document: Document, quote: str, expected: str
) -> None:
    kept = only(document, Citation(8, quote))

    assert kept == Citation(8, expected)
    assert quote_is_valid(document, 8, kept.quote)


def test_quote_in_the_other_language_version_is_kept(document: Document) -> None:
    assert only(document, Citation(14, "于 2017 年 7 月 7 日通过了")) is not None
    assert only(document, Citation(14, "was adopted on 7 July 2017")) is not None


# --- rejected -------------------------------------------------------------------------------


def test_quote_from_another_paragraph_is_dropped(document: Document) -> None:
    assert only(document, Citation(9, P8_EN)) is None
    assert only(document, Citation(7, P8_ZH)) is None


@pytest.mark.parametrize("paragraph", [0, 16, 99, -1])
def test_nonexistent_paragraph_is_dropped(document: Document, paragraph: int) -> None:
    assert only(document, Citation(paragraph, P8_EN)) is None


def test_paragraph_outside_the_context_is_dropped(document: Document) -> None:
    assert only(document, Citation(8, P8_EN), context=[9, 10, 11]) is None
    assert only(document, Citation(8, P8_EN), context=[]) is None
    assert only(document, Citation(8, P8_EN), context=[8]) == Citation(8, P8_EN)


@pytest.mark.parametrize(
    "quote",
    [
        "The Group demands the immediate dissolution of every army in the world",
        "Nuclear weapons are good for the security of the Conference on Disarmament",
        "本集团要求立即解散世界上所有军队",
        "a",
        "",
        "。。。",
    ],
)
def test_invented_or_empty_quote_is_dropped(document: Document, quote: str) -> None:
    assert only(document, Citation(8, quote)) is None


@pytest.mark.parametrize(
    ("paragraph", "quote"),
    [
        (8, "Nuclear disarmament is the lowest priority of the Conference on Disarmament"),
        (8, "Nuclear disarmament is not the highest priority of the Conference on Disarmament"),
        (8, "核裁军不是裁军谈判会议最为优先的任务"),
        (7, "以具有法律约束力的方式彻底和可逆转地消除核武器"),
    ],
)
def test_quote_that_changes_the_meaning_is_dropped(
    document: Document, paragraph: int, quote: str
) -> None:
    assert only(document, Citation(paragraph, quote)) is None


def test_verify_keeps_good_citations_in_order_without_duplicates(document: Document) -> None:
    citations = [
        Citation(99, "made up"),
        Citation(8, P8_EN),
        Citation(12, "the International Court of Justice, in its 1996 advisory opinion"),
        Citation(8, "nuclear disarmament is the highest priority of the conference on disarmament"),
        Citation(10, "an invented sentence about something else entirely"),
    ]

    kept = verify_citations(citations, document, ALL)

    assert kept == [
        Citation(8, P8_EN),
        Citation(12, "the International Court of Justice, in its 1996 advisory opinion"),
    ]
    assert all(quote_is_valid(document, c.paragraph, c.quote) for c in kept)


def test_locate_quote_returns_a_substring_of_the_paragraph(document: Document) -> None:
    paragraph = document.text(13, "en")
    found = locate_quote("to commence negotiations urgently on nuclear disarmament", paragraph)

    assert found == "to commence negotiations urgently on nuclear disarmament"
    assert locate_quote("whatever", "") is None


# --- markers ----------------------------------------------------------------------------------


def test_markers_are_read_with_loose_spacing() -> None:
    assert markers("A [¶8], B [ ¶ 12 ] and C [¶8].") == [8, 12, 8]
    assert markers("no markers, ¶8 alone") == []


def test_clean_markers_drops_unbacked_markers() -> None:
    text = "Disarmament comes first [¶8] and zones matter [¶99]. Also this [ ¶ 3 ] one [¶8]。"

    cleaned = clean_markers(text, {8})

    assert cleaned == "Disarmament comes first [¶8] and zones matter. Also this one [¶8]。"
    assert markers(cleaned) == [8, 8]


def test_clean_markers_with_nothing_backed() -> None:
    assert clean_markers("Only an invented claim [¶99] .", set()) == "Only an invented claim."
    assert clean_markers("中文回答 [¶42]。", set()) == "中文回答。"
