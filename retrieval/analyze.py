"""Turning text into terms: jieba words for Chinese, stemmed words for English.

BM25, the hashing embeddings and the relevance gate all read text through here, so a
question and the statement are always cut the same way."""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from importlib import resources

import jieba
import Stemmer

from retrieval.text import HAN_RUN

_LATIN_OR_NUMBER = re.compile(r"[A-Za-z]+(?:['’][a-z]+)?|\d+(?:[/.]\d+)*")
_SEGMENT = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)|([A-Za-z0-9'’/.-]+)")


def _word_list(name: str) -> frozenset[str]:
    text = (resources.files("retrieval") / "dict" / name).read_text(encoding="utf-8")
    return frozenset(w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#"))


# Words that say nothing about the topic of a question or a paragraph.
ZH_STOP = _word_list("stopwords.zh.txt")
EN_STOP = _word_list("stopwords.en.txt")

# The submitter's name is in nearly every question and many paragraphs: pure noise.
_SUBMITTER = re.compile(r"\bG-?21\b|\bGroup of 21\b|21\s*国集团|二十一国集团", re.IGNORECASE)

_STEMMER = Stemmer.Stemmer("english")


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


def terms(text: str, cache: bool = True) -> list[str]:
    """Index terms of mixed Chinese/English text, in order. ``cache=False`` for text seen
    once (a corpus being ingested), which would only push questions out of the cache."""
    return list(_terms(text) if cache else _cut(text))


@lru_cache(maxsize=8192)
def _terms(text: str) -> tuple[str, ...]:
    # Cached: the statement's sentences are cut again for every answer, and a question is
    # cut by the gate, BM25, the embeddings and the sentence scorer.
    return _cut(text)


def _cut(text: str) -> tuple[str, ...]:
    out: list[str] = []
    for match in _SEGMENT.finditer(_SUBMITTER.sub(" ", text)):
        han, latin = match.groups()
        if han:
            out.extend(zh_terms(han))
        elif latin:
            out.extend(en_terms(latin))
    return tuple(out)


def han_bigrams(text: str) -> list[str]:
    """Overlapping Chinese character bigrams (robust to segmentation differences)."""
    grams: list[str] = []
    for run in HAN_RUN.findall(text):
        grams.extend(run[i : i + 2] for i in range(max(1, len(run) - 1)))
    return grams
