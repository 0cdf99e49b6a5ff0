"""Paragraph markers in a model's answer, in every form a model writes them, and the bot's
own rendering: `[¶3, ¶40]`, `¶41`, `［¶42］`, `(¶43)`, `[3]`, `paragraph 44`, `第45段`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from retrieval.refs import zh_number

_ZH_NUMERAL = "零〇一二两三四五六七八九十百"
_NUM = rf"(?:\d+|[{_ZH_NUMERAL}]+)"
# After words, a listed number is a paragraph only when it is short ("paragraphs 3 and 4", not
# "paragraph 14 and 2017 …").
_SHORT = r"\d{1,3}"
_SYMBOL = r"(?:¶+|§+)"
_LIST = r"(?:\s*(?:[,，、;；&]|\band\b|\bet\b|\by\b|\bи\b|\bو|和|及|与)\s*)"
_RANGE = r"(?:\s*(?:-|–|—|~|～|至|到|\bto\b|\bà\b)\s*)"
# A number that is part of a symbol (67/39) or a decimal is no paragraph number.
_END = r"(?![/.,]?\d)"
_WORDS = (
    r"(?:paragraphs?|paras?\.?|paragraphes?|p[áa]rrafos?|пункт(?:ы|а|е|ов|ах|ом|ами)?|п\."
    r"|абзац\w*|(?:و|ب|ل|في)?(?:ال|ل)?فقر(?:ة|ات|تين|تان))"
)
# ``¶3``, ``¶¶3-5``, ``§ 4``; a list goes on only with the sign again or a plain number.
_SYMBOL_FORM = rf"{_SYMBOL}\s*{_NUM}{_END}(?:(?:{_LIST}|{_RANGE}){_SYMBOL}?\s*{_NUM}{_END})*"
_TEXT_FORM = rf"{_WORDS}\s*{_NUM}{_END}(?:(?:{_LIST}|{_RANGE}){_SHORT}{_END})*"
_ZH_FORM = (
    rf"第\s*{_NUM}\s*(?:段|款)?(?:(?:{_LIST}|{_RANGE})第?\s*{_NUM}\s*(?:段|款)?)*\s*(?:段|款)"
)
_INNER = (
    rf"(?:{_SYMBOL}\s*|{_WORDS}\s*)?{_NUM}{_END}"
    rf"(?:(?:{_LIST}|{_RANGE})(?:{_SYMBOL}\s*)?{_NUM}{_END})*|{_ZH_FORM}"
)
# Square brackets may hold bare numbers ([3], [3, 4]); round ones only a sign or a word, as
# "(2017)" or "(3)" in prose is no citation.
_BRACKETED = (
    rf"[\[［【〔]\s*(?:{_INNER})\s*[\]］】〕]"
    rf"|[(（]\s*(?:{_SYMBOL}\s*|{_WORDS}\s*){_NUM}{_END}"
    rf"(?:(?:{_LIST}|{_RANGE})(?:{_SYMBOL}\s*)?{_NUM}{_END})*\s*[)）]"
    rf"|[(（]\s*{_ZH_FORM}\s*[)）]"
)
_MARKER = re.compile(
    rf"(?P<sign>{_BRACKETED}|{_SYMBOL_FORM})|(?P<text>{_ZH_FORM}|(?<!\w){_TEXT_FORM})",
    re.IGNORECASE,
)
_TOKEN = re.compile(rf"{_NUM}|-|–|—|~|～|至|到|\bto\b|\bà\b", re.IGNORECASE)
_RANGE_TOKENS = {"-", "–", "—", "~", "～", "至", "到", "to", "à"}
# A range longer than this is no citation anyone means.
MAX_RANGE = 50


@dataclass(frozen=True)
class Marker:
    """One marker: where it stands, the paragraphs it names, and whether it is a sign
    (brackets, ¶) the bot re-renders or words of the sentence ("paragraph 3", "第3段")."""

    start: int
    end: int
    paragraphs: tuple[int, ...]
    sign: bool


def _numbers(body: str) -> tuple[int, ...]:
    """Paragraph numbers of a marker's text, ranges filled in."""
    out: list[int] = []
    pending = False
    for token in _TOKEN.findall(body):
        if token.lower() in _RANGE_TOKENS:
            pending = bool(out)
            continue
        value = zh_number(token)
        if value is None:
            continue
        if pending and out[-1] < value <= out[-1] + MAX_RANGE:
            out.extend(range(out[-1] + 1, value + 1))
        else:
            out.append(value)
        pending = False
    return tuple(dict.fromkeys(out))


def find_markers(text: str) -> list[Marker]:
    """Every marker in ``text``, in order."""
    found = []
    for m in _MARKER.finditer(text):
        numbers = _numbers(m.group(0))
        if numbers:
            found.append(Marker(m.start(), m.end(), numbers, m.group("sign") is not None))
    return found


def cited(text: str) -> list[int]:
    """Paragraph numbers ``text`` cites, in order of first mention."""
    return list(dict.fromkeys(n for m in find_markers(text) for n in m.paragraphs))


def render(paragraphs: tuple[int, ...] | list[int]) -> str:
    """The bot's own marker: ``[¶3][¶13]``."""
    return "".join(f"[¶{n}]" for n in paragraphs)


def without_markers(text: str, words_too: bool = True) -> str:
    """``text`` with its marker signs (and, by default, its textual references) removed."""
    out, last = [], 0
    for m in find_markers(text):
        if m.sign or words_too:
            out.append(text[last : m.start])
            out.append(" ")
            last = m.end
    out.append(text[last:])
    return "".join(out)


def rerender(text: str) -> str:
    """``text`` with each marker sign in the bot's own form; textual references stay words."""
    out, last = [], 0
    for m in find_markers(text):
        if not m.sign:
            continue
        before = text[last : m.start].rstrip(" \t")
        out.append(before + (" " if before and not before[-1].isspace() else ""))
        out.append(render(m.paragraphs))
        last = m.end
    out.append(text[last:])
    return _tidy("".join(out))


def _tidy(text: str) -> str:
    text = re.sub(r"[ \t]{2,}", " ", text)
    # No space before closing punctuation; none between a Chinese character and a marker.
    text = re.sub(r"[ \t]+([。，.,;；:：!?！？)）])", r"\1", text)
    text = re.sub(r"(?<=[\u3400-\u9fff。，；：）])\s+(?=\[¶)", "", text)
    return text.strip()
