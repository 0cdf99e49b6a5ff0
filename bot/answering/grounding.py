"""Sentence-level grounding of a generated answer: a sentence reaches the user only when it
cites a paragraph with a verified quote and says nothing that paragraph does not say.

Pure functions over text and a ``Document``; the LLM composer runs them on the final answer
and on each sentence of a draft as it completes. The support rules are in ``support.py``."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from bot.answering.claims import fold, normalise, tokens, words
from bot.answering.markers import cited, find_markers, render, rerender, without_markers
from bot.answering.support import QUOTES, unsupported
from retrieval.corpus import Document
from retrieval.text import HAN_RUN, split_sentences

# Words of four letters or more (alphabetic scripts), or Chinese characters, a quote needs.
MIN_QUOTE_WORDS = 3
MIN_QUOTE_HAN = 6

_BULLET = re.compile(r"^\s*(?:[-•*·▪–—]|\d{1,2}[.)、]|[a-z][.)])\s+")
_MARKERISH = re.compile(r"^[\s\[\]［］【】〔〕()（）¶§\d,，、;；&\-–—~.。:：]*$")
_OTHER_END = re.compile(r"(?<=[.;!?؟؛])\s+")


# --- sentences --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One line of an answer: its list prefix ("- ", "2. ") and its sentences."""

    prefix: str
    sentences: tuple[str, ...]


def _ends_with_abbreviation(sentence: str, lang: str) -> bool:
    last = sentence.split()[-1] if sentence.split() else ""
    return fold(last, lang) in words(lang).abbreviations


def sentences(text: str, lang: str) -> list[str]:
    """``split_sentences``, also cutting after . ; ! ? ؟ ؛ and a space where no lower-case
    letter follows (the languages whose capitals are not ASCII, and Arabic, which has none)."""
    if lang in ("zh", "en"):
        return split_sentences(text, lang)
    out: list[str] = []
    for piece in split_sentences(text, lang):
        start = 0
        for m in _OTHER_END.finditer(piece):
            if not piece[m.end() : m.end() + 1].islower():
                out.append(piece[start : m.start()].strip())
                start = m.end()
        out.append(piece[start:].strip())
    return [p for p in out if p]


def split_answer(text: str, lang: str) -> list[Line]:
    """The answer's lines cut into sentences. A marker written after a sentence's end stays
    with that sentence; a sentence never ends after an abbreviation ("Mr.")."""
    joiner = "" if lang == "zh" else " "
    lines = []
    for raw in text.splitlines():
        bullet = _BULLET.match(raw)
        prefix = bullet.group(0).strip() + " " if bullet else ""
        merged: list[str] = []
        for piece in sentences(raw[bullet.end() :] if bullet else raw, lang):
            if merged and (_MARKERISH.match(piece) or _ends_with_abbreviation(merged[-1], lang)):
                merged[-1] += joiner + piece
                continue
            lead = find_markers(piece)
            if merged and lead and lead[0].start == 0 and lead[0].sign and not cited(merged[-1]):
                # "… first. [¶8] Then …": the marker closes the sentence before it.
                merged[-1] += joiner + piece[: lead[0].end]
                piece = piece[lead[0].end :].lstrip()
                if not piece:
                    continue
            merged.append(piece)
        if merged:
            lines.append(Line(prefix, tuple(merged)))
    return lines


def join_lines(lines: Iterable[Line], lang: str) -> str:
    """Lines back into text (sentences joined the way the language writes them)."""
    joiner = "" if lang == "zh" else " "
    return "\n".join(line.prefix + joiner.join(line.sentences) for line in lines if line.sentences)


# --- the checks ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """Whether one sentence may reach the user, and why not when it may not."""

    ok: bool
    reason: str
    paragraphs: tuple[int, ...] = ()
    support: float = 0.0
    # The sentence as the user reads it (the bot's own markers).
    text: str = ""


