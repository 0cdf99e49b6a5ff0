"""Every language version of the statement against the Chinese original, mechanically: the
same paragraph numbers, and in each paragraph the same numbers (resolution symbols, years,
days, counts, the article's roman numeral) as the Chinese paragraph, none missing, none extra.
"""

from __future__ import annotations

import re

import pytest

from retrieval.corpus import Document, load_corpus
from retrieval.parse import Statement

ORIGINAL = "zh"
UN_LANGUAGES = {"ar", "en", "es", "fr", "ru", "zh"}

# A resolution symbol (`72/251`) or a plain number, in ASCII digits.
_NUMBER = re.compile(r"(?<![0-9/])[0-9]+(?:/[0-9]+)?(?![0-9/])")
# The Chinese writes months as digits (`2014 年 1 月 28 日`); the other versions name them.
_ZH_MONTH = re.compile(r"[0-9]+\s*月")
# An article number: `article VI` in the translations, `第六条` in the Chinese.
_ROMAN = re.compile(r"(?<!\w)[IVX]+(?!\w)")
_ZH_ARTICLE = re.compile(r"第([一二三四五六七八九十]+)条")
_ZH_DIGITS = {d: i for i, d in enumerate("一二三四五六七八九", start=1)}


def _zh_int(numeral: str) -> int:
    """`六` → 6, `十二` → 12, `二十一` → 21 (enough for article numbers)."""
    if "十" not in numeral:
        return _ZH_DIGITS[numeral]
    tens, _, units = numeral.partition("十")
    return _ZH_DIGITS.get(tens, 1) * 10 + _ZH_DIGITS.get(units, 0)


def _roman(number: int) -> str:
    out = ""
    for value, letters in ((10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        count, number = divmod(number, value)
        out += letters * count
    return out


def numbers_in(text: str, lang: str) -> set[str]:
    """The comparable numbers of one paragraph: symbols, years, days and counts as written
    in ASCII digits, article numbers as roman numerals; Chinese month numbers left out."""
    if lang == "zh":
        articles = {_roman(_zh_int(n)) for n in _ZH_ARTICLE.findall(text)}
        return set(_NUMBER.findall(_ZH_MONTH.sub(" ", text))) | articles
    return set(_NUMBER.findall(text)) | set(_ROMAN.findall(text))


DOCUMENT: Document = load_corpus(primary_only=True).primary
TRANSLATIONS = [lang for lang in DOCUMENT.languages if lang != ORIGINAL]


def test_all_six_un_languages_are_declared() -> None:
    assert set(DOCUMENT.languages) == UN_LANGUAGES
    assert DOCUMENT.languages[0] == ORIGINAL
    assert DOCUMENT.official[ORIGINAL] is True


def test_the_original_has_paragraphs_1_to_15() -> None:
    assert DOCUMENT.versions[ORIGINAL].numbers == list(range(1, 16))


def test_number_extraction() -> None:
    zh = "本集团欢迎 2014 年 1 月 28 日至 29 日…第 72/251 号和第 73/40 决议。21 国集团…第六条"
    assert numbers_in(zh, "zh") == {"2014", "28", "29", "72/251", "73/40", "21", "VI"}
    en = "The G-21 … article VI … resolutions 72/251 and 73/40 … 28-29 January 2014."
    assert numbers_in(en, "en") == {"21", "VI", "72/251", "73/40", "28", "29", "2014"}
    assert numbers_in("Cada Parte … CELAC (Cuba) … Il existe", "es") == set()
    assert numbers_in("2017 年 3 月 27 日至 31 日和 6 月 15 日至 7 月 7 日", "zh") == {
        "2017",
        "27",
        "31",
        "15",
        "7",
    }


@pytest.mark.parametrize("lang", TRANSLATIONS)
def test_translation_is_declared_unofficial(lang: str) -> None:
    version = DOCUMENT.versions[lang]
    assert DOCUMENT.official[lang] is False
    assert version.title and version.submitter and version.note
    assert "g21bot" in version.note
    assert all(f"¶{n}" in DOCUMENT.scope[lang] for n in (5, 6, 9, 10, 11, 12, 13, 14, 15))


@pytest.mark.parametrize("lang", DOCUMENT.languages)
def test_file_header_is_title_and_submitter_only(lang: str) -> None:
    # Translation notes live in the manifest; a third header line would be parsed as one.
    assert len(DOCUMENT.versions[lang].header) == 2, DOCUMENT.versions[lang].header


@pytest.mark.parametrize("lang", TRANSLATIONS)
def test_same_paragraph_numbers_as_the_original(lang: str) -> None:
    assert DOCUMENT.versions[lang].numbers == DOCUMENT.versions[ORIGINAL].numbers


@pytest.mark.parametrize("lang", DOCUMENT.languages)
def test_numbers_are_written_in_ascii_digits(lang: str) -> None:
    version: Statement = DOCUMENT.versions[lang]
    for number, text in version.paragraphs.items():
        stray = {c for c in text if c.isdecimal() and not c.isascii()}
        assert not stray, f"{lang} ¶{number}: non-ASCII digits {sorted(stray)}"


@pytest.mark.parametrize("lang", TRANSLATIONS)
def test_every_paragraph_has_the_numbers_of_the_original(lang: str) -> None:
    original = DOCUMENT.versions[ORIGINAL]
    version = DOCUMENT.versions[lang]
    problems = []
    for number in original.numbers:
        want = numbers_in(original.paragraph(number), ORIGINAL)
        got = numbers_in(version.paragraph(number), lang)
        if want != got:
            problems.append(
                f"¶{number}: missing {sorted(want - got)}, not in the original {sorted(got - want)}"
            )
    assert not problems, f"{lang} differs from {ORIGINAL}:\n" + "\n".join(problems)
