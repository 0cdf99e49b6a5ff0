"""Sentence-level grounding of a generated answer: a sentence reaches the user only when it
cites a paragraph with a verified quote and says nothing that paragraph does not say.

Pure functions over text and a ``Document``; the LLM composer runs them on the final answer
and on each sentence of a draft as it completes."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from bot.answering.claims import (
    WORD,
    Profile,
    Words,
    aliases,
    fold,
    normalise,
    parts,
    plain,
    profile,
    stem,
    tokens,
    words,
)
from bot.answering.markers import cited, find_markers, render, rerender, without_markers
from retrieval.analyze import zh_terms
from retrieval.corpus import Document
from retrieval.text import HAN_RUN, split_sentences

# Thresholds, measured on tests/data/grounding_sentences.jsonl (tests/grounding_measure.py):
# the share of a sentence's content words that must stand in the cited paragraphs.
SUPPORT_MIN = 0.55
# A content word found only in another paragraph counts this many times against the share:
# it says the sentence belongs elsewhere.
MISPLACED_WEIGHT = 3
# How far (content words) a ban, refusal or negation reaches: "prohibit their possession,
# development, production, …, use"; Chinese is cut into more, shorter words.
SCOPE = 8
SCOPE_ZH = 10
# Words of four letters or more (alphabetic scripts), or Chinese characters, a quote needs.
MIN_QUOTE_WORDS = 3
MIN_QUOTE_HAN = 6

_BULLET = re.compile(r"^\s*(?:[-•*·▪–—]|\d{1,2}[.)、]|[a-z][.)])\s+")
_MARKERISH = re.compile(r"^[\s\[\]［］【】〔〕()（）¶§\d,，、;；&\-–—~.。:：]*$")
_OTHER_END = re.compile(r"(?<=[.;!?؟؛])\s+")
_QUOTES = "\"'“”‘’«»「」『』《》"
# Where the reach of a ban ends: a clause's end, a new coordinated clause, a copula ("the only
# way to prevent X is Y": Y is not prevented).
_CLAUSE = re.compile(
    r"[.;:!?。；：！？，،]"
    r"|,\s*(?:and|whereas|while|but|et|mais|alors|y|pero|mientras|и|а|но)\b"
    r"|\b(?:is|are|was|were|be|est|sont|es|son|fue|является|являются|هو|هي)\b|是"
)
# Chinese words that name a body or an instrument; a title in 《》.
_ZH_BODY = re.compile(r"(?:会|会议|组织|机构|法院|联盟|共同体|集团|秘书处|条约|公约|议定书)$")
_ZH_TITLE = re.compile(r"《([^》]+)》")


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


# --- what the cited paragraphs say -------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """The cited paragraphs in the reply language with their verified quotes; the numbers of
    every language version; the words they use only under a ban or a refusal."""

    profile: Profile
    numbers: frozenset[str]
    scoped: frozenset[str]
    # The other paragraphs' stems and Chinese text, in the reply language.
    elsewhere: frozenset[str]
    elsewhere_han: str


def evidence(
    paragraphs: Sequence[int], backed: Mapping[int, Sequence[str]], document: Document, lang: str
) -> Evidence:
    texts = [document.text(n, lang) for n in paragraphs]
    texts += [q for n in paragraphs for q in backed.get(n, ())]
    numbers: set[str] = set()
    for version in document.versions.values():
        for n in paragraphs:
            numbers |= profile(version.paragraphs[n], version.lang).numbers
    joined = plain("\n".join(texts), lang)
    others = [document.text(n, lang) for n in document.numbers if n not in paragraphs]
    return Evidence(
        profile(joined, lang),
        frozenset(numbers),
        frozenset(_scoped(joined, lang)),
        frozenset(s for text in others for s in profile(text, lang).stems),
        "".join(profile(text, lang).han for text in others),
    )


def _units(text: str, lang: str) -> list[list[tuple[str, bool]]]:
    """Content units of each clause in order (stems; Chinese words), each with whether it
    bans, refuses or negates what follows."""
    w = words(lang)
    clauses = []
    for clause in _CLAUSE.split(normalise(text)):
        units: list[tuple[str, bool]] = []
        for piece in re.split(f"({HAN_RUN.pattern})", clause):
            if HAN_RUN.fullmatch(piece):
                for term in zh_terms(piece):
                    units.append((term, any(term.startswith(p) for p in w.prohibitive)))
                continue
            for token in tokens(piece, lang):
                for part in parts(fold(token, lang)):
                    banning = _bare(part, lang) in w.prohibitive
                    if banning or part not in w.function:
                        units.append((stem(part, lang), banning))
        clauses.append(units)
    return clauses


def _reach(lang: str) -> int:
    return SCOPE_ZH if lang == "zh" else SCOPE


def _scoped(text: str, lang: str) -> set[str]:
    """Units the text uses only within reach after a ban, refusal or negation."""
    inside: set[str] = set()
    outside: set[str] = set()
    reach = _reach(lang)
    for units in _units(text, lang):
        last = -reach - 1
        for i, (unit, prohibitive) in enumerate(units):
            if prohibitive:
                last = i
                continue
            (inside if i - last <= reach else outside).add(unit)
    return inside - outside


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


def _numbers_ok(claim: Profile, ev: Evidence, w: Words) -> bool:
    """Every number, date and resolution symbol (digits or words, months) is the paragraph's."""
    if not claim.numbers <= ev.numbers:
        return False
    ev_stems = set(ev.profile.stems)
    for token, token_stem in zip(claim.tokens, claim.stems, strict=True):
        if token in w.numbers and not (
            token in ev.profile.tokens or str(w.numbers[token]) in ev.numbers
        ):
            return False
        if token in w.months and token_stem not in ev_stems:
            return False
    return True


