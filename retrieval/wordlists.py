"""Word lists kept as data in ``retrieval/dict/``, each in the form its analyzer compares."""

from __future__ import annotations

from functools import cache
from importlib import resources

from retrieval.text import fold_accents, normalise_arabic


def read_words(name: str) -> list[str]:
    """Non-empty, non-comment lines of ``retrieval/dict/<name>``."""
    text = (resources.files("retrieval") / "dict" / name).read_text(encoding="utf-8")
    return [w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#")]


def comparable(word: str, lang: str) -> str:
    """A word as the analyzer of ``lang`` compares it with a stop list."""
    if lang in ("fr", "es"):
        return fold_accents(word)
    if lang == "ru":
        return word.casefold().replace("ё", "е")
    if lang == "ar":
        return normalise_arabic(word)
    return word.lower()


@cache
def stopwords(lang: str) -> frozenset[str]:
    """Words that say nothing about a topic in ``lang`` (empty for a language with no list)."""
    try:
        words = read_words(f"stopwords.{lang}.txt")
    except FileNotFoundError:
        return frozenset()
    return frozenset(comparable(w, lang) for w in words)
