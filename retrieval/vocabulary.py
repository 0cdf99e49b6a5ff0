"""A question in the statement's own words: informal words and English typos replaced,
abbreviations and common names expanded (tables in ``retrieval/dict/aliases.toml``)."""

from __future__ import annotations

import re
import tomllib
import unicodedata
import zlib
from collections.abc import Collection
from functools import lru_cache
from importlib import resources

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA

from retrieval.text import normalise_arabic
from retrieval.wordlists import stopwords

Rule = tuple[re.Pattern[str], str]

_HAN_ONLY = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
    )


def comparable_text(text: str, lang: str | None) -> str:
    """The form alias keys of ``lang`` are matched in: French and Spanish without accents
    (case kept, for acronyms), Arabic normalised, Russian with ё as е."""
    if lang in ("fr", "es"):
        return _strip_accents(text)
    if lang == "ar":
        return normalise_arabic(text)
    if lang == "ru":
        return text.replace("ё", "е").replace("Ё", "Е")
    return text


def _pattern(key: str, lang: str) -> re.Pattern[str]:
    """A key as a whole-word pattern; ``*`` ends a word in any way (for inflected forms)."""
    key = comparable_text(key, lang)
    if _HAN_ONLY.fullmatch(key):
        return re.compile(re.escape(key))  # Chinese has no spaces to be whole words by
    body = r"\s+".join(
        re.escape(word.removesuffix("*")) + (r"\w*" if word.endswith("*") else "")
        for word in key.split()
    )
    flags: re.RegexFlag | int = re.IGNORECASE
    if key.isupper():
        # An acronym in capitals, or of three letters or more typed all in lower case
        # ("npt"); two-letter ones only in capitals ("un", "cd", "мс" are other words).
        flags = 0
        if len(key) > 2:
            body = f"(?:{body}|{body.lower()})"
    if key.isascii():
        # As before: a Latin key may touch digits or Chinese, not other Latin letters.
        return re.compile(rf"(?<![A-Za-z]){body}(?![A-Za-z])", flags)
    # Arabic glues و/ف/ب/ل/ك to the next word.
    prefix = "[وفبلك]?" if lang == "ar" else ""
    return re.compile(rf"(?<!\w){prefix}{body}(?!\w)", flags)


@lru_cache(maxsize=1)
def _tables() -> tuple[dict[str, list[Rule]], dict[str, list[Rule]]]:
    """(aliases, informal words), each per language, keys compiled once."""
    text = (resources.files("retrieval") / "dict" / "aliases.toml").read_text(encoding="utf-8")
    table = tomllib.loads(text)
    informal = table.pop("informal", {})

    def compiled(tables: dict[str, dict[str, str]]) -> dict[str, list[Rule]]:
        return {
            lang: [(_pattern(key, lang), value) for key, value in entries.items()]
            for lang, entries in tables.items()
        }

    return compiled(table), compiled(informal)


def alias_keys(lang: str | None = None) -> list[str]:
    """The alias patterns of ``lang`` (of every language when None), as regex source."""
    aliases, _ = _tables()
    langs = [lang] if lang else list(aliases)
    return [rx.pattern for code in langs for rx, _ in aliases.get(code, [])]


def _rules(lang: str | None) -> list[Rule]:
    aliases, _ = _tables()
    if lang is None:
        return [rule for rules in aliases.values() for rule in rules]
    return aliases.get(lang) or aliases.get("en", [])


def expand_aliases(question: str, inline: bool = False, lang: str | None = None) -> str:
    """The question plus the statement's own wording for abbreviations and common names
    (``inline``: each alias replaced by that wording). ``lang``: that language's table
    (English for one without); None: every table, as the question may mix them."""
    rules = _rules(lang)
    if lang is not None:
        question = comparable_text(question, lang)
    if inline:
        for rx, value in rules:
            question = rx.sub(value, question)
        return question
    extra = [value for rx, value in rules if rx.search(question)]
    return " ".join([question, *extra])