def _zh_stance(han: str, ev_han: str, w: Words) -> str:
    """``_stance`` for Chinese: one character turns a claim round, and 不/无/非 sit inside many
    words, so each such word and the character after it must stand in the paragraph."""
    listed = sorted(w.negation | w.modal | w.reversal, key=len, reverse=True)
    obliged = any(o in ev_han for o in w.obligation)
    i = 0
    while i < len(han):
        word = next((x for x in listed if han.startswith(x, i)), "")
        if not word:
            i += 1
            continue
        with_next = word + han[i + len(word) : i + len(word) + 1]
        if word in w.reversal and word not in ev_han:
            return "reversal"
        if word not in w.reversal and with_next not in ev_han:
            if word in w.negation:
                return "negation"
            if not (obliged and word in w.obligation_modals):
                return "modal"
        i += len(word)
    return ""


def _bare(token: str, lang: str) -> str:
    """An Arabic word without the conjunction written onto it (و, ف)."""
    return re.sub(r"^(?:و|ف)(?=..)", "", token) if lang == "ar" else token


def _family_ok(claim: Profile, ev: Evidence, lang: str, family: frozenset[str]) -> bool:
    """A word of approval (or of disapproval) only where the paragraph has one too (the
    words as listed: "concerned" is blame, "concern" may only mean "relate to")."""
    if lang == "zh":
        return not any(x in claim.han for x in family) or any(x in ev.profile.han for x in family)
    stems = {stem(x, lang) for x in family}
    used = any(_bare(t, lang) in family for t in claim.tokens)
    return not used or any(
        _bare(t, lang) in family or s in stems
        for t, s in zip(ev.profile.tokens, ev.profile.stems, strict=True)
    )


def _near(word_stem: str, known: Iterable[str]) -> bool:
    """A stem that begins a known word (stemmers leave some forms whole: "refusent")."""
    return any(k.startswith(word_stem) for k in known) if len(word_stem) >= 4 else False


