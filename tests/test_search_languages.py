"""Search in each language version of the real statement (written for these tests)."""

from __future__ import annotations

import pytest

from retrieval.search import Retriever

QUESTIONS = [
    ("fr", "Quelle est la plus haute priorité de la Conférence du désarmement ?", 8),
    ("fr", "Où se tiendra la conférence internationale de haut niveau ?", 4),
    ("fr", "Que dit la Cour internationale de Justice dans son avis consultatif ?", 12),
    ("fr", "Quand le traite sur l'interdiction des armes nucleaires a-t-il ete adopte ?", 14),
    ("es", "¿Qué proclamó la cumbre de La Habana?", 6),
    ("es", "¿Qué obligaciones impone el artículo VI del TNP?", 9),
    ("es", "¿Qué pretextos inaceptables presentan los Estados poseedores de armas nucleares?", 11),
    ("es", "zonas libres de armas nucleares en Oriente Medio", 10),
    ("ru", "Когда был принят Договор о запрещении ядерного оружия?", 14),
    ("ru", "Что должен запросить Генеральный секретарь у государств-членов?", 3),
    ("ru", "Какие последствия ядерных взрывов можно предотвратить?", 7),
    ("ru", "мнение МС 1996 года", 12),
    ("ar", "متى اعتمدت معاهدة حظر الأسلحة النووية؟", 14),
    ("ar", "ماذا خلصت محكمة العدل الدولية في فتواها؟", 12),
    ("ar", "ما هي أولى أولويات مؤتمر نزع السلاح؟", 8),
    ("ar", "ماذا أعلنت سيلاك في هافانا؟", 6),
    # Traditional Chinese is searched as simplified.
    ("zh", "國際法院在1996年的諮詢意見中斷定了什麼？", 12),
    ("zh", "本集團對中東無核武器區持什麼立場？", 10),
    # English, informally and with typos.
    ("en", "what does it say abt nukes in the middle east", 10),
    ("en", "wat did the intl court conclude in its advisroy opinion", 12),
]

OUT_OF_SCOPE = [
    ("fr", "Que dit la déclaration sur le changement climatique ?"),
    ("es", "¿Quién ganó la Copa del Mundo de fútbol?"),
    ("ru", "Что говорится в заявлении о химическом оружии?"),
    ("ru", "Кто выиграл чемпионат мира по футболу?"),
    ("ar", "ما موقف البيان من تغير المناخ؟"),
    ("zh", "聲明如何看待全球氣候變暖？"),
]


@pytest.mark.parametrize(("lang", "question", "paragraph"), QUESTIONS)
def test_question_ranks_its_paragraph_first(
    retriever: Retriever, lang: str, question: str, paragraph: int
) -> None:
    result = retriever.search(question)
    assert result.lang == lang
    assert result.covered, result.unknown_terms
    assert result.paragraphs[0] == paragraph
    # Hits are chunks of the question's own version.
    assert all(h.chunk.lang == lang for h in result.hits)


@pytest.mark.parametrize(("lang", "question"), OUT_OF_SCOPE)
def test_out_of_scope_abstains_in_every_language(
    retriever: Retriever, lang: str, question: str
) -> None:
    result = retriever.search(question)
    assert result.lang == lang
    assert not result.covered


def test_a_language_without_a_version_is_searched_in_english(retriever: Retriever) -> None:
    result = retriever.search("Was sagt die Erklärung über den Internationalen Gerichtshof?")
    assert result.lang == "en"
    assert retriever.search("¿Qué dice?", lang="de").lang == "en"


def test_the_caller_can_name_the_language(retriever: Retriever) -> None:
    result = retriever.search("CELAC", lang="es")
    assert result.lang == "es"
    assert result.paragraphs[0] == 6


def test_a_question_in_two_scripts_is_searched_in_both(retriever: Retriever) -> None:
    result = retriever.search("comprehensive convention on nuclear weapons 要禁止哪些行为？")
    assert result.covered
    assert result.paragraphs[0] in (2, 13)


@pytest.mark.parametrize(
    ("question", "lang", "paragraph"),
    [("¿Qué dice el párrafo siete?", "es", 7), ("الفقرة ١٢", "ar", 12), ("пункт 5", "ru", 5)],
)
def test_references_return_the_version_chunk(
    retriever: Retriever, question: str, lang: str, paragraph: int
) -> None:
    result = retriever.search(question)
    assert result.paragraphs == [paragraph]
    assert result.hits[0].chunk.lang == lang
