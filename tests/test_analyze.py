"""Terms per language: what the indexes and the gate see of a text."""

from __future__ import annotations

import pytest

from retrieval.analyze import strip_arabic_prefixes, terms
from retrieval.text import fold_accents, normalise_arabic


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("أسلحة", "اسلحه"),  # hamza-on-alef → alef, ta marbuta → ha
        ("إزالة", "ازاله"),
        ("آراء", "اراء"),
        ("ٱلأمم", "الامم"),
        ("مستوى", "مستوي"),  # alef maqsura → ya
        ("نَزْعُ السِّلَاحِ", "نزع السلاح"),  # vowel marks off
        ("النوويـــة", "النوويه"),  # tatweel off
        ("عام ١٩٩٦", "عام 1996"),  # Arabic-Indic digits
        ("۱۲", "12"),  # Persian digits
    ],
)
def test_arabic_normalisation(text: str, expected: str) -> None:
    assert normalise_arabic(text) == expected


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("الشرق", "شرق"),
        ("والشرق", "شرق"),
        ("بالاسلحه", "اسلحه"),
        ("للاسلحه", "اسلحه"),
        ("فالمؤتمر", "مؤتمر"),
        ("الا", "الا"),  # too short to be article + word
        ("وزير", "وزير"),  # a word that starts with و keeps it
        ("بيان", "بيان"),
    ],
)
def test_arabic_prefixes(word: str, expected: str) -> None:
    assert strip_arabic_prefixes(word) == expected


def test_arabic_forms_meet() -> None:
    # With or without the article, hamza, ta marbuta, a conjunction: the same term.
    assert terms("الأسلحة النووية") == terms("والاسلحه النوويه") == terms("بالأسلحة النووية")
    assert terms("البيان") == terms("بيان")
    assert terms("ماذا يقول البيان عن الشرق الأوسط؟") == terms("الشرق الاوسط")


def test_arabic_stop_words_go() -> None:
    assert terms("ماذا في هذا البيان؟") == []


@pytest.mark.parametrize(
    ("accented", "plain", "lang"),
    [
        ("désarmement nucléaire", "desarmement nucleaire", "fr"),
        ("sécurité régionale", "securite regionale", "fr"),
        ("l'humanité", "humanite", "fr"),
        ("¿Qué resolución aprobó?", "que resolucion aprobo", "es"),
        ("también la prohibición", "tambien la prohibicion", "es"),
    ],
)
def test_accents_do_not_matter_in_french_and_spanish(accented: str, plain: str, lang: str) -> None:
    assert terms(accented, lang) == terms(plain, lang)


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        # Elisions and stop words off, inflections stemmed.
        ("l'élimination des armes nucléaires", "fr", ["elimin", "arme", "nucleair"]),
        ("armes nucléaires", "fr", terms("arme nucléaire", "fr")),
        ("Que dit la déclaration ?", "fr", []),
        ("est-elle nécessaire", "fr", ["necessair"]),
        ("la non-prolifération", "fr", ["prolifer", "nonprolifer"]),
        ("¿Qué dice el párrafo sobre las armas?", "es", ["armas"]),
        ("resoluciones", "es", terms("resolución", "es")),
    ],
)
def test_french_and_spanish_terms(text: str, lang: str, expected: list[str]) -> None:
    assert terms(text, lang) == expected


def test_russian_terms() -> None:
    assert terms("ядерного оружия") == terms("ядерное оружие")
    assert terms("Ближнем Востоке") == terms("Ближний Восток")
    assert terms("государства-участники") == terms("государства участники")
    assert terms("Что говорится в заявлении?") == []
    assert terms("ёлка") == terms("елка")


def test_english_and_chinese_terms_are_unchanged() -> None:
    assert terms("What did the ICJ conclude in its advisory opinion?") == [
        "icj",
        "conclud",
        "advisori",
    ]
    assert terms("the non-proliferation regime") == ["non", "prolifer", "nonprolifer", "regim"]
    assert "国际法院" in terms("国际法院的咨询意见")
    # Without a language, Latin-script text is English, as before.
    assert terms("nuclear disarmament") == terms("nuclear disarmament", "en")


def test_the_submitter_is_noise_in_every_language() -> None:
    for text, lang in [
        ("G-21", "en"),
        ("G21认为", None),
        ("le Groupe des 21", "fr"),
        ("el Grupo de los 21", "es"),
        ("Группа 21", None),
        ("Группой 21", None),
        ("مجموعة الـ 21", None),
    ]:
        assert terms(text, lang) == [] or "21" not in terms(text, lang), text


def test_cache_is_per_language() -> None:
    # The same text cut for two languages: two cache entries, two answers.
    assert terms("armes", "fr") == ["arme"]
    assert terms("armes", "en") == ["arm"]
    assert fold_accents("Conférence") == "conference"
