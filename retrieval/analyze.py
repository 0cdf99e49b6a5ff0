"""Turning text into terms, per script and language: jieba words for Chinese, Snowball stems
for English, French, Spanish, Russian and (after normalisation) Arabic.

BM25, the hashing embeddings and the relevance gate all read text through here, so a
question and the statement are always cut the same way."""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from importlib import resources

import jieba
import Stemmer

from retrieval.text import HAN_RUN, fold_accents, normalise_arabic
from retrieval.wordlists import stopwords

_LATIN_OR_NUMBER = re.compile(r"[A-Za-z]+(?:['’][a-z]+)?|\d+(?:[/.]\d+)*")
_LATIN_LETTERS = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"
_ARABIC_LETTERS = "\u0620-\u065f\u0670-\u06d3\u06d5\u08a0-\u08ff"
_SEGMENT = re.compile(
    r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)"
    r"|([\u0400-\u052f]+(?:-[\u0400-\u052f]+)*)"
    rf"|([{_ARABIC_LETTERS}]+)"
    rf"|([{_LATIN_LETTERS}0-9'’/.-]+)"
)
# A word of a Latin-script language other than English: accented letters, and French
# elisions (l', d', qu') cut off as their own (stop) words.
_ROMANCE_WORD = re.compile(rf"[{_LATIN_LETTERS}]+['’]?|\d+(?:[/.]\d+)*")
_ROMANCE_LANGS = {"fr": "french", "es": "spanish"}


def _word_list(name: str) -> frozenset[str]:
    text = (resources.files("retrieval") / "dict" / name).read_text(encoding="utf-8")
    return frozenset(w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#"))


# Words that say nothing about the topic of a question or a paragraph.
ZH_STOP = _word_list("stopwords.zh.txt")
EN_STOP = _word_list("stopwords.en.txt")

# The submitter's name is in nearly every question and many paragraphs: pure noise. (Not
# `\bG-21\b`: in "G-21认为" no word boundary follows the 1.)
_SUBMITTER = re.compile(
    r"(?<![A-Za-z0-9])G-?21(?![0-9])|\bGroup of 21\b|21\s*国集团|二十一国集团"
    r"|\bGroupe des 21\b|\bGrupo de los 21\b"
    r"|Групп[аыеуой]{1,2}\s*(?:G-?)?21\b|Г-21|مجموعة\s*الـ?\s*21",
    re.IGNORECASE,
)

_STEMMER = Stemmer.Stemmer("english")


@lru_cache(maxsize=8)
def _stemmer(algorithm: str) -> Stemmer.Stemmer:
    """One Snowball stemmer per language (a stemmer object is small and reused)."""
    return Stemmer.Stemmer(algorithm)


@lru_cache(maxsize=1)
def _jieba() -> jieba.Tokenizer:
    """A private jieba tokenizer with the domain dictionary (loaded once, lazily)."""
    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    # Domain words carry a high count so they win over jieba's general-language splits.
    domain = (resources.files("retrieval") / "dict" / "domain.txt").read_text(encoding="utf-8")
    for line in domain.splitlines():
        word, _, rest = line.partition(" ")
        if word:
            tokenizer.add_word(word, int(rest.split()[0]) if rest else None)
    return tokenizer


def warm_up() -> None:
    """Load jieba's dictionary now rather than on the first question."""
    _jieba()


def release() -> None:
    """Drop jieba's dictionary (about 65 MB) and the term cache; the next cut loads them
    again. For a one-shot ingest, once everything is embedded and before Chroma's index
    grows: the two then never hold memory at the same time."""
    _terms.cache_clear()
    _jieba.cache_clear()


def zh_terms(run: str) -> list[str]:
    words = _jieba().lcut_for_search(run)
    return [w for w in words if w.strip() and w not in ZH_STOP]


_HYPHENATED = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)+")


def en_terms(run: str) -> list[str]:
    # Possessive off before the stop list: "Group's" and "What's" are stop words too.
    words = [w.lower().replace("’", "'").removesuffix("'s") for w in _LATIN_OR_NUMBER.findall(run)]
    # `non-proliferation` also as `nonproliferation`, so both spellings meet.
    words += [h.replace("-", "").lower() for h in _HYPHENATED.findall(run)]
    words = [w for w in words if w and w not in EN_STOP]
    return [w if w[0].isdigit() else _STEMMER.stemWord(w) for w in words if len(w) > 1]


_ROMANCE_HYPHENATED = re.compile(rf"[{_LATIN_LETTERS}]+(?:-[{_LATIN_LETTERS}]+)+")


