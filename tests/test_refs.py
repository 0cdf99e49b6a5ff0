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


# The other UN languages, number words and ordinals (1-20), and "the last paragraph".
@pytest.mark.parametrize(
    ("question", "numbers"),
    [
        ("párrafo 7", [7]),
        ("¿Qué dice el parrafo 7?", [7]),
        ("parágrafo 7", [7]),
        ("paragraphe 7", [7]),
        ("§ 7", [7]),
        ("пункт 7", [7]),
        ("Что сказано в пункте 12?", [12]),
        ("параграф 7", [7]),
        ("абзац 7", [7]),
        ("п. 7", [7]),
        ("الفقرة 7", [7]),
        ("الفقرة ٧", [7]),
        ("ماذا تقول الفقرة ١٢؟", [12]),
        ("وفي الفقرة 12", [12]),
        ("paragraph seven", [7]),
        ("para twelve", [12]),
        ("the seventh paragraph", [7]),
        ("What does the 7th paragraph say?", [7]),
        ("párrafo siete", [7]),
        ("el séptimo párrafo", [7]),
        ("paragraphe douze", [12]),
        ("le douzième paragraphe", [12]),
        ("paragraphe dix-sept", [17]),
        ("пункт седьмой", [7]),
        ("пункт семь", [7]),
        ("седьмой пункт", [7]),
        ("в седьмом пункте", [7]),
        ("الفقرة السابعة", [7]),
        ("الفقرة الثانية عشرة", [12]),
        ("paragraphs three to five", [3, 4, 5]),
        ("paragraphes 3 et 4", [3, 4]),
        ("paragraphes 3 à 5", [3, 4, 5]),
        ("párrafos 3 y 4", [3, 4]),
        ("párrafos del 3 al 5", [3, 4, 5]),
        ("párrafos tres y cuatro", [3, 4]),
        ("пункты 3 и 4", [3, 4]),
        ("пункты с 3 по 5", [3, 4, 5]),
        ("пункты третий и четвертый", [3, 4]),
        ("الفقرتين 3 و4", [3, 4]),
        ("الفقرات من 3 إلى 5", [3, 4, 5]),
        ("paragraph 2 et le párrafo 13", [2, 13]),
    ],
)
def test_references_in_every_language(question: str, numbers: list[int]) -> None:
    assert find_references(question) == numbers


@pytest.mark.parametrize(
    "question",
    [
        "What does the last paragraph say?",
        "le dernier paragraphe",
        "el último párrafo",
        "последний пункт",
        "الفقرة الأخيرة",
    ],
)
def test_the_last_paragraph(question: str) -> None:
    assert find_references(question) == []  # which one is last depends on the statement
    assert paragraph_request(question, STATEMENT) == ParagraphRequest((15,), ())


@pytest.mark.parametrize(
    "question",
    [
        "l'article VI du TNP",
        "la résolution 67/39",
        "le 26 septembre",
        "les 33 États membres de la CELAC",
        "el artículo VI del TNP",
        "los 33 Estados miembros",
        "la resolución 67/39",
        "статья VI ДНЯО",
        "резолюция 67/39",
        "26 сентября",
        "33 государства-члена",
        "المادة VI من المعاهدة",
        "القرار 67/39",
        "26 أيلول/سبتمبر",
        "الدول الأعضاء البالغ عددها 33",
        "three paragraphs",
        "the first two paragraphs",
        "a paragraph about Iran",
        "un paragraphe sur l'Iran",
        "en un párrafo",
        "в одном пункте",
        "the second summit",
        "segunda cumbre",
        "второй саммит",
        "مؤتمر القمة الثاني",
    ],
)
def test_not_references_in_other_languages(question: str) -> None:
    assert find_references(question) == []
