"""Small text helpers shared by parsing, chunking, search and answering."""

from __future__ import annotations

import re
import unicodedata

# CJK ideographs, CJK punctuation and full-width forms: text in which words are not
# separated by spaces, so a PDF line wrap inside it must join with no space.
_CJK = (
    "\u3000-\u303f"  # CJK symbols and punctuation
    "\u3400-\u4dbf"  # extension A
    "\u4e00-\u9fff"  # unified ideographs
    "\uf900-\ufaff"  # compatibility ideographs
    "\uff00-\uffef"  # full-width forms
    "\u2018-\u201f"  # curly quotes, used as Chinese quotation marks
    "\u2014\u2026"  # dash and ellipsis
)
CJK_CHAR = re.compile(f"[{_CJK}]")
HAN_RUN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")

_ZH_SENTENCE_END = re.compile(r"(?<=[。；！？!?;])")
_EN_SENTENCE_END = re.compile(r"(?<=[.;!?])\s+(?=[\"“(\[A-Z0-9])|(?<=;)\s+")
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")


def is_cjk(ch: str) -> bool:
    """True for a character of a script written without spaces between words."""
    return bool(CJK_CHAR.match(ch))


def has_han(text: str) -> bool:
    """True when the text holds at least one Chinese character."""
    return bool(HAN_RUN.search(text))


def detect_language(text: str) -> str:
    """``zh`` when Chinese characters make up a real share of the letters, else ``en``."""
    han = sum(len(m) for m in HAN_RUN.findall(text))
    latin = len(re.findall(r"[A-Za-z]", text))
    if han == 0:
        return "en"
    # One Chinese character carries about as much as a short English word.
    return "zh" if han * 3 >= latin else "en"


def split_sentences(text: str, lang: str) -> list[str]:
    """Split a paragraph at sentence ends (。；！？ for Chinese, .;!? for English)."""
    pattern = _ZH_SENTENCE_END if lang == "zh" else _EN_SENTENCE_END
    parts = [p.strip() for p in pattern.split(text)]
    return [p for p in parts if p]


def clean_user_text(text: str) -> str:
    """NFKC-normalise, drop zero-width and direction marks, fold runs of white space."""
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    return re.sub(r"\s+", " ", text).strip()
