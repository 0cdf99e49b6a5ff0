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

# Arabic-Indic (٠-٩) and Persian (۰-۹) digits.
_ARABIC_DIGITS = {chr(base + i): str(i) for base in (0x0660, 0x06F0) for i in range(10)}

_ZH_SENTENCE_END = re.compile(r"(?<=[。；！？!?;])")
_EN_SENTENCE_END = re.compile(r"(?<=[.;!?])\s+(?=[\"“(\[A-Z0-9])|(?<=;)\s+")
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")


def is_cjk(ch: str) -> bool:
    """True for a character of a script written without spaces between words."""
    return bool(CJK_CHAR.match(ch))


def has_han(text: str) -> bool:
    """True when the text holds at least one Chinese character."""
    return bool(HAN_RUN.search(text))


def fold_accents(text: str) -> str:
    """Lower-case without accents (``Désarmement`` → ``desarmement``): French and Spanish
    questions typed on a phone often leave the accents out."""
    decomposed = unicodedata.normalize("NFD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


_ARABIC_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_ARABIC_LETTERS = str.maketrans(
    {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", **_ARABIC_DIGITS}
)


def normalise_arabic(text: str) -> str:
    """One spelling per Arabic word: no vowel marks or tatweel, one alef, ى → ي, ة → ه,
    Arabic-Indic digits as 0-9 (the usual normalisation of Arabic search)."""
    return _ARABIC_MARKS.sub("", text).translate(_ARABIC_LETTERS)


# Other languages: after . ; ! ? (and Arabic ؟ ؛) and a space, unless a lower-case letter
# follows (the English pattern's capital letters are ASCII; Arabic has no case at all).
_SENTENCE_END = re.compile(r"(?<=[.;!?؟؛])\s+")


# A full stop after one of these ends an abbreviation, not a sentence ("Mr. President",
# "No. 5", "U.N.", "e.g.", "art. VI", "M. le Président", "Sr.", "г.", "т.е.").
_ABBREVIATION = re.compile(
    r"(?:^|[\s(])(?:Mr|Mrs|Ms|Dr|Prof|No|Nos|Nr|Art|art|para|paras|Para|vol|p|pp|St|vs|cf|Sr|Sra|"
    r"Dra|núm|Núm|M|MM|Mme|Mlle|n°|г|гг|ст|п|т\.е|т\.д|т\.п|e\.g|i\.e|U\.N|U\.S|etc)\.$"
)


def split_sentences(text: str, lang: str) -> list[str]:
    """Split a paragraph at sentence ends (。；！？ for Chinese, .;!? for the others), never
    after an abbreviation."""
    if lang == "zh":
        return [p.strip() for p in _ZH_SENTENCE_END.split(text) if p.strip()]
    pattern = _EN_SENTENCE_END if lang == "en" else _SENTENCE_END
    sentences: list[str] = []
    for piece in pattern.split(text):
        piece = piece.strip()
        if not piece:
            continue
        joins = bool(sentences) and bool(_ABBREVIATION.search(sentences[-1]))
        if lang != "en" and sentences and piece[0].islower() and not sentences[-1].endswith(";"):
            joins = True
        if joins:
            sentences[-1] = f"{sentences[-1]} {piece}"
        else:
            sentences.append(piece)
    return sentences


def clean_user_text(text: str) -> str:
    """NFKC-normalise, drop zero-width and direction marks, fold runs of white space."""
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    return re.sub(r"\s+", " ", text).strip()