def check_sentence(
    sentence: str, backed: Mapping[int, Sequence[str]], document: Document, lang: str
) -> Verdict:
    """May ``sentence`` reach the user? ``backed``: the paragraphs the model may cite (shown
    to it, existing) that have a verified quote, with those quotes."""
    paragraphs = tuple(cited(sentence))
    if not paragraphs:
        return Verdict(False, "no_marker")
    if any(n not in backed for n in paragraphs):
        return Verdict(False, "bad_marker", paragraphs)
    reason, share = unsupported(without_markers(sentence), paragraphs, backed, document, lang)
    if reason:
        return Verdict(False, reason, paragraphs, share)
    return Verdict(True, "supported", paragraphs, share, _with_markers(sentence, paragraphs))


def _with_markers(sentence: str, paragraphs: tuple[int, ...]) -> str:
    """The sentence with the bot's own markers; one that cites only in words ("paragraph 3
    says …") gets the marker before its end mark."""
    text = rerender(sentence)
    shown = {n for m in find_markers(text) if m.sign for n in m.paragraphs}
    missing = [n for n in paragraphs if n not in shown]
    if missing:
        end = re.search(r"[.。!?！？;；]+[" + QUOTES + r")）]*\s*$", text)
        at = end.start() if end else len(text)
        head = text[:at].rstrip()
        space = "" if HAN_RUN.search(head[-1:]) else " "
        text = head + space + render(missing) + (end.group(0) if end else "")
    return text


def substantial_quote(quote: str) -> bool:
    """A quote long enough to stand for a claim: several words of four letters or more (in
    any alphabet), or several Chinese characters ("the" is in every paragraph and proves
    nothing)."""
    han = sum(len(r) for r in HAN_RUN.findall(quote))
    if han:
        return han >= MIN_QUOTE_HAN
    words_ = [t for t in tokens(normalise(quote), "fr") if len(t) >= 4 and not t.isdigit()]
    return len(words_) >= MIN_QUOTE_WORDS


# --- whole answers and drafts ------------------------------------------------------------------


@dataclass
class Grounded:
    """The supported part of an answer, ready for the user, and what was dropped."""

    text: str
    paragraphs: list[int]
    kept: int
    dropped: Counter[str] = field(default_factory=Counter)


Check = Callable[[str], Verdict]


def ground(text: str, check: Check, lang: str) -> Grounded:
    """Keep the sentences of ``text`` that ``check`` passes, in their lines."""
    lines: list[Line] = []
    paragraphs: list[int] = []
    dropped: Counter[str] = Counter()
    kept = 0
    for line in split_answer(text, lang):
        sentences = []
        for sentence in line.sentences:
            verdict = check(sentence)
            if verdict.ok:
                sentences.append(verdict.text)
                paragraphs.extend(verdict.paragraphs)
                kept += 1
            else:
                dropped[verdict.reason] += 1
        lines.append(Line(line.prefix, tuple(sentences)))
    return Grounded(join_lines(lines, lang), list(dict.fromkeys(paragraphs)), kept, dropped)


class DraftStream:
    """The verified sentences of an answer still being written, each checked once it is
    complete (the next one has begun, or the answer has ended)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self._decided = 0
        self._kept: list[tuple[int, str, str]] = []  # line, prefix, rendered sentence

    def feed(self, text: str, check: Check, done: bool = False) -> str | None:
        """The draft when ``text`` completed a supported sentence, else None."""
        flat = [
            (i, line.prefix, s)
            for i, line in enumerate(split_answer(text, self.lang))
            for s in line.sentences
        ]
        complete = flat if done else flat[:-1]
        grew = False
        for i, prefix, sentence in complete[self._decided :]:
            verdict = check(sentence)
            if verdict.ok:
                self._kept.append((i, prefix, verdict.text))
                grew = True
        self._decided = max(self._decided, len(complete))
        return self.text if grew else None

    @property
    def text(self) -> str:
        lines: dict[int, Line] = {}
        for i, prefix, sentence in self._kept:
            line = lines.get(i, Line(prefix, ()))
            lines[i] = Line(line.prefix, (*line.sentences, sentence))
        return join_lines(lines.values(), self.lang)
