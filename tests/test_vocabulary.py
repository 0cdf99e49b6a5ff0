"""Questions in the statement's own words: aliases per language, informal words, typos."""

from __future__ import annotations

import re

import pytest

from retrieval.analyze import en_terms
from retrieval.corpus import Corpus
from retrieval.vocabulary import (
    correct_typos,
    expand_aliases,
    is_english_word,
    normalise_query,
    replace_informal,
)


@pytest.fixture(scope="module")
def english(corpus: Corpus) -> tuple[frozenset[str], frozenset[str]]:
    """The English version's words and terms, as the retriever holds them."""
    text = " ".join(corpus.primary.versions["en"].paragraphs.values())
    words = frozenset(w.lower() for w in re.findall(r"[^\W\d_]+", text))
    return words, frozenset(t for w in words for t in en_terms(w))


@pytest.mark.parametrize(
    ("question", "lang", "added"),
    [
        ("What does the NPT say?", "en", "Treaty on the Non-Proliferation of Nuclear Weapons"),
        ("npt obligations", "en", "Treaty on the Non-Proliferation of Nuclear Weapons"),
        ("who are the nuclear powers", "en", "nuclear-weapon States"),
        ("TPNW adopted when", "en", "Treaty on the Prohibition of Nuclear Weapons"),
        ("NPT第六条", "zh", "不扩散核武器条约"),
        ("禁核条约什么时候通过", "zh", "禁止核武器条约"),
        ("中东无核区", "zh", "无核武器区"),
        ("Quelles obligations découlent du TNP ?", "fr", "non-prolifération"),
        ("avis de la CIJ", "fr", "Cour internationale de Justice"),
        ("la Conference sur le desarmement", "fr", "Conférence du désarmement"),
        ("zones denuclearisees", "fr", "zones exemptes d'armes nucléaires"),
        ("¿Cuándo se aprobó el TPAN?", "es", "Prohibición de las Armas Nucleares"),
        ("las potencias nucleares", "es", "Estados poseedores de armas nucleares"),
        ("Что такое ДНЯО?", "ru", "Договор о нераспространении ядерного оружия"),
        ("мнение МС", "ru", "Международный Суд"),
        ("безъядерные зоны", "ru", "зона, свободная от ядерного оружия"),
        ("ядерными державами", "ru", "государства, обладающие ядерным оружием"),
        ("СЕЛАК", "ru", "СЕЛАК"),
        ("ما هي سيلاك؟", "ar", "جماعة دول أمريكا اللاتينية"),
        ("والدول النووية", "ar", "الحائزة للأسلحة النووية"),
        ("معاهدة عدم الانتشار", "ar", "معاهدة عدم انتشار الأسلحة النووية"),
    ],
)
def test_aliases_per_language(question: str, lang: str, added: str) -> None:
    assert added in expand_aliases(question, lang=lang)


@pytest.mark.parametrize(
    ("question", "lang"),
    [
        ("Un paragraphe sur la cd", "fr"),  # two-letter acronyms count in capitals only
        ("what about Cd and un", "en"),
        ("мс", "ru"),
        ("un tratado", "es"),
    ],
)
def test_aliases_not_found_in_ordinary_words(question: str, lang: str) -> None:
    expanded = expand_aliases(question, lang=lang)
    assert "Conférence" not in expanded and "Cour" not in expanded
    assert "Суд" not in expanded and "Naciones" not in expanded
    assert "United Nations" not in expanded


@pytest.mark.parametrize(
    ("question", "lang", "expected"),
    [
        ("nukes in the middle east?", "en", "nuclear weapons in the middle east?"),
        ("wat abt the govts", "en", "what about the governments"),
        ("atomic bombs", "en", "nuclear weapons"),
        ("les bombes atomiques", "fr", "les armes nucléaires"),
        ("атомное оружие", "ru", "ядерное оружие"),
    ],
)
def test_informal_words_are_replaced(question: str, lang: str, expected: str) -> None:
    assert replace_informal(question, lang) == expected


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("disarmement", "disarmament"),
        ("prohibtion", "prohibition"),
        ("Carribean", "Caribbean"),
        ("nucelar", "nuclear"),  # a transposition is one edit
        ("weapns", "weapons"),
        ("advisroy opinion", "advisory opinion"),
        ("Havanna", "Havana"),
        ("Secretary-Genral", "Secretary-General"),
        ("negotations", "negotiations"),
    ],
)
def test_typos_are_corrected(
    typed: str, meant: str, english: tuple[frozenset[str], frozenset[str]]
) -> None:
    assert correct_typos(typed, *english) == meant


@pytest.mark.parametrize(
    "text",
    [
        # Correct words the statement lacks are real words, not typos of its own.
        "necessary",
        "protection",
        "present",
        "thread",
        "climate",
        "chemical",
        "Israel",
        "treaties",  # another form of a statement word
        "Iran",  # too short to correct
        "state",
        "1996",
        "67/39",
        "CELAC",
        "Tlatelolco",  # a name: no statement word near it
        "G-21",
    ],
)
def test_correct_words_are_left_alone(
    text: str, english: tuple[frozenset[str], frozenset[str]]
) -> None:
    assert correct_typos(text, *english) == text


def test_english_dictionary() -> None:
    assert is_english_word("necessary") and is_english_word("Protection")
    assert not is_english_word("disarmement")


def test_normalise_query(english: tuple[frozenset[str], frozenset[str]]) -> None:
    query = normalise_query("wat did the ICJ say abt disarmement", "en", *english)
    assert query.startswith("what did the ICJ say about disarmament")
    assert query.endswith("International Court of Justice")
    # Typos are only mended in English.
    assert normalise_query("desarmement", "fr", *english) == "desarmement"
