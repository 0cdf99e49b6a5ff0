"""What a sentence or a paragraph says, in the terms the grounding checks compare: folded
words and their stems, numbers, Chinese words, per reply language (lists in grounding.toml)."""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

import Stemmer

from retrieval.analyze import EN_STOP, ZH_STOP, zh_terms
from retrieval.text import HAN_RUN

_STEMMERS = {"en": "english", "fr": "french", "es": "spanish", "ru": "russian", "ar": "arabic"}
_ARABIC_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_ARABIC_LETTERS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه"})
_EASTERN_DIGITS = str.maketrans(
    {chr(base + i): str(i) for base in (0x0660, 0x06F0) for i in range(10)}
)
WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*|\d+(?:[/.,:]\d+)*")
_NUMBER_RUN = re.compile(r"\d+(?:[/.,:\-–]\d+)*")


@dataclass(frozen=True)
class Words:
    """The word lists of one reply language, folded (see ``grounding.toml``)."""

    lang: str
    function: frozenset[str]
    negation: frozenset[str]
    modal: frozenset[str]
    phrases: tuple[str, ...]
    reversal: frozenset[str]
    prohibitive: frozenset[str]
    obligation: frozenset[str]
    obligation_modals: frozenset[str]
    praise: frozenset[str]
    blame: frozenset[str]
    fixed: re.Pattern[str]
    months: frozenset[str]
    bodies: frozenset[str]
    numbers: Mapping[str, int]
    abbreviations: frozenset[str]
    submitter: re.Pattern[str]


def fold(word: str, lang: str) -> str:
    """A word as the checks compare it: case, accents and Arabic spelling variants folded."""
    word = unicodedata.normalize("NFKC", word).casefold().replace("’", "'")
    if lang == "ar":
        return _ARABIC_MARKS.sub("", word).translate(_ARABIC_LETTERS)
    if lang == "ru":
        return word.replace("ё", "е")
    decomposed = unicodedata.normalize("NFD", word)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@cache
