"""Paragraph references in a question: 第7段, 第七段, paragraph 7, ¶7, §7, lists, ranges."""

from __future__ import annotations

import re
from dataclasses import dataclass

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
_EN_REF = re.compile(
    r"(?:\bparagraphs?|\bparas?\.?|¶|§)\s*(\d+)"
    rf"((?:(?:{_SEP}|{_RANGE})(?:¶|§)?\s*\d+)*)",
    re.IGNORECASE,
)


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


def find_references(question: str) -> list[int]:
    """Every paragraph number the question names, in order of mention, without repeats."""
    found: list[int] = []
    for match in _ZH_REF.finditer(question):
        tail = question[match.end() :]
        whole = match.group(0)
        # `第六条` (article 6) or `第 67/39 号` are not paragraph references.
        if not ("段" in whole or "款" in whole or _ZH_REF_END.match(tail)):
            continue
        found.extend(_expand(match.group(1), match.group(2) or ""))
    for match in _EN_REF.finditer(question):
        found.extend(_expand(match.group(1), match.group(2) or ""))
    seen: set[int] = set()
    return [n for n in found if not (n in seen or seen.add(n))]  # type: ignore[func-returns-value]


def strip_references(text: str) -> str:
    """``text`` without its paragraph references (a follow-up borrows the topic, not them)."""

    def zh(match: re.Match[str]) -> str:
        whole, tail = match.group(0), match.string[match.end() :]
        is_ref = "段" in whole or "款" in whole or _ZH_REF_END.match(tail)
        return " " if is_ref else whole

    return " ".join(_EN_REF.sub(" ", _ZH_REF.sub(zh, text)).split())


def paragraph_request(question: str, available: list[int]) -> ParagraphRequest | None:
    """Split the named paragraphs into those that exist and those that do not."""
    numbers = find_references(question)
    if not numbers:
        return None
    have = set(available)
    return ParagraphRequest(
        tuple(n for n in numbers if n in have), tuple(n for n in numbers if n not in have)
    )
