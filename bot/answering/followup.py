"""Follow-ups: a question read against the chat's earlier turns. "In which year?",
"什么时候开？" or "why?" lean on the last topic; "and about X?" moves to X; "which paragraph
was that?", "tell me more" and "in English please" are about the last answer itself."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from bot.answering.question import Question
from retrieval.analyze import terms
from retrieval.refs import find_references, strip_references

Patterns = tuple[re.Pattern[str], ...]


@lru_cache(maxsize=1)
def _cues() -> dict[str, object]:
    text = (resources.files("bot.answering") / "cues.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


@lru_cache(maxsize=64)
def cue_patterns(*path: str) -> Patterns:
    """Every language's patterns under ``path`` of cues.toml (a question may mix languages:
    "in English please" is a cue whatever the chat's language)."""
    table: object = _cues()
    for key in path:
        assert isinstance(table, dict)
        table = table[key]
    assert isinstance(table, dict)
    return tuple(re.compile(p, re.IGNORECASE) for pats in table.values() for p in pats)


def cue(text: str, *path: str) -> re.Match[str] | None:
    """The first match of a cue in ``text``, or None."""
    for pattern in cue_patterns(*path):
        found = pattern.search(text)
        if found:
            return found
    return None


def languages_offered() -> tuple[str, ...]:
    table = _cues()["language"]
    assert isinstance(table, dict)
    return tuple(table)


@dataclass(frozen=True)
class Resolved:
    """How the engine reads a question in its conversation."""

    # new: a question of its own · lean: completed from the last topic · shift: the last
    # kind of question about a new topic · which_paragraph / more / language: about the last
    # answer itself
    intent: str
    standalone: str
    # The paragraphs the conversation is about: preferred when they rank near the top.
    focus: tuple[int, ...] = ()
    lang: str | None = None


# A question with fewer content terms of its own (besides "when", "where" …) than this leans
# on the last topic; with more, a question the statement covers by itself is a new question.
_OWN_TERMS = 2


def resolve(q: Question, covered: Callable[[str], bool]) -> Resolved:
    """Read ``q`` against its history; ``covered`` says whether the statement covers a text."""
    text = q.text
    if not q.history or find_references(text):
        return Resolved("new", text)
    last = q.history[-1]
    topic = strip_references(last.topic or last.question)
    if not any(ch.isalnum() for ch in topic):
        topic = ""  # "/para 7": the paragraph is the topic (``focus``), not the words
    focus = tuple(last.paragraphs)
    for code in languages_offered():
        if cue(text, "language", code):
            return Resolved("language", topic, focus, code)
    if focus and cue(text, "which_paragraph"):
        return Resolved("which_paragraph", topic, focus)
    if focus and cue(text, "more"):
        return Resolved("more", topic, focus)
    shifted = cue(text, "shift")
    if shifted and not _points_back(shifted.group("topic")):
        return Resolved("shift", shifted.group("topic").strip(" ?？.。!！¿"))
    own = terms(_without_asks(text))
    leans = (
        bool(cue(text, "why")) or _points_back(text) or len(own) < _OWN_TERMS or not covered(text)
    )
    if not leans:
        return Resolved("new", text)
    return Resolved("lean", f"{text} {topic}".strip(), focus)


def _without_asks(text: str) -> str:
    """``text`` without what it asks for ("in which year", "什么时候"): the rest is its topic."""
    for kind in ("date", "place", "number"):
        for pattern in cue_patterns("asks", kind):
            text = pattern.sub(" ", text)
    return text


_POINTER = re.compile(
    r"\b(?:it|its|they|them|their|this|that|these|those|there|he|she|him|her)\b"
    r"|^(?:那|那么|那个|它|它们|其|该|此)|[它其该此](?!外)|(?:这|那)(?:个|些|项|段|份|条|次|里|时)"
    r"|\b(?:il|elle|ils|elles|cela|ça|ce|cette|ces|celui|celle)\b"
    r"|\b(?:él|ella|ellos|ellas|eso|esto|esa|ese|esta|este|esos|esas|estos|estas|allí|ahí|su|sus)\b"
    r"|\b(?:он|она|оно|они|его|её|ее|их|это|этот|эта|эти|этого|этой|том|там|тогда)\b"
    r"|(?:^|\s)(?:هو|هي|هم|ذلك|تلك|هذا|هذه|هناك)(?:\s|$)",
    re.IGNORECASE,
)


# "This statement", "the Group": the document itself, whatever the conversation is about.
_THE_DOCUMENT = re.compile(
    r"\b(?:this|that|the)\s+(?:statement|declaration|document|text|group)\b"
    r"|(?:这|该|此|本)(?:份|个)?(?:声明|文件|文本|集团)"
    r"|\b(?:cette|ce|la|le)\s+(?:déclaration|document|texte|groupe)\b"
    r"|\b(?:esta|este|la|el)\s+(?:declaración|documento|texto|grupo)\b"
    r"|\b(?:это|этом|этого|эта|этой|этот)\s+(?:заявлени\w*|документ\w*|текст\w*|групп\w*)"
    r"|(?:هذا|هذه)\s+(?:البيان|الوثيقة|المجموعة)",
    re.IGNORECASE,
)


def _points_back(text: str) -> bool:
    """True when ``text`` names something only the earlier turns can tell (a pronoun)."""
    return bool(_POINTER.search(_THE_DOCUMENT.sub(" ", text)))
