"""The entity index and the stance lexicon on the shipped statement in all its versions:
complete against hand-made tables for Chinese and English, every entity's text literally in
its paragraph, the versions agreeing paragraph by paragraph, and arbitrary text harmless."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retrieval.corpus import Document, load_corpus
from retrieval.entities import KINDS, EntityIndex
from retrieval.parse import Statement
from retrieval.stance import STANCES, stance_of, stances_of


@pytest.fixture(scope="module")
def document() -> Document:
    return load_corpus(primary_only=True).primary


@pytest.fixture(scope="module")
def index(document: Document) -> EntityIndex:
    return EntityIndex(document)


LANGS = ("zh", "en", "fr", "es", "ru", "ar")
FOLLOW_UP = ["68/32", "69/58", "70/34", "71/71", "72/251", "73/40"]

# key → paragraphs, for every kind; the same in every version except where noted.
EXPECTED: dict[str, dict[str, list[int]]] = {
    "resolution": {
        "67/39": [1],
        **{symbol: [2, 13] for symbol in FOLLOW_UP},
        "71/258": [14],
    },
    "date": {
        "2013-09-26": [1],
        "2013": [2],
        "--09-26": [5],
        "2014-01-28/2014-01-29": [6],
        "1996": [12],
        "2017-03-27/2017-03-31": [14],
        "2017-06-15/2017-07-07": [14],
        "2017-07-07": [14],
    },
    "body": {
        "general-assembly": [1, 2, 3, 4, 13, 14, 15],
        "conference-on-disarmament": [2, 3, 8, 13, 15],
        "secretary-general": [3],
        "member-states": [3, 5, 6, 15],
        "united-nations": [4, 14],
        "united-nations-system": [5],
        "civil-society": [5],
        "non-governmental-organizations": [5],
        "celac": [6],
        "g-21": [9, 13],
        "international-court-of-justice": [12],
        "president-of-the-conference": [15],
    },
    "treaty": {
        "comprehensive-convention-on-nuclear-weapons": [2, 3, 13],
        "npt": [9],
        "legally-binding-instrument": [14],
        "tpnw": [14],
    },
    "place": {
        "new-york": [4, 14],
        "havana": [6],
        "cuba": [6],
        "latin-america-and-the-caribbean": [6],
        "middle-east": [10],
    },
    "number": {"33-member-states": [6], "article-vi": [9]},
}
# The Chinese original says 会议 in ¶14 where the renderings say "a United Nations conference".
EXCEPTIONS = {("zh", "united-nations"): [4]}

TEXTS = {
    "en": {
        "resolution": ["67/39", *FOLLOW_UP, *FOLLOW_UP, "71/258"],
        "date": [
            "26 September 2013",
            "2013",
            "26 September",
            "28-29 January 2014",
            "1996",
            "27 to 31 March",
            "15 June to 7 July 2017",
            "7 July 2017",
        ],
        "treaty": [
            "comprehensive convention on nuclear weapons",
            "comprehensive convention on nuclear weapons",
            "Treaty on the Non-Proliferation of Nuclear Weapons",
            "comprehensive convention on nuclear weapons",
            "legally binding instrument",
            "Treaty on the Prohibition of Nuclear Weapons",
        ],
        "number": ["33 member States", "article VI"],
    },
    "zh": {
        "resolution": [
            "第 67/39 号",
            *(f"第 {s} 号" for s in FOLLOW_UP[:-1]),
            "第 73/40",
            *(f"第 {s} 号" for s in FOLLOW_UP),
            "第 71/258 号",
        ],
        "date": [
            "2013 年 9 月 26 日",
            "2013 年",
            "9 月 26 日",
            "2014 年 1 月 28 日至 29 日",
            "1996 年",
            "2017 年 3 月 27 日至 31 日",
            "6 月 15 日至 7 月 7 日",
            "2017 年 7 月 7 日",
        ],
        "place": ["纽约", "古巴", "哈瓦那", "拉丁美洲和加勒比", "中东", "纽约"],
        "number": ["33 个成员国", "第六条"],
    },
}


def _table(index: EntityIndex, kind: str, lang: str) -> dict[str, list[int]]:
    table: dict[str, list[int]] = {}
    for entity in index.items(kind, lang):
        table.setdefault(entity.key, []).append(entity.paragraph)
    return table


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lang", LANGS)
def test_complete_in_every_version(index: EntityIndex, kind: str, lang: str) -> None:
    """zh and en against the hand-made table; the renderings must agree with it as well."""
    expected = {
        key: EXCEPTIONS.get((lang, key), paragraphs) for key, paragraphs in EXPECTED[kind].items()
    }
    assert _table(index, kind, lang) == expected


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_surface_forms(index: EntityIndex, lang: str) -> None:
    for kind, texts in TEXTS[lang].items():
        assert [e.text for e in index.items(kind, lang)] == texts, kind


def test_every_text_stands_in_its_paragraph(document: Document, index: EntityIndex) -> None:
    for lang in LANGS:
        paragraphs = document.versions[lang].paragraphs
        for kind in KINDS:
            for entity in index.items(kind, lang):
                assert entity.lang == lang and entity.kind == kind
                assert entity.text and entity.text in paragraphs[entity.paragraph], entity


def test_items_are_in_paragraph_order_one_per_key_and_paragraph(index: EntityIndex) -> None:
    for lang in LANGS:
        for kind in KINDS:
            items = index.items(kind, lang)
            assert [e.paragraph for e in items] == sorted(e.paragraph for e in items)
            pairs = [(e.key, e.paragraph) for e in items]
            assert len(pairs) == len(set(pairs))


def test_api(index: EntityIndex) -> None:
    assert index.kinds() == KINDS
    assert index.paragraphs_of("71/258") == [14]
    assert index.paragraphs_of("united-nations") == [4, 14]
    assert index.paragraphs_of("united-nations", "zh") == [4]
    assert index.paragraphs_of("no-such-thing") == []
    assert index.keys("resolution")[:2] == ["67/39", "68/32"]
    assert index.proposed("comprehensive-convention-on-nuclear-weapons")
    assert not index.proposed("tpnw")
    # A language without a version falls back to English.
    assert index.items("place", "de") == index.items("place", "en")


def test_dates_keep_their_year_across_and(document: Document) -> None:
    """A date range without a year takes the year of the phrase it is joined to."""
    text = "held from 3 to 5 May and from 1 June to 2 July 2019, then on 9 August"
    version = replace(document.versions["en"], paragraphs={1: text})
    doc = replace(document, versions={"en": version})
    keys = [e.key for e in EntityIndex(doc).items("date", "en")]
    assert keys == ["2019-05-03/2019-05-05", "2019-06-01/2019-07-02", "--08-09"]


# --- stance -------------------------------------------------------------------------------

STANCE_EXPECTED = {
    5: ["stresses", "commends", "invites"],
    6: ["welcomes"],
    8: ["reaffirms"],
    9: ["calls_upon"],
    10: ["recognizes", "strongly_supports"],
    11: ["is_deeply_concerned"],
    12: ["recalls"],
    13: ["believes", "calls_upon", "calls_upon"],
    14: ["notes"],
    15: ["requests", "calls_upon"],
}
# Arabic says تدعو both for "invites" and for "calls upon".
STANCE_EXCEPTIONS = {("ar", 5): ["stresses", "commends", "calls_upon"]}


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.。;؛])\s*", text) if s]


@pytest.mark.parametrize("lang", LANGS)
def test_stances_per_paragraph(document: Document, lang: str) -> None:
    for number, text in document.versions[lang].paragraphs.items():
        marks = [m for s in _sentences(text) for m in stances_of(s, lang)]
        expected = STANCE_EXCEPTIONS.get((lang, number), STANCE_EXPECTED.get(number, []))
        assert [m.key for m in marks] == expected, (lang, number)
        for sentence in _sentences(text):
            for mark in stances_of(sentence, lang):
                assert mark.key in STANCES
                assert sentence[mark.start : mark.end] == mark.text


@pytest.mark.parametrize(
    ("lang", "sentence", "near", "expected"),
    [
        (
            "en",
            "The Group recognizes the zones and strongly supports a zone in the Middle East.",
            "Middle East",
            "strongly_supports",
        ),
        (
            "en",
            "The Group recognizes the zones and strongly supports a zone in the Middle East.",
            None,
            "recognizes",
        ),
        ("en", "These resolutions call for the urgent commencement of negotiations.", None, None),
        ("en", "CELAC once again reaffirmed its determination.", None, None),
        ("en", "We call upon the member States to support this initiative.", None, "calls_upon"),
        (
            "zh",
            "本集团认可许多国家的贡献，并大力支持迅速在中东建立无核武器区。",
            "中东",
            "strongly_supports",
        ),
        ("zh", "并吁请本会议各成员国支持这个重要倡议。", None, None),
        ("fr", "Le Groupe se félicite de la proclamation.", None, "welcomes"),
        (
            "ru",
            "Группа глубоко обеспокоена тем, что государства отказываются.",
            None,
            "is_deeply_concerned",
        ),
        (
            "es",
            "Le solicitamos, Señor Presidente, que tenga en cuenta el mandato.",
            None,
            "requests",
        ),
        ("ar", "وترحب المجموعة بإعلان المنطقة.", None, "welcomes"),
        ("en", "", None, None),
    ],
)
def test_stance_of(lang: str, sentence: str, near: str | None, expected: str | None) -> None:
    assert stance_of(sentence, lang, near) == expected


# --- arbitrary text -----------------------------------------------------------------------

FUZZ = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
PIECES = st.sampled_from(
    [
        "26 September 2013",
        "2013 年 9 月 26 日",
        "67/39",
        "第 ",
        " 号",
        "至",
        "to",
        "and from",
        "United Nations",
        "ال",
        "و",
        "Group",
        "*",
        "\\",
        "(",
        "?",
        "1996",
        "13/",
        "/40",
        "31",
        "March",
        "марта",
        "de julio de",
        "آذار/مارس",
        "ـ",
        "\u064e",
        " ",
    ]
)
TEXT = st.one_of(st.text(max_size=200), st.lists(PIECES, max_size=25).map("".join))


@FUZZ
@given(texts=st.lists(TEXT, min_size=1, max_size=3), lang=st.sampled_from([*LANGS, "de"]))
def test_arbitrary_paragraphs_never_break(document: Document, texts: list[str], lang: str) -> None:
    version: Statement = replace(
        document.versions["en"], lang=lang, paragraphs=dict(enumerate(texts, 1))
    )
    index = EntityIndex(replace(document, versions={lang: version}))
    for kind in KINDS:
        for entity in index.items(kind, lang):
            assert entity.text in texts[entity.paragraph - 1]
    for text in texts:
        for mark in stances_of(text, lang):
            assert text[mark.start : mark.end] == mark.text
