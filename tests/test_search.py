"""Hybrid search over the real statement, in Chinese and English."""

from __future__ import annotations

import pytest

from retrieval.errors import StoreUnavailableError
from retrieval.search import Retriever, expand_aliases

# Written for these tests (not taken from an evaluation set): question → the paragraph that
# answers it, which must come first.
QUESTIONS = [
    ("Which city in Cuba hosted the summit that made Latin America a zone of peace?", 6),
    (
        "Did the World Court say states must conclude negotiations under strict international "
        "control?",
        12,
    ),
    ("What unacceptable pretexts have the nuclear-weapon States put forward?", 11),
    ("Should nuclear disarmament be pursued in a non-discriminatory way?", 8),
    (
        "How do educational activities and public awareness-raising help mobilize international "
        "efforts?",
        5,
    ),
    (
        "Whose views should the Secretary-General seek on the elements of a comprehensive "
        "convention?",
        3,
    ),
    (
        "Between which dates in 2017 was the conference negotiating a legally binding instrument "
        "held?",
        14,
    ),
    ("Which NPT article commits parties to end the nuclear arms race early?", 9),
    (
        "Which countries renounced nuclear weapons programmes or withdrew weapons from their "
        "territories?",
        10,
    ),
    ("What is the Conference on Disarmament's main priority?", 8),
    ("Is it time to translate words into action?", 13),
    ("哈瓦那首脑会议把哪个地区宣布为和平区？", 6),
    ("国际法院一致认为各国必须在什么监督下完成谈判？", 12),
    ("核武器国家拒绝履行什么条约义务？", 11),
    ("核裁军应当以什么方式争取实现？", 8),
    ("哪些人通过教育活动提高公众对核武器威胁的认识？", 5),
    ("秘书长应向哪些机构提出报告？", 3),
    ("审查核裁军进展的国际会议定于何时召开？", 4),
    ("具有法律约束力的禁止核武器文书谈判会议是根据哪项决议召开的？", 14),
    ("本会议各成员国被吁请支持什么？", 15),
    ("哪一条约的缔约国承担了就停止核军备竞赛进行真诚谈判的义务？", 9),
    ("自愿放弃核武器方案的国家作出了什么贡献？", 10),
    ("核爆炸的人道主义后果如何才能避免？", 7),
]

OUT_OF_SCOPE = [
    "What does the statement say about climate change and rising sea levels?",
    "Does the Group call for destroying chemical weapons?",
    "Who is the best football player in the Premier League?",
    "What does the statement say about the Outer Space Treaty?",
    "声明如何看待全球气候变暖？",
    "本集团对化学武器有什么立场？",
    "谁赢得了足球世界杯？",
    "《外层空间条约》说了什么？",
]


@pytest.mark.parametrize(("question", "paragraph"), QUESTIONS)
def test_top_paragraph(retriever: Retriever, question: str, paragraph: int) -> None:
    result = retriever.search(question)
    assert result.paragraphs[0] == paragraph, result.paragraphs
    assert result.covered, (result.coverage, result.unknown_terms)
    assert result.request is None


@pytest.mark.parametrize(("question", "paragraph"), QUESTIONS[::3])
def test_lexical_only_still_ranks(
    retriever: Retriever, monkeypatch: pytest.MonkeyPatch, question: str, paragraph: int
) -> None:
    def unavailable(vector: list[float], k: int, doc_id: str | None = None) -> None:
        raise StoreUnavailableError("down for the test")

    monkeypatch.setattr(retriever.store, "nearest", unavailable)
    result = retriever.search(question, dense=False)
    assert paragraph in result.paragraphs[:2], result.paragraphs
    assert all(hit.dense == 0.0 for hit in result.hits)
    with pytest.raises(StoreUnavailableError):
        retriever.search(question)


@pytest.mark.parametrize("question", [QUESTIONS[0][0], QUESTIONS[-1][0], "nuclear weapons 核武器"])
def test_hits_are_one_per_paragraph_best_first(retriever: Retriever, question: str) -> None:
    hits = retriever.rank(question, k=20)
    numbers = [h.paragraph for h in hits]
    assert len(numbers) == len(set(numbers))
    assert set(numbers) <= set(range(1, 16))
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert 0 < scores[0] <= 1.0
    assert all(hit.chunk.paragraph == hit.paragraph for hit in hits)


def test_k_limits_the_hits(retriever: Retriever) -> None:
    assert len(retriever.search("nuclear disarmament", k=3).hits) == 3
    assert len(retriever.rank("nuclear disarmament", k=15)) <= 15


def test_both_languages_are_searched(retriever: Retriever) -> None:
    # A Chinese question matches Chinese chunks, an English one English chunks.
    assert retriever.search("国际法院的咨询意见").hits[0].chunk.lang == "zh"
    assert retriever.search("advisory opinion of the court").hits[0].chunk.lang == "en"


@pytest.mark.parametrize("question", OUT_OF_SCOPE)
def test_gate_abstains_out_of_scope(retriever: Retriever, question: str) -> None:
    result = retriever.search(question)
    assert not result.covered, (result.coverage, result.paragraphs)
    assert result.unknown_terms


def test_gate_names_the_unknown_treaty(retriever: Retriever) -> None:
    result = retriever.search("What does the statement say about the Outer Space Treaty?")
    assert "Outer Space Treaty" in result.unknown_terms


@pytest.mark.parametrize(
    "question",
    [
        "What's the Group's view of the ICJ opinion?",
        "What is the Conference on Disarmament's highest priority?",
        "Tell me the International Court of Justice's conclusion",
    ],
)
def test_possessives_and_contractions_do_not_trip_the_gate(
    retriever: Retriever, question: str
) -> None:
    result = retriever.search(question)
    assert result.covered, (result.coverage, result.unknown_terms)


@pytest.mark.parametrize(
    ("question", "numbers"),
    [
        ("第7段", [7]),
        ("show me paragraph 9", [9]),
        ("第三到第五段", [3, 4, 5]),
        ("Paras 2 and 13", [2, 13]),
    ],
)
def test_paragraph_reference_bypasses_ranking(
    retriever: Retriever, monkeypatch: pytest.MonkeyPatch, question: str, numbers: list[int]
) -> None:
    def no_ranking(*args: object, **kwargs: object) -> None:
        raise AssertionError("a paragraph reference must not be ranked")

    monkeypatch.setattr(retriever, "rank", no_ranking)
    result = retriever.search(question)
    assert result.paragraphs == numbers
    assert result.covered
    assert result.request is not None and result.request.missing == ()
    assert all(h.chunk.paragraph == n for h, n in zip(result.hits, numbers, strict=True))


def test_reference_to_a_missing_paragraph(retriever: Retriever) -> None:
    result = retriever.search("第20段说了什么？")
    assert result.request is not None
    assert result.request.missing == (20,)
    assert result.hits == []
    assert not result.covered


def test_empty_question(retriever: Retriever) -> None:
    result = retriever.search("   \u200b ")
    assert result.hits == []
    assert not result.covered


def test_aliases_add_the_statements_wording() -> None:
    expanded = expand_aliases("What does the NPT say?")
    assert "Treaty on the Non-Proliferation of Nuclear Weapons" in expanded
    assert expand_aliases("联大通过了什么", inline=True) == "大会通过了什么"
    assert expand_aliases("a CDROM") == "a CDROM"  # whole words only