def replace_informal(question: str, lang: str) -> str:
    """Informal words ("nukes", "abt") replaced by the statement's own."""
    _, informal = _tables()
    rules = informal.get(lang, [])
    if not rules:
        return question
    question = comparable_text(question, lang)
    for rx, value in rules:
        question = rx.sub(value, question)
    return question


# Typos: only words this long are corrected, and only this far (edits) from a word of the
# statement; shorter words are too often another real word one edit away ("state"/"stage").
_MIN_TYPO_LENGTH = 5
_LONG_WORD = 8
# Real English words are never "corrected": without this guard 1.2-2.3 % of 25,000 common
# words not in the statement became one of its words ("present" → "prevent", "protection"
# → "production", "necessary" → "necessity"), which also made out-of-scope questions look
# covered. The list is symspellpy's English frequency dictionary (82,765 words), kept as
# sorted CRC-32 hashes: 0.3 MB instead of ~7 MB as a set of strings.
_ENGLISH_DICTIONARY = ("symspellpy", "frequency_dictionary_en_82_765.txt")


@lru_cache(maxsize=1)
def _english_hashes() -> np.ndarray:
    package, name = _ENGLISH_DICTIONARY
    with (resources.files(package) / name).open(encoding="utf-8") as lines:
        hashes = np.fromiter(
            (zlib.crc32(line.split(" ", 1)[0].encode()) for line in lines), dtype=np.uint32
        )
    return np.unique(hashes)


def is_english_word(word: str) -> bool:
    """True for a word of the English dictionary (lower case)."""
    hashes = _english_hashes()
    key = np.uint32(zlib.crc32(word.lower().encode()))
    i = int(np.searchsorted(hashes, key))
    return i < len(hashes) and hashes[i] == key


def warm_up() -> None:
    """Load the English dictionary now rather than on the first unknown word."""
    _english_hashes()


_ENGLISH_WORD = re.compile(r"(?<![\w'])[A-Za-z]+(?![\w'])")


def _max_edits(word: str) -> int:
    return 1 if len(word) < _LONG_WORD else 2


def correct_typos(text: str, known: Collection[str], stems: Collection[str] = ()) -> str:
    """English words the statement lacks, replaced by the one statement word within one
    edit (two for words of eight letters or more). ``known``: the statement's words, lower
    case; ``stems``: its terms, so that another form of a known word ("treaties") stays.
    A real English word, a word with two equally near candidates, a stop word, a number,
    or a short word is left as it is."""
    from retrieval.analyze import en_terms  # analyze imports this module's neighbours

    if not known:
        return text
    choices = known if isinstance(known, list) else sorted(known)
    stop = stopwords("en")

    def fix(match: re.Match[str]) -> str:
        word = match.group(0)
        lower = word.lower()
        if len(lower) < _MIN_TYPO_LENGTH or lower in known or lower in stop:
            return word
        if stems and any(t in stems for t in en_terms(lower)):
            return word
        if is_english_word(lower):
            return word
        limit = _max_edits(lower)
        found = process.extract(lower, choices, scorer=OSA.distance, score_cutoff=limit, limit=2)
        if not found or (len(found) == 2 and found[1][1] == found[0][1]):
            return word
        best = str(found[0][0])
        return best.capitalize() if word[0].isupper() else best

    return _ENGLISH_WORD.sub(fix, text)


def respell(text: str, lang: str, known: Collection[str] = (), stems: Collection[str] = ()) -> str:
    """Informal words replaced and, for English, typos corrected against ``known``."""
    text = replace_informal(text, lang)
    return correct_typos(text, known, stems) if lang == "en" else text


def normalise_query(
    text: str, lang: str, known: Collection[str] = (), stems: Collection[str] = ()
) -> str:
    """What is searched for a question in ``lang``: respelled, then aliases appended."""
    return expand_aliases(respell(text, lang, known, stems), lang=lang)
