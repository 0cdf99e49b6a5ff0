"""Question kinds: small talk, overview, metadata, list, stance or factoid, from cues in data.

The cues live in ``lexicon.toml`` beside this module (one table per language); this module only
folds text, compiles the cues once and applies a fixed order of decisions:

1. small talk, when the whole message is greetings, thanks, help, bye or acknowledgements;
2. metadata (who submitted it, to whom, title, paragraph count, languages, source, date);
3. list (an enumeration cue plus an entity class noun: "which resolutions are mentioned");
4. overview (summary cues, unless the message names a topic or a paragraph);
5. stance (yes/no or position questions about the Group);
6. everything else is a factoid.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from retrieval.analyze import terms
from retrieval.text import clean_user_text

LANGUAGES = ("en", "zh", "es", "fr", "ru", "ar")
SMALLTALK_DETAILS = ("greeting", "thanks", "help", "bye", "capabilities", "ack")
METADATA_DETAILS = ("submitter", "addressee", "title", "count", "languages", "source", "date")
LIST_DETAILS = ("resolution", "date", "body", "treaty", "place", "number")
# Characters folded beyond what NFKD and case folding do: Arabic alef maqsura and tatweel,
# typographic quotes and dashes, Arabic punctuation.
_EXTRA_FOLD = {
    "ى": "ي",
    "ـ": "",
    "’": "'",
    "‘": "'",
    "ʼ": "'",
    "`": "'",
    "´": "'",
    "“": '"',
    "”": '"',
    "«": '"',
    "»": '"',
    "‐": "-",
    "‑": "-",
    "–": "-",
    "—": "-",
    "؟": "?",
    "،": ",",
    "؛": ";",
}
_SEPARATORS = re.compile(r"[\W_]*")
_PUNCTUATION = re.compile(r"\s*[^\w\s]")
_JUDGED_CHARS = 600
_OPENERS = frozenset("¿¡\"'([{<《「『【")
# Scripts, so that a message is also tried with the other languages written like it.
_SCRIPT_LANGS = {
    "latin": ("en", "fr", "es"),
    "han": ("zh",),
    "cyrillic": ("ru",),
    "arabic": ("ar",),
}


@dataclass(frozen=True)
class Kind:
    """What a message asks for; ``detail`` narrows it (see the module docstring)."""

    name: str  # "smalltalk" | "overview" | "metadata" | "list" | "stance" | "factoid"
    detail: str = ""


FACTOID = Kind("factoid")


# --- folding --------------------------------------------------------------------------------


@cache
def _t2s() -> dict[str, str]:
    pairs = _raw()["common"]["t2s"]
    return {pairs[i]: pairs[i + 1] for i in range(0, len(pairs) - 1, 2)}


@lru_cache(maxsize=16384)
def _fold_char(ch: str) -> str:
    """One character case-folded, without accents or Arabic marks, simplified if Chinese."""
    if ch in _EXTRA_FOLD:
        return _EXTRA_FOLD[ch]
    if ch.isascii():
        return ch.lower()
    if "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff":
        return _t2s().get(ch, ch)
    decomposed = unicodedata.normalize("NFKD", ch.casefold())
    out = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "".join(_EXTRA_FOLD.get(c, c) for c in out)


def fold(text: str) -> str:
    """The form cues are matched against (see ``lexicon.toml``)."""
    return "".join(map(_fold_char, text))


def _fold_with_map(text: str) -> tuple[str, list[int]]:
    """``fold(text)`` and, for each folded character, the index of its source character."""
    out: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        folded = _fold_char(ch)
        out.append(folded)
        origin.extend([i] * len(folded))
    origin.append(len(text))
    return "".join(out), origin


def _fold_pattern(pattern: str) -> str:
    """Fold a cue's letters like the text (accents, Arabic marks) but keep its escapes."""
    decomposed = unicodedata.normalize("NFKD", pattern)
    out = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "".join(_EXTRA_FOLD.get(c, c) for c in out)


# --- the lexicon ----------------------------------------------------------------------------


