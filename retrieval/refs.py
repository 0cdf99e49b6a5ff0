"""Paragraph references in a question, in the six languages: 第7段, 第七段, paragraph 7,
paragraph seven, the seventh paragraph, ¶7, §7, paragraphe 7, párrafo siete, пункт 7,
седьмой пункт, الفقرة 7, الفقرة السابعة; lists and ranges."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from retrieval.text import normalise_arabic

_ZH_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_ZH_NUM = "[0-9０-９零〇一二两三四五六七八九十百]+"
_SEP = r"\s*(?:、|，|,|和|及|与|或|以及|and|or|&)\s*"
_RANGE = r"\s*(?:-|–|—|~|～|至|到|through|to)\s*"

# 第3段, 第 3 段, 第三段, 第3、4段, 第3段和第4段, 第3至5段, 第三到第五段
_ZH_REF = re.compile(
    rf"第\s*({_ZH_NUM})\s*(?:段|款)?"
    rf"((?:(?:{_SEP}|{_RANGE})第?\s*{_ZH_NUM}\s*(?:段|款)?)*)"
)
_ZH_REF_END = re.compile(r"^\s*(?:段|款)")

# The word "paragraph" in each language (Russian and Arabic with their case and number
# forms; Arabic after normalisation, with و/ف/ب/ل or في before it), or ¶ / §.
_KEYWORD = (
    r"(?<!\w)(?:paragraphs?|paras?\.?|paragraphes?|p[aá]rrafos?|par[aá]grafos?"
    r"|пункт(?:ы|а|е|у|ом|ов|ах|ам|ами)?|параграф(?:ы|а|е|у|ом|ов|ах|ам|ами)?"
    r"|абзац(?:ы|а|е|у|ем|ев|ах|ам|ами)?|п\."
    r"|(?:[وفبل]|في\s*)?(?:ال)?فقر(?:ه|تين|تان|ات))(?!\w)"
    r"|¶|§"
)
# "No." and the like between the word and the number; "from" before a range.
_FILLER = r"(?:\s*(?:n[°ºo]\.?|no\.|#|№|number|numéro|número|номер|رقم|de|del|du|с|من)(?!\w))?"
_LIST = r"\s*(?:,|،|、|&|و|(?<!\w)(?:and|or|et|ou|y|e|o|и|или)(?!\w))\s*"
_SPAN = r"\s*(?:-|–|—|~|(?<!\w)(?:to|through|thru|à|au|a|al|hasta|по|до|الي|حتي)(?!\w))\s*"
_RANGE_WORDS = {"-", "–", "—", "~", "to", "through", "thru", "à", "au", "a", "al", "hasta"}
_RANGE_WORDS |= {"по", "до", "الي", "حتي", "至", "到", "～"}
# 7th, 7e, 7ème, 7º, 7-й, 7-го …: a digit with an ordinal ending.
_DIGITS = r"\d+(?:st|nd|rd|th|er|re|e|ème|eme|º|°|ª|-?(?:й|го|м|ом|му))?(?!\w)"
_LAST = -1


@lru_cache(maxsize=1)
def _number_words() -> tuple[dict[str, int], dict[str, int]]:
    """(cardinal, ordinal) number words of every language, as regex source → value."""
    text = (resources.files("retrieval") / "dict" / "numbers.toml").read_text(encoding="utf-8")
    cardinal: dict[str, int] = {}
    ordinal: dict[str, int] = {}
    for table in tomllib.loads(text).values():
        for kind, out in (("cardinal", cardinal), ("ordinal", ordinal)):
            for word, value in table.get(kind, {}).items():
                stem = word.removesuffix("*")
                body = re.escape(stem).replace(r"\ ", r"\s+")
                out[body + ("[а-яё]{0,4}" if word.endswith("*") else "")] = int(value)
    return cardinal, ordinal


def _alternation(patterns: list[str]) -> str:
    # Longest first, so that "dix-sept" wins over "dix" and "пятнадцат" over "пят".
    return "|".join(sorted(patterns, key=len, reverse=True))


@lru_cache(maxsize=1)
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str], list[tuple[re.Pattern[str], int]]]:
    """(keyword then numbers, ordinal then keyword, each number word with its value)."""
    cardinal, ordinal = _number_words()
    words = _alternation([*cardinal, *ordinal])
    number = rf"(?:{_DIGITS}|(?<!\w)(?:{words})(?!\w))"
    after = re.compile(
        rf"(?:{_KEYWORD}){_FILLER}\s*({number}(?:(?:{_LIST}|{_SPAN}){_FILLER}\s*(?:¶|§)?\s*{number})*)",
        re.IGNORECASE,
    )
    ordinals = _alternation(list(ordinal))
    ordinal_number = rf"(?:\d+(?:st|nd|rd|th|e|ème|eme|er|re|º|ª|-?(?:й|го|м|ом|му))|{ordinals})"
    before = re.compile(
        rf"(?<!\w)({ordinal_number}(?:{_LIST}{ordinal_number})*)\s+(?:{_KEYWORD})",
        re.IGNORECASE,
    )
    values = [
        (re.compile(rf"^(?:{w})$", re.IGNORECASE), v) for w, v in {**cardinal, **ordinal}.items()
    ]
    return after, before, values


def _value(token: str) -> int | None:
    """7, 7th, septième, седьмом, السابعه → 7; `last` → -1; None for anything else."""
    digits = re.match(r"\d+", token)
    if digits:
        return int(digits.group(0))
    for rx, value in _patterns()[2]:
        if rx.match(token):
            return value
    return None


@lru_cache(maxsize=1)
def _token() -> re.Pattern[str]:
    cardinal, ordinal = _number_words()
    words = _alternation([*cardinal, *ordinal])
    return re.compile(rf"\d+\w*|{words}|-|–|—|~|[^\W\d_]+", re.IGNORECASE)


def _numbers_in(span: str) -> list[int]:
    """The numbers of a matched list or range, ranges filled in (capped at 50)."""
    numbers: list[int] = []
    pending_range = False
    for found in _token().findall(span):
        if found.lower() in _RANGE_WORDS:
            pending_range = True
            continue
        value = _value(found)
        if value is None:
            continue
        if pending_range and numbers and 0 < numbers[-1] < value <= numbers[-1] + 50:
            numbers.extend(range(numbers[-1] + 1, value + 1))
        else:
            numbers.append(value)
        pending_range = False
    return numbers


def zh_number(text: str) -> int | None:
    """Parse 7, ７, 七, 十二, 二十一, 一百 into an int (None if it is not a number)."""
    text = text.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    if text.isdigit():
        return int(text)
    total, current = 0, 0
    for ch in text:
        if ch in _ZH_DIGITS:
            current = _ZH_DIGITS[ch]
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
        else:
            return None
    return total + current


@dataclass(frozen=True)
class ParagraphRequest:
    """The paragraphs a question names: those the statement has, and those it does not."""

    numbers: tuple[int, ...]
    missing: tuple[int, ...]

    @property
    def all(self) -> tuple[int, ...]:
        return tuple(sorted({*self.numbers, *self.missing}))


def _expand(first: str, rest: str) -> list[int]:
    """Numbers from `3`, `、4`, `至6` … with ranges filled in (a range is capped at 50)."""
    numbers: list[int] = []
    pending_range = False
    tokens = [first, *re.findall(rf"{_ZH_NUM}|\d+|-|–|—|~|～|至|到|through|to", rest)]
    for token in tokens:
        if token in {"-", "–", "—", "~", "～", "至", "到", "through", "to"}:
            pending_range = True
            continue
        value = zh_number(token)
        if value is None:
            continue
        if pending_range and numbers and numbers[-1] < value <= numbers[-1] + 50:
            numbers.extend(range(numbers[-1] + 1, value + 1))
        else:
            numbers.append(value)
        pending_range = False
    return numbers


def find_references(question: str, last: int | None = None) -> list[int]:
    """Every paragraph number the question names, in order of mention, without repeats.
    "The last paragraph" counts when ``last`` (the statement's last number) is given."""
    found: list[tuple[int, int]] = []
    for match in _ZH_REF.finditer(question):
        tail = question[match.end() :]
        whole = match.group(0)
        # `第六条` (article 6) or `第 67/39 号` are not paragraph references.
        if not ("段" in whole or "款" in whole or _ZH_REF_END.match(tail)):
            continue
        found += [(match.start(), n) for n in _expand(match.group(1), match.group(2) or "")]
    # Arabic-Indic digits and one spelling per Arabic word; both keep every position.
    text = normalise_arabic(question)
    after, before, _ = _patterns()
    for pattern in (after, before):
        for match in pattern.finditer(text):
            found += [(match.start(), n) for n in _numbers_in(match.group(1))]
    numbers = [n for _, n in sorted(found, key=lambda pair: pair[0])]
    if last is not None:
        numbers = [last if n == _LAST else n for n in numbers]
    numbers = [n for n in numbers if n != _LAST]
    seen: set[int] = set()
    return [n for n in numbers if not (n in seen or seen.add(n))]  # type: ignore[func-returns-value]


def strip_references(text: str) -> str:
    """``text`` without its paragraph references (a follow-up borrows the topic, not them)."""

    def zh(match: re.Match[str]) -> str:
        whole, tail = match.group(0), match.string[match.end() :]
        is_ref = "段" in whole or "款" in whole or _ZH_REF_END.match(tail)
        return " " if is_ref else whole

    text = _ZH_REF.sub(zh, text)
    after, before, _ = _patterns()
    for pattern in (after, before):
        text = pattern.sub(" ", text)
    return " ".join(text.split())


def paragraph_request(question: str, available: list[int]) -> ParagraphRequest | None:
    """Split the named paragraphs into those that exist and those that do not."""
    numbers = find_references(question, max(available) if available else None)
    if not numbers:
        return None
    have = set(available)
    return ParagraphRequest(
        tuple(n for n in numbers if n in have), tuple(n for n in numbers if n not in have)
    )