def _stance(claim: Profile, ev: Evidence, lang: str, w: Words) -> str:
    """Empty when the claim's negations, modals, reversals and praise or blame are the
    paragraph's, else the kind that failed: a negation must stand in the paragraph with the
    word it negates; a modal as a word (one of obligation also where the paragraph speaks of
    an obligation); a reversal ("oppose", "lowest") as a word; praise or blame as a word of
    the same family."""
    if not (_family_ok(claim, ev, lang, w.praise) and _family_ok(claim, ev, lang, w.blame)):
        return "reversal"
    if lang == "zh":
        return _zh_stance(claim.han, ev.profile.han, w)
    ev_tokens = {_bare(t, lang) for t in ev.profile.tokens}
    ev_stems = set(ev.profile.stems)
    after = (*ev.profile.stems[1:], "")[: len(ev.profile.tokens)]
    pairs = {(_bare(t, lang), s) for t, s in zip(ev.profile.tokens, after, strict=True)}
    obliged = any(o in ev_tokens or stem(o, lang) in ev_stems for o in w.obligation)
    reversal_stems = {stem(x, lang) for x in w.reversal}
    for i, token in enumerate(claim.tokens):
        bare = _bare(token, lang)
        following = claim.stems[i + 1] if i + 1 < len(claim.tokens) else ""
        if bare in w.negation and (bare, following) not in pairs:
            return "negation"
        licensed = obliged and bare in w.obligation_modals
        if bare in w.modal and bare not in ev_tokens and not licensed:
            return "modal"
        reverses = bare in w.reversal or claim.stems[i] in reversal_stems
        if reverses and bare not in ev_tokens and not _near(claim.stems[i], ev_tokens):
            return "reversal"
    for phrase in w.phrases:
        present = f" {phrase} " in claim.folded and f" {phrase} " not in ev.profile.folded
        if present and not (obliged and phrase in w.obligation_modals):
            return "negation" if phrase in w.negation else "modal"
    return ""


def _scope_ok(claim_text: str, ev: Evidence, lang: str) -> bool:
    """A word the paragraph uses only under a ban or a refusal ("prohibit their production")
    is used under one in the claim too (not "call for production")."""
    if not ev.scoped:
        return True
    reach = _reach(lang)
    for units in _units(claim_text, lang):
        last = -reach - 1
        for i, (unit, prohibitive) in enumerate(units):
            if prohibitive:
                last = i
            elif unit in ev.scoped and i - last > reach:
                return False
    return True


def _alias_ok(name: str, ev: Evidence) -> bool:
    compact = ev.profile.folded.replace(" ", "")
    for expansion in aliases().get(fold(name, "en"), ()):
        if HAN_RUN.fullmatch(expansion.replace(" ", "")):
            if expansion.replace(" ", "") in ev.profile.han:
                return True
        elif "".join(fold(t, "en") for t in WORD.findall(expansion)).replace("-", "") in compact:
            return True
    return False


def _contains(sequence: Sequence[str], part: Sequence[str]) -> bool:
    n = len(part)
    return any(tuple(sequence[i : i + n]) == tuple(part) for i in range(len(sequence) - n + 1))


def _zh_bodies_ok(text: str, ev: Evidence) -> bool:
    for title in _ZH_TITLE.findall(text):
        if title not in ev.profile.han and not _alias_ok(title, ev):
            return False
    for run in HAN_RUN.findall(text):
        for term in zh_terms(run):
            named = len(term) >= 3 and _ZH_BODY.search(term)
            if named and term not in ev.profile.han and not _alias_ok(term, ev):
                return False
    return True


