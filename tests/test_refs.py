"""Paragraph references in questions: what counts as one, and what does not."""

from __future__ import annotations

import pytest

from retrieval.refs import ParagraphRequest, find_references, paragraph_request, zh_number

STATEMENT = list(range(1, 16))


@pytest.mark.parametrize(
    ("question", "numbers"),
    [
        ("第7段", [7]),
        ("第 7 段", [7]),
        ("第七段", [7]),
        ("第十二段", [12]),
        ("第７段说了什么", [7]),
        ("第二十一段", [21]),
        ("paragraph 7", [7]),
        ("Paragraph 7", [7]),
        ("para. 7", [7]),
        ("¶7", [7]),
        ("¶ 7", [7]),
        ("§7", [7]),
        ("show me paragraph 9", [9]),
        ("What does para 11 say about it?", [11]),
        ("第3段和第4段", [3, 4]),
        ("第3、4段", [3, 4]),
        ("paragraphs 3-5", [3, 4, 5]),
        ("paragraphs 3 to 5", [3, 4, 5]),
        ("第3至5段", [3, 4, 5]),
        ("第三到第五段", [3, 4, 5]),
        ("Paras 2 and 13", [2, 13]),
        ("¶2, ¶13 and ¶2 again", [2, 13]),
        ("第2段与第十三段有何不同？", [2, 13]),
    ],
)
def test_references_found(question: str, numbers: list[int]) -> None:
    assert find_references(question) == numbers


@pytest.mark.parametrize(
    "question",
    [
        "第六条",
        "《不扩散核武器条约》第六条规定了什么？",
        "第 67/39 号决议",
        "第二次首脑会议",
        "21国集团",
        "21 国集团的立场",
        "resolution 72/251",
        "in 1996",
        "What did the ICJ say in 1996?",
        "article VI of the NPT",
        "the 33 member States of CELAC",
        "第一",
    ],
)
def test_not_references(question: str) -> None:
    assert find_references(question) == []


@pytest.mark.parametrize(
    ("question", "numbers", "missing"),
    [
        ("第20段", (), (20,)),
        ("第7段", (7,), ()),
        ("paragraphs 14-16", (14, 15), (16,)),
        ("第0段和第3段", (3,), (0,)),
        ("¶42", (), (42,)),
    ],
)
def test_request_splits_existing_and_missing(
    question: str, numbers: tuple[int, ...], missing: tuple[int, ...]
) -> None:
    request = paragraph_request(question, STATEMENT)
    assert request == ParagraphRequest(numbers, missing)
    assert request.all == tuple(sorted({*numbers, *missing}))


def test_no_reference_gives_no_request() -> None:
    question = "What is the priority of the Conference on Disarmament?"
    assert paragraph_request(question, STATEMENT) is None


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("7", 7),
        ("７", 7),
        ("七", 7),
        ("十", 10),
        ("十二", 12),
        ("二十", 20),
        ("二十一", 21),
        ("一百", 100),
        ("两", 2),
        ("段", None),
    ],
)
def test_zh_number(text: str, value: int | None) -> None:
    assert zh_number(text) == value


def test_a_long_range_is_not_expanded() -> None:
    # A range of more than 50 paragraphs is a typo or a trap: the two ends only.
    assert find_references("paragraphs 1-500") == [1, 500]
