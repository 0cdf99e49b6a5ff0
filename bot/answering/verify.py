"""Citation checks: a cited paragraph must exist, have been shown to the model, and
contain the quoted words."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable
from difflib import SequenceMatcher

from bot.answering.answer import Citation
from retrieval.corpus import Document

log = logging.getLogger(__name__)

# Share of a quote's characters that must match a span of the paragraph, in order,
# once case, width, white space and punctuation are folded away.
FUZZY_MIN = 0.9
# A close match may differ from the paragraph by typos only: each differing stretch at most
# this many (folded) characters, and never a negation: one character turns a Chinese claim
# round, and "lowest" for "highest" is no typo.
TYPO_MAX = 2
_NEGATIONS = frozenset("不非未无没勿否")
_MARKER = re.compile(r"\[\s*¶\s*(\d+)\s*\]")


def _fold_with_map(text: str) -> tuple[str, list[int]]:
    """The folded text and, for each folded character, its index in ``text``."""
    folded: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        for c in unicodedata.normalize("NFKC", ch).casefold():
            if c.isalnum():
                folded.append(c)
                index.append(i)
    return "".join(folded), index


def _typos_only(needle: str, span: str) -> bool:
    """True when ``needle`` differs from ``span`` only by short slips that keep its meaning."""
    matcher = SequenceMatcher(None, needle, span, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        changed = needle[i1:i2] + span[j1:j2]
        if max(i2 - i1, j2 - j1) > TYPO_MAX or not _NEGATIONS.isdisjoint(changed):
            return False
    return True


def locate_quote(quote: str, paragraph: str) -> str | None:
    """The paragraph's own words for ``quote``: exact after folding, or a close match."""
    needle, _ = _fold_with_map(quote)
    hay, index = _fold_with_map(paragraph)
    if len(needle) < 2 or not hay:
        return None
    at = hay.find(needle)
    if at >= 0:
        return paragraph[index[at] : index[at + len(needle) - 1] + 1]
    matcher = SequenceMatcher(None, needle, hay, autojunk=False)
    blocks = [b for b in matcher.get_matching_blocks() if b.size]
    if not blocks:
        return None
    matched = sum(b.size for b in blocks)
    # Widen to the quote's own ends: a slip in its first or last character stays inside.
    first, last = blocks[0], blocks[-1]
    start = max(0, first.b - first.a)
    end = min(len(hay), last.b + len(needle) - last.a)
    if matched / len(needle) < FUZZY_MIN or (end - start) > 1.2 * len(needle):
        return None
    if not _typos_only(needle, hay[start:end]):
        return None
    return paragraph[index[start] : index[end - 1] + 1]


def find_quote(document: Document, paragraph: int, quote: str) -> str | None:
    """The paragraph's own words for ``quote`` in any language version; None when the
    paragraph does not exist or does not say it. The one rule for checking a citation."""
    if paragraph not in document.numbers:
        return None
    for version in document.versions.values():
        found = locate_quote(quote, version.paragraphs[paragraph])
        if found:
            return found
    return None


def verify_citations(
    citations: Iterable[Citation], document: Document, context: Iterable[int]
) -> list[Citation]:
    """Keep citations that check out, each quote replaced by the paragraph's exact words;
    log the dropped ones."""
    shown = set(context)
    kept: list[Citation] = []
    for c in citations:
        if c.paragraph not in document.numbers:
            log.warning("dropped citation: paragraph %s does not exist", c.paragraph)
            continue
        if c.paragraph not in shown:
            log.warning("dropped citation: paragraph %s was not in the context", c.paragraph)
            continue
        found = find_quote(document, c.paragraph, c.quote)
        if not found:
            log.warning(
                "dropped citation: quote not in paragraph %s: %r", c.paragraph, c.quote[:80]
            )
            continue
        if all((k.paragraph, k.quote) != (c.paragraph, found) for k in kept):
            kept.append(Citation(c.paragraph, found))
    return kept


def markers(text: str) -> list[int]:
    return [int(n) for n in _MARKER.findall(text)]


def clean_markers(text: str, valid: set[int]) -> str:
    """Drop [¶N] markers that no verified citation backs, and tidy the spacing."""
    out = _MARKER.sub(lambda m: m.group(0) if int(m.group(1)) in valid else "", text)
    return re.sub(r"[ \t]+([。，.,;；])", r"\1", re.sub(r"[ \t]{2,}", " ", out)).strip()