def _bodies_ok(claim_text: str, claim: Profile, ev: Evidence, lang: str, w: Words) -> bool:
    """Named bodies, instruments and places stand in the cited paragraphs: capitalised runs
    and acronyms; Chinese titles and body names; the names of ``grounding.toml``."""
    text = normalise(claim_text).strip().lstrip(_QUOTES + "([（ ")
    if HAN_RUN.search(text) and not _zh_bodies_ok(text, ev):
        return False
    said = " " + " ".join(_bare(t, lang) for t in claim.tokens) + " "
    known = " " + " ".join(_bare(t, lang) for t in ev.profile.tokens) + " "
    for body in w.bodies:
        if HAN_RUN.fullmatch(body.replace(" ", "")):
            if body in claim.han and body not in ev.profile.han:
                return False
        elif f" {body} " in said and f" {body} " not in known:
            return False
    runs: list[list[str]] = []
    joined, previous = False, 0
    for i, m in enumerate(WORD.finditer(HAN_RUN.sub(" | ", text))):
        # "L'OTAN", "Group's": the name without its article or possessive.
        word = re.sub(r"^(?:[lLdD]|[qQ]u)['’](?=\w)|['’]s$", "", m.group(0))
        if sum(c.isupper() for c in word) >= 2 and word.upper() == word:
            if fold(word, lang) not in ev.profile.tokens and not _alias_ok(word, ev):
                return False
            joined = False
            continue
        capital = word[:1].isupper() and fold(word, lang) not in w.function
        if not capital or i == 0:  # the first word is capitalised as the sentence's start
            joined = False
            continue
        if joined and text[previous : m.start()].strip() == "":
            runs[-1].append(word)
        else:
            runs.append([word])
        joined, previous = True, m.end()
    for run in runs:
        stems = [stem(fold(p, lang), lang) for word in run for p in parts(word)]
        if not _contains(ev.profile.stems, stems) and not _alias_ok(" ".join(run), ev):
            return False
    return True


def _support(claim: Profile, ev: Evidence, w: Words) -> float:
    """Share of the claim's content words that stand in the cited paragraphs; a word that
    stands only in another paragraph weighs ``MISPLACED_WEIGHT`` times."""
    found = weight = 0.0
    ev_stems = set(ev.profile.stems)
    skip = w.function | w.negation | w.modal
    # A hyphenated word counts once: found when all its parts are.
    words: dict[int, list[tuple[str, str]]] = {}
    for token, token_stem, word in zip(claim.tokens, claim.stems, claim.word_of, strict=True):
        if token not in skip and len(token) > 1:
            words.setdefault(word, []).append((token, token_stem))
    for word_parts in words.values():
        missing = [s for t, s in word_parts if s not in ev_stems and not _alias_ok(t, ev)]
        if not missing:
            found, weight = found + 1, weight + 1
        else:
            weight += MISPLACED_WEIGHT if any(s in ev.elsewhere for s in missing) else 1
    for term in claim.han_terms:
        if term in w.function:
            continue
        if term in ev.profile.han or _alias_ok(term, ev):
            found, weight = found + 1, weight + 1
        else:
            weight += MISPLACED_WEIGHT if term in ev.elsewhere_han else 1
    return found / weight if weight else 0.0


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
    w = words(lang)
    claim_text = plain(without_markers(sentence), lang)
    claim = profile(claim_text, lang)
    ev = evidence(paragraphs, backed, document, lang)
    reason = "number" if not _numbers_ok(claim, ev, w) else _stance(claim, ev, lang, w)
    if not reason and not _scope_ok(claim_text, ev, lang):
        reason = "scope"
    if not reason and not _bodies_ok(claim_text, claim, ev, lang, w):
        reason = "body"
    support = _support(claim, ev, w)
    if not reason and support < SUPPORT_MIN:
        reason = "support"
    if reason:
        return Verdict(False, reason, paragraphs, support)
    return Verdict(True, "supported", paragraphs, support, _with_markers(sentence, paragraphs))


def _with_markers(sentence: str, paragraphs: tuple[int, ...]) -> str:
    """The sentence with the bot's own markers; one that cites only in words ("paragraph 3
    says …") gets the marker before its end mark."""
    text = rerender(sentence)
    shown = {n for m in find_markers(text) if m.sign for n in m.paragraphs}
    missing = [n for n in paragraphs if n not in shown]
    if missing:
        end = re.search(r"[.。!?！？;；]+[" + _QUOTES + r")）]*\s*$", text)
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
