"""What the Group does in a sentence of the statement (supports, welcomes, calls upon …), from a
per-language verb lexicon in ``dict/stance.toml``, so that a reply can lead with "The Group
strongly supports …" and quote the sentence that says so."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

STANCES = (
    "supports",
    "strongly_supports",
    "welcomes",
    "notes",
    "recalls",
    "commends",
    "stresses",
    "reaffirms",
    "recognizes",
    "invites",
    "calls_upon",
    "requests",
    "is_deeply_concerned",
    "believes",
)
# Arabic verbs are written with a proclitic conjunction more often than not (وترحب, وندعو).
_AR_WRAP = r"(?<!\w)(?:[وفل])?(?:{})(?!\w)"


@dataclass(frozen=True)
class StanceMark:
    """One stance verb in a sentence: its key and where it stands."""

    key: str
    text: str
    start: int
    end: int


@cache
def _data() -> dict[str, Any]:
    text = (resources.files("retrieval") / "dict" / "stance.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def _plain(text: str) -> tuple[str, list[int]]:
    """Without Arabic vowel marks (tatweel becomes a space), and each kept character's index."""
    kept = [
        (" " if ch == "\u0640" else ch, i)
        for i, ch in enumerate(text)
        if not ("\u064b" <= ch <= "\u065f" or ch == "\u0670")
    ]
    return "".join(ch for ch, _ in kept), [i for _, i in kept] + [len(text)]


@cache
def _lexicon(lang: str) -> tuple[re.Pattern[str], tuple[tuple[str, re.Pattern[str]], ...]]:
    table = _data().get(lang) or _data()["en"]
    wrap = _AR_WRAP if lang == "ar" else "{}"
    actor = re.compile(_plain(table["actor"])[0], re.IGNORECASE)
    verbs = tuple(
        (key, re.compile(wrap.format(_plain(pattern)[0]), re.IGNORECASE))
        for key, pattern in table["verbs"]
    )
    return actor, verbs


def stances_of(sentence: str, lang: str) -> list[StanceMark]:
    """Every stance the Group takes in ``sentence``, in reading order ([] if not the Group's)."""
    text, origin = _plain(sentence)
    actor, verbs = _lexicon(lang)
    actors = [origin[m.start()] for m in actor.finditer(text)]
    if not actors:
        return []
    marks: list[StanceMark] = []
    for key, pattern in verbs:
        for match in pattern.finditer(text):
            start, end = origin[match.start()], origin[match.end()]
            if all(end <= m.start or start >= m.end for m in marks):
                marks.append(StanceMark(key, sentence[start:end], start, end))
    marks.sort(key=lambda m: m.start)
    directives = set(_data()["directives"])
    kept: list[StanceMark] = []
    asking_from = -1
    for mark in marks:
        renamed = any(asking_from < a < mark.start for a in actors)
        if asking_from >= 0 and mark.key not in directives and not renamed:
            continue
        kept.append(mark)
        if mark.key in directives:
            asking_from = mark.end
    return kept


def stance_of(sentence: str, lang: str, near: str | None = None) -> str | None:
    """The stance key of what the Group does in ``sentence``; with ``near`` (a term of the
    sentence), the stance governing it, i.e. the last one before the term's first mention."""
    marks = stances_of(sentence, lang)
    if not marks:
        return None
    if near:
        # Positions in the sentence itself (case folding may change lengths).
        found = re.search(re.escape(near), sentence, re.IGNORECASE)
        before = [m for m in marks if found and m.start <= found.start()]
        if before:
            return before[-1].key
    return marks[0].key