@cache
def _raw() -> dict[str, Any]:
    text = (resources.files("bot.answering") / "lexicon.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def _compile(patterns: Iterable[str], suffix: str = "") -> re.Pattern[str] | None:
    alternatives = [f"(?:{_fold_pattern(p)})" for p in patterns if p]
    if not alternatives:
        return None
    return re.compile(f"(?:{'|'.join(alternatives)}){suffix}", re.IGNORECASE)


@dataclass(frozen=True)
class _ListRule:
    kind: str
    pattern: re.Pattern[str]
    needs_total: bool


@dataclass(frozen=True)
class _Lexicon:
    """One language's compiled cues."""

    lang: str
    smalltalk: dict[str, re.Pattern[str]]
    filler: re.Pattern[str] | None
    connector: re.Pattern[str] | None
    trailing: re.Pattern[str] | None
    metadata: tuple[tuple[str, re.Pattern[str]], ...]
    list_cue: re.Pattern[str] | None
    list_rules: tuple[_ListRule, ...]
    list_veto: re.Pattern[str] | None
    overview: re.Pattern[str] | None
    topic: re.Pattern[str] | None
    stance: re.Pattern[str] | None


def _word_end(lang: str) -> str:
    # Chinese has no spaces, so a phrase ends wherever it ends; elsewhere at a word boundary.
    return "" if lang == "zh" else r"(?![\w'])"


def _list_rules(table: dict[str, Any]) -> tuple[_ListRule, ...]:
    rules: list[_ListRule] = []
    plural: dict[str, str] = table.get("plural", {})
    singular: dict[str, str] = table.get("singular", {})
    for template in table.get("rules", []):
        slots = ((plural, False, "{plural}"), (singular, True, "{singular}"))
        for nouns, needs_total, slot in slots:
            if slot not in template:
                continue
            for kind in LIST_DETAILS:
                if kind in nouns:
                    regex = template.replace(slot, f"(?:{_fold_pattern(nouns[kind])})")
                    rules.append(_ListRule(kind, re.compile(regex, re.IGNORECASE), needs_total))
    return tuple(rules)


@cache
def _lexicon(lang: str) -> _Lexicon:
    table: dict[str, Any] = _raw()[lang]
    small = table.get("smalltalk", {})
    end = _word_end(lang)
    smalltalk = {
        detail: compiled
        for detail in SMALLTALK_DETAILS
        if (compiled := _compile(small.get(detail, []), end)) is not None
    }
    meta = table.get("metadata", {})
    metadata = tuple(
        (detail, compiled)
        for detail in METADATA_DETAILS
        if (compiled := _compile(meta.get(detail, []))) is not None
    )
    listing = table.get("list", {})
    veto = listing.get("single_veto")
    return _Lexicon(
        lang=lang,
        smalltalk=smalltalk,
        filler=_compile(small.get("filler", []), end),
        connector=_compile(small.get("connector", []), end),
        trailing=_compile(small.get("trailing", []), end),
        metadata=metadata,
        list_cue=_compile(listing.get("cue", [])),
        list_rules=_list_rules(listing),
        list_veto=_compile([veto]) if veto else None,
        overview=_compile(table.get("overview", {}).get("cue", [])),
        topic=_compile(table.get("overview", {}).get("topic", [])),
        stance=_compile(table.get("stance", {}).get("cue", [])),
    )


@cache
def _list_total(lang: str) -> re.Pattern[str] | None:
    total = _raw()[lang].get("list", {}).get("total")
    return _compile([total]) if total else None


@cache
def _paragraph_ref() -> re.Pattern[str]:
    compiled = _compile(_raw()["common"]["para_ref"])
    assert compiled is not None
    return compiled


@cache
def _smalltalk_order() -> tuple[str, ...]:
    return tuple(_raw()["smalltalk"]["order"])


@cache
def _needs_punctuation() -> frozenset[str]:
    return frozenset(_raw()["smalltalk"].get("needs_punctuation", []))


@cache
def _everyone() -> tuple[_Lexicon, ...]:
    """Every language's lexicon: small talk is short and often mis-detected, so all count."""
    return tuple(_lexicon(lang) for lang in LANGUAGES)


# --- small talk -----------------------------------------------------------------------------


def _skip(folded: str, pos: int) -> int:
    match = _SEPARATORS.match(folded, pos)
    return match.end() if match else pos


def _longest_smalltalk(folded: str, pos: int, strict: bool) -> tuple[int, str] | None:
    """The longest small-talk phrase starting at ``pos`` (end, detail), fillers as ``""``."""
    best: tuple[int, str] | None = None
    for lexicon in _everyone():
        candidates = list(lexicon.smalltalk.items())
        if lexicon.filler is not None:
            candidates.append(("", lexicon.filler))
        for detail, pattern in candidates:
            match = pattern.match(folded, pos)
            if not match or match.end() == pos:
                continue
            # A bare "no"/"ok" only counts as small talk when punctuation closes it.
            tight = strict and detail in _needs_punctuation() and match.end() < len(folded)
            if tight and not _PUNCTUATION.match(folded, match.end()):
                continue
            if best is None or match.end() > best[0]:
                best = (match.end(), detail)
    return best


def _leading_smalltalk(folded: str, strict: bool) -> tuple[int, list[str]]:
    """How far small talk runs from the start of ``folded``, and which details it holds."""
    pos = _skip(folded, 0)
    details: list[str] = []
    while pos < len(folded):
        found = _longest_smalltalk(folded, pos, strict)
        if found is None:
            break
        pos, detail = found
        if detail:
            details.append(detail)
        pos = _skip(folded, pos)
    return pos, details


def _strip_connectors(folded: str, pos: int) -> int:
    while pos < len(folded):
        best = pos
        for lexicon in _everyone():
            if lexicon.connector is not None:
                match = lexicon.connector.match(folded, pos)
                if match and match.end() > best:
                    best = match.end()
        if best == pos:
            break
        pos = _skip(folded, best)
    return pos


def _trailing_start(folded: str, start: int) -> int:
    """Where trailing thanks / please begin (``len(folded)`` when there are none)."""
    end = len(folded)
    while True:
        cut = len(folded[:end].rstrip(" .!?,;:~"))
        found: int | None = None
        for lexicon in _everyone():
            if lexicon.trailing is None:
                continue
            for match in lexicon.trailing.finditer(folded, start, cut):
                if match.end() != cut or match.start() <= start:
                    continue
                before = folded[match.start() - 1]
                # A Latin, Cyrillic or Arabic phrase must start a word.
                if lexicon.lang == "zh" or not (before.isalnum() or before == "'"):
                    found = match.start() if found is None else min(found, match.start())
        if found is None:
            return end
        end = found


def _smalltalk_span(cleaned: str) -> tuple[int, int, list[str]]:
    """Start and end (in ``cleaned``) of what remains once small talk is stripped, details."""
    folded, origin = _fold_with_map(cleaned)
    pos, details = _leading_smalltalk(folded, strict=True)
    if details and pos < len(folded):
        pos = _strip_connectors(folded, pos)
    # Keep the opening mark of what remains ("¿qué…?", "«…»").
    while pos > 0 and folded[pos - 1] in _OPENERS:
        pos -= 1
    end = _trailing_start(folded, pos)
    return origin[pos], origin[end], details


def strip_smalltalk(text: str, lang: str) -> str:
    """The message without leading greetings/thanks/acks and trailing thanks or please."""
    cleaned = clean_user_text(text)
    start, end, _ = _smalltalk_span(cleaned)
    rest = cleaned[start:end].strip()
    return "" if _SEPARATORS.fullmatch(rest) else rest


def _smalltalk_kind(folded: str) -> Kind | None:
    pos, details = _leading_smalltalk(folded, strict=False)
    if pos < len(folded):
        return None
    if not details:
        # Only fillers ("please", "bot") or only punctuation and emoji: an acknowledgement.
        return Kind("smalltalk", "ack") if folded.strip() else None
    for detail in _smalltalk_order():
        if detail in details:
            return Kind("smalltalk", detail)
    return Kind("smalltalk", details[0])


# --- the other kinds ------------------------------------------------------------------------


def _metadata(folded: str, lexicon: _Lexicon) -> Kind | None:
    spans: list[tuple[int, int, str]] = []
    for detail, pattern in lexicon.metadata:
        for match in pattern.finditer(folded):
            spans.append((match.start(), match.end(), detail))
    if not spans:
        return None
    # Overlapping cues: the earlier detail in METADATA_DETAILS order yields to the one that is
    # more specific, which the lexicon lists first for a pair ("to which body … submitted"
    # is an addressee question, not a submitter one).
    rank = {"addressee": 0, "count": 1, "title": 2, "languages": 3, "source": 4, "date": 5}
    spans.sort(key=lambda s: (rank.get(s[2], 9), s[0]))
    kept: list[tuple[int, int, str]] = []
    for start, stop, detail in spans:
        if all(stop <= s or start >= e for s, e, _ in kept):
            kept.append((start, stop, detail))
    kept.sort()
    if _other_subject(folded, kept, lexicon.lang):
        return None
    details: list[str] = []
    for _, _, detail in kept:
        if detail not in details:
            details.append(detail)
    return Kind("metadata", ",".join(details))


# Words that name the statement itself (or its submitter): "who submitted this statement?".
# (Matched against the analysed terms, so stems: "declar", "заявлени".)
_ITSELF = re.compile(
    r"statem|declar|déclar|docum|text|paper|group|g-?21|声明|文件|文本|集团|本文|这份|"
    r"grup|заявл|документ|текст|групп|البيان|الوثيق|النص|المجموع|بيان|وثيق|مجموع",
    re.IGNORECASE,
)


_INVERSION = re.compile(r"-(?:t-)?(?:il|elle|on|ils|elles|je|tu|nous|vous)\b", re.IGNORECASE)


def _other_subject(folded: str, cues: list[tuple[int, int, str]], lang: str) -> bool:
    """True when, besides its metadata cues, the question is about something else the
    statement talks of ("to whom must the Secretary-General report?" is no question about
    the document)."""
    rest, last = [], 0
    for start, stop, _ in cues:
        rest.append(folded[last:start])
        last = stop
    rest.append(folded[last:])
    # French inversion ("existe-t-il") is a verb and its subject pronoun, not a compound.
    text = _INVERSION.sub(" ", " ".join(rest))
    words = [w for w in terms(text, lang) if not _ITSELF.match(w)]
    return len(words) > 2


def _listing(folded: str, lexicon: _Lexicon) -> Kind | None:
    if not lexicon.list_rules:
        return None
    if lexicon.list_veto is not None and lexicon.list_veto.search(folded):
        return None
    # Rules that carry their own cue (Chinese) need no separate one.
    has_cue = lexicon.list_cue is None or lexicon.list_cue.search(folded) is not None
    total = _list_total(lexicon.lang)
    has_total = total is not None and total.search(folded) is not None
    found: list[tuple[int, str]] = []
    for rule in lexicon.list_rules:
        if rule.needs_total and not has_total:
            continue
        if not has_cue:
            continue
        match = rule.pattern.search(folded)
        if match:
            found.append((match.end(), rule.kind))
    if not found:
        return None
    kinds: list[str] = []
    for _, kind in sorted(found):
        if kind not in kinds:
            kinds.append(kind)
    return Kind("list", ",".join(kinds))


def _overview(folded: str, lexicon: _Lexicon) -> Kind | None:
    if lexicon.overview is None:
        return None
    match = lexicon.overview.search(folded)
    if not match:
        return None
    if _paragraph_ref().search(folded):
        return None
    # "Summarise what it says about CELAC" asks about a topic: a factoid, not an overview.
    rest = folded[: match.start()] + " " * (match.end() - match.start()) + folded[match.end() :]
    if lexicon.topic is not None and lexicon.topic.search(rest):
        return None
    return Kind("overview")


def _stance(folded: str, lexicon: _Lexicon) -> Kind | None:
    if lexicon.stance is not None and lexicon.stance.search(folded):
        return Kind("stance")
    return None


def _classify_in(folded: str, lexicon: _Lexicon) -> Kind:
    for step in (_metadata, _listing, _overview, _stance):
        kind = step(folded, lexicon)
        if kind is not None:
            return kind
    return FACTOID


def _script_of(folded: str) -> str:
    for ch in folded:
        if "a" <= ch <= "z":
            return "latin"
        if "\u3400" <= ch <= "\u9fff":
            return "han"
        if "\u0400" <= ch <= "\u04ff":
            return "cyrillic"
        if "\u0600" <= ch <= "\u06ff":
            return "arabic"
    return ""


def _languages_for(folded: str, lang: str) -> list[str]:
    """The given language first, then the others written in the message's script."""
    primary = "zh" if lang.lower().startswith("zh") else lang.lower()[:2]
    order = [primary] if primary in LANGUAGES else []
    for other in _SCRIPT_LANGS.get(_script_of(folded), ()):
        if other not in order:
            order.append(other)
    return order


def classify(text: str, lang: str) -> Kind:
    """The kind of question ``text`` asks, ``lang`` being the language it is written in."""
    # A long message is judged by its opening: the cues of a question come first, and the
    # cost of matching stays bounded (Telegram allows 4096 characters).
    cleaned = clean_user_text(text)[:_JUDGED_CHARS]
    folded = fold(cleaned)
    if not folded.strip():
        return FACTOID
    small = _smalltalk_kind(folded)
    if small is not None:
        return small
    start, end, details = _smalltalk_span(cleaned)
    body = fold(cleaned[start:end]) if (start, end) != (0, len(cleaned)) else folded
    if _SEPARATORS.fullmatch(body):
        return Kind("smalltalk", details[0] if details else "ack")
    for candidate in _languages_for(body, lang):
        kind = _classify_in(body, _lexicon(candidate))
        if kind is not FACTOID:
            return kind
    return FACTOID