def _table() -> dict[str, dict[str, object]]:
    text = (resources.files("bot.answering") / "grounding.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


@cache
def words(lang: str) -> Words:
    """The word lists of ``lang`` (English for a language without its own)."""
    table = _table()
    lang = lang if lang in table else "en"
    entry = table[lang]

    def listed(key: str) -> set[str]:
        return {fold(w.replace("_", " "), lang) for w in str(entry.get(key, "")).split()}

    function = listed("function") | (
        EN_STOP if lang == "en" else ZH_STOP if lang == "zh" else set()
    )
    stance = listed("negation") | listed("modal")
    numbers = {}
    for item in listed("numbers"):
        name, _, value = item.partition(":")
        numbers[name] = int(value)
    patterns = entry.get("submitter") or []
    assert isinstance(patterns, list)
    fixed = [r"\s+".join(map(re.escape, f.split("_"))) for f in str(entry.get("fixed", "")).split()]
    return Words(
        lang=lang,
        function=frozenset(function - stance - listed("reversal")),
        negation=frozenset(w for w in listed("negation") if " " not in w),
        modal=frozenset(w for w in listed("modal") if " " not in w),
        phrases=tuple(sorted(w for w in stance if " " in w)),
        reversal=frozenset(listed("reversal")),
        prohibitive=frozenset(listed("prohibitive")),
        obligation=frozenset(listed("obligation")),
        obligation_modals=frozenset(listed("obligation_modals")),
        praise=frozenset(listed("praise")),
        blame=frozenset(listed("blame")),
        fixed=re.compile("|".join(fixed) or r"(?!)", re.IGNORECASE),
        months=frozenset(listed("months")),
        bodies=frozenset(_phrase(b, lang) for b in listed("bodies")),
        numbers=numbers,
        abbreviations=frozenset(listed("abbreviations")),
        submitter=re.compile("|".join(str(p) for p in patterns) or r"(?!)", re.IGNORECASE),
    )


def _phrase(text: str, lang: str) -> str:
    """A phrase as ``Profile.folded`` holds it (folded words and parts, single spaces);
    Chinese as written."""
    if HAN_RUN.search(text):
        return text
    return " ".join(fold(p, lang) for t in tokens(text, lang) for p in parts(t))


@cache
def aliases() -> dict[str, tuple[str, ...]]:
    """Short names and their expansions, from retrieval's alias table (every language)."""
    text = (resources.files("retrieval") / "dict" / "aliases.toml").read_text(encoding="utf-8")
    out: dict[str, list[str]] = {}
    for entries in tomllib.loads(text).values():
        for key, value in entries.items():
            out.setdefault(fold(key, "en"), []).append(str(value))
    return {k: tuple(v) for k, v in out.items()}


@cache
def _stemmer(lang: str) -> Stemmer.Stemmer:
    return Stemmer.Stemmer(_STEMMERS.get(lang, "english"))


@lru_cache(maxsize=65536)
def stem(word: str, lang: str) -> str:
    """The folded stem of one word (English rules for Latin words inside Chinese)."""
    raw = unicodedata.normalize("NFKC", word).casefold()
    return fold(_stemmer(lang if lang in _STEMMERS else "en").stemWord(raw), lang)


def normalise(text: str) -> str:
    """NFKC, Western digits, no Arabic vowel marks: the form every check reads."""
    text = unicodedata.normalize("NFKC", text).translate(_EASTERN_DIGITS)
    return _ARABIC_MARKS.sub("", text)


def plain(text: str, lang: str) -> str:
    """``text`` without the submitter's name (the document's author, no claim of a
    paragraph) and without fixed phrases that hold a negation word but negate nothing."""
    w = words(lang)
    return w.fixed.sub(" ", w.submitter.sub(" ", normalise(text)))


def tokens(text: str, lang: str) -> list[str]:
    """Words of alphabetic scripts, numbers as written (French and Spanish elisions and
    English possessives cut off)."""
    out: list[str] = []
    for word in WORD.findall(HAN_RUN.sub(" ", text)):
        if lang in ("fr", "es"):
            out.extend(p for p in re.split(r"['’]", word) if p)
        else:
            out.append(re.sub(r"['’]s$", "", word) if lang == "en" else word)
    return out


def parts(token: str) -> list[str]:
    """A hyphenated word's parts (content is compared part by part)."""
    return [p for p in token.split("-") if p] if not token[:1].isdigit() else [token]


def _number(token: str) -> str:
    return str(int(token)) if token.isdigit() else token


@dataclass(frozen=True)
class Profile:
    """The parts of a text the checks compare."""

    # Words of alphabetic scripts, folded, in order (a hyphenated word's parts apart), their
    # stems, and for each the number of the word it is part of.
    tokens: tuple[str, ...]
    stems: tuple[str, ...]
    word_of: tuple[int, ...]
    numbers: frozenset[str]
    # The Chinese characters of the text, and its Chinese content words in order.
    han: str
    han_terms: tuple[str, ...]
    # The folded words joined by single spaces, padded (phrase look-ups).
    folded: str


@lru_cache(maxsize=4096)
def profile(text: str, lang: str) -> Profile:
    """What ``text`` (in ``lang``) is made of, for the checks."""
    text = normalise(text)
    folded_tokens: list[str] = []
    word_of: list[int] = []
    numbers: set[str] = set()
    for i, token in enumerate(tokens(text, lang)):
        if token[:1].isdigit():
            continue
        for part in parts(token):
            folded_tokens.append(fold(part, lang))
            word_of.append(i)
    for run in _NUMBER_RUN.findall(text):
        # "67/39" is one symbol; "28-29 January" two days.
        numbers.update(_number(p) for p in re.split(r"[-–]", run) if p)
    han = "".join(HAN_RUN.findall(text))
    terms = tuple(t for run in HAN_RUN.findall(text) for t in zh_terms(run)) if han else ()
    return Profile(
        tokens=tuple(folded_tokens),
        stems=tuple(stem(t, lang) for t in folded_tokens),
        word_of=tuple(word_of),
        numbers=frozenset(numbers),
        han=han,
        han_terms=terms,
        folded=" " + " ".join(folded_tokens) + " ",
    )
