"""Entities the statement names (resolutions, dates, bodies, treaties, places, numbers), per
language version and paragraph, for list answers that quote each item where it stands.

Resolution symbols and dates are found by patterns, the rest through a gazetteer; both are
data in ``dict/entities.toml``. Every entity's ``text`` is a literal slice of its paragraph.
"""

from __future__ import annotations

import itertools
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from retrieval.corpus import Document

KINDS = ("resolution", "date", "body", "treaty", "place", "number")
# An Arabic form may carry a one-letter proclitic (and, so, with, for, like) before it.
_AR_PROCLITIC = "(?:[وفبلك])?"


@dataclass(frozen=True)
class Entity:
    """One mention of a named thing in one paragraph of one language version."""

    kind: str  # "resolution" | "date" | "body" | "treaty" | "place" | "number"
    key: str  # language-independent: "67/39", "2013-09-26", "conference-on-disarmament"
    text: str  # the surface form exactly as it stands in that paragraph of that version
    paragraph: int
    lang: str


@dataclass(frozen=True)
class _Found:
    kind: str
    key: str
    start: int
    end: int


@cache
def _data() -> dict[str, Any]:
    text = (resources.files("retrieval") / "dict" / "entities.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def _form_regex(form: str, lang: str) -> str:
    """A gazetteer form as a regex: ``*`` a word ending, spaces any white space."""
    parts = [re.escape(piece) for piece in form.split("*")]
    body = r"\w*".join(parts)
    space = r"\s*" if lang == "zh" else r"\s+"
    body = re.sub(r"(?:\\ )+", lambda _: space, body)
    if lang == "zh":
        return f"(?P<t>{body})"
    if lang == "ar":
        # A form led by the article also appears after the preposition li- as لل….
        if form.startswith("ال"):
            body = f"(?:{body}|{re.escape('لل' + form[2:]).replace(chr(92) + ' ', space)})"
        return rf"(?<!\w){_AR_PROCLITIC}(?P<t>{body})(?!\w)"
    return rf"(?<!\w)(?P<t>{body})(?!\w)"


@cache
def _gazetteer(lang: str) -> tuple[tuple[str, str, re.Pattern[str]], ...]:
    """(kind, key, pattern) for every form of every gazetteer entry in ``lang``."""
    entries: list[tuple[str, str, re.Pattern[str]]] = []
    for key, entry in _data()["gazetteer"].items():
        for form in entry.get(lang, []):
            pattern = re.compile(_form_regex(form, lang), re.IGNORECASE)
            entries.append((entry["kind"], key, pattern))
    return tuple(entries)


@cache
def _patterns(lang: str) -> dict[str, re.Pattern[str]]:
    table = _data()["patterns"].get(lang) or _data()["patterns"]["en"]
    months = "|".join(f"(?:{m})" for m in _data()["months"].get(lang, []))
    date = table["date"].replace("{M}", months)
    return {
        "resolution": re.compile(table["resolution"]),
        "date": re.compile(date, re.IGNORECASE),
        "year": re.compile(table["year"]),
        "joiner": re.compile(table["joiner"], re.IGNORECASE),
    }


def _month(name: str | None, lang: str) -> int | None:
    """A month name or number (Chinese) as 1-12."""
    if not name:
        return None
    if name.isdigit():
        value = int(name)
        return value if 1 <= value <= 12 else None
    for number, pattern in enumerate(_data()["months"].get(lang, []), start=1):
        if re.fullmatch(pattern, name, re.IGNORECASE):
            return number
    return None


@dataclass
class _DatePhrase:
    start: int
    end: int
    days: tuple[tuple[int, int], tuple[int, int]]  # (month, day) first and last
    year: str | None


def _date_phrases(text: str, lang: str) -> list[_DatePhrase]:
    phrases: list[_DatePhrase] = []
    for match in _patterns(lang)["date"].finditer(text):
        groups = match.groupdict()
        start_month = _month(groups["sm"] or groups["em"], lang)
        end_month = _month(groups["em"] or groups["sm"], lang)
        start_day = groups["sd"] or groups["ed"]
        end_day = groups["ed"] or groups["sd"]
        if not (start_month and end_month and start_day and end_day):
            continue
        days = ((start_month, int(start_day)), (end_month, int(end_day)))
        if not all(1 <= day <= 31 for _, day in days):
            continue
        phrases.append(_DatePhrase(match.start(), match.end(), days, groups["y"]))
    # A phrase without a year takes the year of its neighbour when only "and"/"from" joins them.
    joiner = _patterns(lang)["joiner"]
    from_previous = _data()["patterns"]["year_from"].get(lang, "next") == "previous"
    order = phrases if from_previous else list(reversed(phrases))
    for before, after in itertools.pairwise(order):
        if after.year is None and before.year is not None:
            left, right = (before, after) if from_previous else (after, before)
            if joiner.match(text[left.end : right.start]):
                after.year = before.year
    return phrases


def _date_key(phrase: _DatePhrase) -> str:
    year = phrase.year or "-"
    first, last = (f"{year}-{m:02d}-{d:02d}" for m, d in phrase.days)
    return first if first == last else f"{first}/{last}"


def _find(text: str, lang: str) -> list[_Found]:
    """Every entity in one paragraph, overlaps settled within each kind (longest first)."""
    found: list[_Found] = []
    patterns = _patterns(lang)
    for match in patterns["resolution"].finditer(text):
        found.append(_Found("resolution", match.group("key"), match.start(), match.end()))
    phrases = _date_phrases(text, lang)
    for phrase in phrases:
        found.append(_Found("date", _date_key(phrase), phrase.start, phrase.end))
    taken = [(p.start, p.end) for p in phrases] + [
        (f.start, f.end) for f in found if f.kind == "resolution"
    ]
    for match in patterns["year"].finditer(text):
        if all(match.end() <= s or match.start() >= e for s, e in taken):
            found.append(_Found("date", match.group("y"), match.start(), match.end()))
    candidates: dict[str, list[_Found]] = {}
    for kind, key, pattern in _gazetteer(lang):
        for match in pattern.finditer(text):
            item = _Found(kind, key, match.start("t"), match.end("t"))
            candidates.setdefault(kind, []).append(item)
    for items in candidates.values():
        kept: list[_Found] = []
        for item in sorted(items, key=lambda f: (f.start, -(f.end - f.start))):
            if all(item.end <= k.start or item.start >= k.end for k in kept):
                kept.append(item)
        found.extend(kept)
    return sorted(found, key=lambda f: (f.start, f.end))


class EntityIndex:
    """Every entity of every language version of ``document``, built once."""

    def __init__(self, document: Document) -> None:
        self._by_lang: dict[str, list[Entity]] = {}
        for lang, version in document.versions.items():
            entities: list[Entity] = []
            for number in sorted(version.paragraphs):
                text = version.paragraphs[number]
                seen: set[tuple[str, str]] = set()
                for item in _find(text, lang):
                    if (item.kind, item.key) in seen:
                        continue
                    seen.add((item.kind, item.key))
                    entities.append(
                        Entity(item.kind, item.key, text[item.start : item.end], number, lang)
                    )
            self._by_lang[lang] = entities
        self._fallback = "en" if "en" in self._by_lang else next(iter(self._by_lang), "en")

    def languages(self) -> tuple[str, ...]:
        """The language versions indexed."""
        return tuple(self._by_lang)

    def _entities(self, lang: str) -> list[Entity]:
        return self._by_lang.get(lang) or self._by_lang.get(self._fallback, [])

    def items(self, kind: str, lang: str) -> list[Entity]:
        """Entities of ``kind`` in paragraph order, one per (key, paragraph); the English
        version's when ``lang`` has no version."""
        return [e for e in self._entities(lang) if e.kind == kind]

    def kinds(self) -> tuple[str, ...]:
        """The kinds that have at least one entity, in a fixed order."""
        present = {e.kind for entities in self._by_lang.values() for e in entities}
        return tuple(kind for kind in KINDS if kind in present)

    def paragraphs_of(self, key: str, lang: str | None = None) -> list[int]:
        """The paragraphs that name ``key`` (in ``lang``'s version, or in any version)."""
        pools = [self._entities(lang)] if lang else list(self._by_lang.values())
        return sorted({e.paragraph for pool in pools for e in pool if e.key == key})

    def keys(self, kind: str, lang: str | None = None) -> list[str]:
        """The distinct keys of ``kind`` in order of first mention."""
        pool = self._entities(lang or self._fallback)
        return list(dict.fromkeys(e.key for e in pool if e.kind == kind))

    @staticmethod
    def proposed(key: str) -> bool:
        """True for an instrument called for or under negotiation, not one in force."""
        entry = _data()["gazetteer"].get(key, {})
        return bool(entry.get("proposed", False))
