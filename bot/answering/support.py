"""The support checks of one sentence against the paragraphs it cites: numbers and dates,
negations, modals and reversals, bans, named bodies, and the share of content words. The rules
and their thresholds were measured on tests/data/grounding_*.jsonl (see tests/test_grounding)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

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
from retrieval.analyze import zh_terms
from retrieval.corpus import Document
from retrieval.text import HAN_RUN

# The share of a sentence's content words that must stand in the cited paragraphs.
SUPPORT_MIN = 0.55
# A content word found only in another paragraph counts this many times against the share:
# it says the sentence belongs elsewhere.
MISPLACED_WEIGHT = 3
# How far (content words) a ban, refusal or negation reaches: "prohibit their possession,
# development, production, …, use"; Chinese is cut into more, shorter words.
SCOPE = 8
SCOPE_ZH = 10

QUOTES = "\"'“”‘’«»「」『』《》"
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
    text = normalise(claim_text).strip().lstrip(QUOTES + "([（ ")
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


def unsupported(
    claim_text: str,
    paragraphs: Sequence[int],
    backed: Mapping[int, Sequence[str]],
    document: Document,
    lang: str,
) -> tuple[str, float]:
    """Why the claim (its markers removed) is not supported by ``paragraphs`` — ``number``,
    ``negation``, ``modal``, ``reversal``, ``scope``, ``body``, ``support`` — or "" when it is;
    and the share of its content words that stand in them."""
    w = words(lang)
    claim_text = plain(claim_text, lang)
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
    return reason, support