def romance_terms(run: str, lang: str) -> list[str]:
    """French or Spanish, without accents: phone users often leave them out. Folding before
    stemming conflated the statement's words as well as stemming the accented forms (336 vs
    335 stems in French, 319 vs 320 in Spanish) and an unaccented question then meets every
    one of them, where stemming first missed 18 French and 4 Spanish words (humanité,
    sécurité, también …)."""
    stop = stopwords(lang)
    stemmer = _stemmer(_ROMANCE_LANGS[lang])
    words = [w.rstrip("'’").lower() for w in _ROMANCE_WORD.findall(run)]
    # `non-prolifération` also as `nonprolifération`, as in English; not `est-elle` or
    # `a-t-il`, all of whose parts are stop words.
    for hyphenated in _ROMANCE_HYPHENATED.findall(run):
        parts = [fold_accents(p) for p in hyphenated.split("-")]
        if not all(p in stop or len(p) < 2 for p in parts):
            words.append("".join(parts))
    out = []
    for word in words:
        folded = fold_accents(word)
        if len(folded) < 2 or folded in stop:
            continue
        out.append(folded if folded[0].isdigit() else stemmer.stemWord(folded))
    return out


def ru_terms(run: str) -> list[str]:
    """Russian: lower case, ё as е, stop words out, Snowball stems."""
    stop = stopwords("ru")
    stemmer = _stemmer("russian")
    out = []
    for part in run.split("-"):  # государства-участники → both words
        word = part.casefold().replace("ё", "е")
        if len(word) > 1 and word not in stop:
            out.append(stemmer.stemWord(word))
    return out


# Prefixes glued to an Arabic word: the article with the conjunctions and prepositions
# before it (وال، بال، كال، فال، لل), then a lone و/ف/ب/ل before the article's remains.
# Snowball's Arabic stemmer strips some of them itself, but unevenly (البيان → الب,
# والشرق unchanged), so they go first, longest first, leaving at least three letters. On
# 18 Arabic questions written for the statement this put the right paragraph first for 16
# (Snowball alone: 14); also cutting a lone و/ف (وتؤكد) changed nothing, and would
# mangle words that start with them (وزير, وقف), so it is not done.
_AR_ARTICLE_PREFIXES = ("وبال", "وال", "بال", "كال", "فال", "لل", "ال")
_AR_MIN_STEM = 3


def strip_arabic_prefixes(word: str) -> str:
    """Definite article and the conjunction/preposition before it off a normalised word."""
    for prefix in _AR_ARTICLE_PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= _AR_MIN_STEM:
            return word[len(prefix) :]
    return word


def ar_terms(run: str) -> list[str]:
    """Arabic: normalised (one alef, ى → ي, ة → ه, no marks), article off, Snowball stems."""
    stop = stopwords("ar")
    stemmer = _stemmer("arabic")
    word = normalise_arabic(run)
    if len(word) < 2 or word in stop:
        return []
    bare = strip_arabic_prefixes(word)
    if bare in stop:
        return []
    return [stemmer.stemWord(bare)]


def terms(text: str, lang: str | None = None, *, cache: bool = True) -> list[str]:
    """Index terms of ``text`` in order. Chinese, Russian and Arabic words are known by
    their script; Latin-script words are stemmed as ``lang`` (``fr``, ``es``; English
    otherwise). ``cache=False`` for text seen once (a corpus being ingested), which would
    only push questions out of the cache."""
    latin = lang if lang in _ROMANCE_LANGS else "en"
    return list(_terms(text, latin) if cache else _cut(text, latin))


@lru_cache(maxsize=8192)
def _terms(text: str, latin: str) -> tuple[str, ...]:
    # Cached: the statement's sentences are cut again for every answer, and a question is
    # cut by the gate, BM25, the embeddings and the sentence scorer.
    return _cut(text, latin)


def _cut(text: str, latin: str) -> tuple[str, ...]:
    out: list[str] = []
    for match in _SEGMENT.finditer(_SUBMITTER.sub(" ", text)):
        han, cyrillic, arabic, other = match.groups()
        if han:
            out.extend(zh_terms(han))
        elif cyrillic:
            out.extend(ru_terms(cyrillic))
        elif arabic:
            out.extend(ar_terms(arabic))
        elif other:
            out.extend(en_terms(other) if latin == "en" else romance_terms(other, latin))
    return tuple(out)


def han_bigrams(text: str) -> list[str]:
    """Overlapping Chinese character bigrams (robust to segmentation differences)."""
    grams: list[str] = []
    for run in HAN_RUN.findall(text):
        grams.extend(run[i : i + 2] for i in range(max(1, len(run) - 1)))
    return grams
