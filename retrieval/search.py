"""Hybrid search over the statement: paragraph references first, then dense + BM25 fused."""

from __future__ import annotations

import contextlib
import math
import re
import tomllib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from retrieval.analyze import han_bigrams, terms
from retrieval.chunk import Chunk
from retrieval.corpus import Corpus
from retrieval.embeddings import EmbeddingChoice, query_vector
from retrieval.errors import RetrievalError
from retrieval.lexical import LexicalIndex
from retrieval.refs import ParagraphRequest, paragraph_request
from retrieval.store import VectorStore
from retrieval.text import clean_user_text

RRF_K = 60
# Chunks each index (dense and BM25) is asked for before the fusion.
CANDIDATE_POOL = 50
# Share of a question's (IDF-weighted) key terms the statement must contain to count as
# covering it; below, the question is about something the statement does not discuss.
DEFAULT_MIN_COVERAGE = 0.45


@dataclass(frozen=True)
class ParagraphHit:
    """A paragraph of the primary document, with its fused score and its best chunk."""

    paragraph: int
    score: float
    chunk: Chunk
    dense: float = 0.0
    lexical: float = 0.0


@dataclass(frozen=True)
class SearchResult:
    query: str
    hits: list[ParagraphHit]
    request: ParagraphRequest | None = None
    coverage: float = 1.0
    covered: bool = True
    unknown_terms: list[str] = field(default_factory=list)

    @property
    def paragraphs(self) -> list[int]:
        return [h.paragraph for h in self.hits]


@lru_cache(maxsize=1)
def _aliases() -> dict[str, list[tuple[re.Pattern[str], str]]]:
    text = (resources.files("retrieval") / "dict" / "aliases.toml").read_text(encoding="utf-8")
    table = tomllib.loads(text)
    out: dict[str, list[tuple[re.Pattern[str], str]]] = {}
    for lang, entries in table.items():
        patterns = []
        for key, value in entries.items():
            flags = 0 if key.isupper() else re.IGNORECASE
            body = re.escape(key)
            pattern = rf"(?<![A-Za-z]){body}(?![A-Za-z])" if key.isascii() else body
            patterns.append((re.compile(pattern, flags), value))
        out[lang] = patterns
    return out


@lru_cache(maxsize=1)
def _alias_rules() -> list[tuple[re.Pattern[str], str]]:
    return [rule for lang_rules in _aliases().values() for rule in lang_rules]


def expand_aliases(question: str, inline: bool = False) -> str:
    """The question plus the statement's own wording for abbreviations and common names
    (``inline``: each alias replaced by that wording)."""
    rules = _alias_rules()
    if inline:
        for rx, value in rules:
            question = rx.sub(value, question)
        return question
    extra = [value for rx, value in rules if rx.search(question)]
    return " ".join([question, *extra])


# A name: two or more capitalised words, small words allowed inside
# ("Treaty on the Prohibition of Nuclear Weapons", "Comprehensive Nuclear-Test-Ban Treaty").
_NAME = re.compile(r"\b[A-Z][\w'-]*(?:\s+(?:(?:of|on|the|for|and|in|to|de)\s+)*[A-Z][\w'-]*)+")
_POSSESSIVE = re.compile(r"['’]s\b")
_TITLE = re.compile(r"《([^》]{2,60})》")
_QUESTION_WORDS = re.compile(
    r"^(?:What|Which|Who|Whom|Whose|When|Where|Why|How|Does|Do|Did|Is|Are|Was|Were|Can|"
    r"Could|Should|Would|Will|Has|Have|Tell|Show|Explain|Please|According|In|On|The|A|An)\s+"
)


@lru_cache(maxsize=8192)
def features(text: str) -> frozenset[str]:
    """The terms of ``text`` and the Chinese bigrams inside its words: what the relevance
    gate weighs and what the answer composer matches sentences by."""
    words = terms(text)
    return frozenset(words) | {f"#{g}" for w in words for g in han_bigrams(w) if len(w) > 1}


def _folded(text: str) -> str:
    return re.sub(r"[\s\-‐‑–—]+", " ", text).casefold().strip()


class CoverageGate:
    """Decides whether the statement talks about a question at all: every name or title the
    question uses must stand in the statement, and enough of its (IDF-weighted) vocabulary."""

    def __init__(self, chunks: list[Chunk], min_coverage: float) -> None:
        self.min_coverage = min_coverage
        alias_keys = [rx.pattern for rules in _aliases().values() for rx, _ in rules]
        self.text = _folded(" ".join(c.text for c in chunks) + " " + " ".join(alias_keys))
        doc_terms: dict[tuple[str, int], set[str]] = {}
        for chunk in chunks:
            key = (chunk.lang, chunk.paragraph)
            doc_terms.setdefault(key, set()).update(terms(chunk.text))
            doc_terms[key].update(f"#{g}" for g in han_bigrams(chunk.text))
        counts: Counter[str] = Counter()
        for found in doc_terms.values():
            counts.update(found)
        self.n = max(1, len(doc_terms))
        self.df = counts
        # IDF over the statement's paragraphs (both languages): fixed once the index is built,
        # and the same for every term the statement lacks.
        self._weights = {t: self._idf(c) for t, c in counts.items()}
        self._unknown = self._idf(0)

    def _idf(self, count: int) -> float:
        return math.log(1 + self.n / (count + 0.5))

    def weight(self, term: str) -> float:
        return self._weights.get(term, self._unknown)

    def unknown_names(self, question: str) -> list[str]:
        """Names and 《titles》 in the question that the statement never uses."""
        names = [m.group(1) for m in _TITLE.finditer(question)]
        for sentence in re.split(r"(?<=[.?!])\s+", question):
            for match in _NAME.finditer(sentence.strip()):
                # "What's the Group's …" is no name; "the Court of Justice's" is one.
                stripped = _QUESTION_WORDS.sub("", _POSSESSIVE.sub("", match.group(0)))
                inner = _NAME.search(stripped)
                if inner:
                    names.append(inner.group(0))
        return [n for n in names if _folded(expand_aliases(n, inline=True)) not in self.text]

    def coverage(self, question: str) -> tuple[float, list[str]]:
        # Bigrams inside each word only: bigrams across word borders are mostly noise.
        found = features(question)
        words = {t for t in found if not t.startswith("#")}
        grams = found - words
        pools = [p for p in (words, grams) if p]
        if not pools:
            return 0.0, []
        best, unknown = 0.0, sorted(words - self.df.keys())
        for pool in pools:
            total = sum(self.weight(t) for t in pool)
            known = sum(self.weight(t) for t in pool if t in self.df)
            best = max(best, known / total if total else 0.0)
        return best, unknown


class Retriever:
    """Ranks the primary document's paragraphs for a question (both language versions)."""

    def __init__(
        self,
        corpus: Corpus,
        store: VectorStore,
        choice: EmbeddingChoice,
        chunks: list[Chunk] | None = None,
        min_coverage: float = DEFAULT_MIN_COVERAGE,
    ) -> None:
        self.corpus = corpus
        self.store = store
        self.choice = choice
        primary = corpus.primary.doc_id
        loaded = chunks if chunks is not None else store.all_chunks(primary)
        self.chunks = [c for c in loaded if c.doc_id == primary]
        self.by_id = {c.id: c for c in self.chunks}
        # Chroma's metadata filter costs more than the vector search itself on a small
        # collection: ask for it only when the collection holds other documents too.
        self.dense_filter: str | None = primary
        with contextlib.suppress(RetrievalError):  # unknown: keep the filter, always right
            if store.count() <= len(self.chunks):
                self.dense_filter = None
        self.lexical = LexicalIndex(self.chunks)
        self.gate = CoverageGate(self.chunks, min_coverage)
        self.numbers = corpus.primary.numbers

    def reference(self, question: str) -> ParagraphRequest | None:
        return paragraph_request(clean_user_text(question), self.numbers)

    def rank(self, question: str, k: int = 10, dense_search: bool = True) -> list[ParagraphHit]:
        """Dense + BM25 over chunks, fused by reciprocal rank, best chunk per paragraph."""
        query = expand_aliases(clean_user_text(question))
        pool = len(self.chunks)
        dense: list[tuple[Chunk, float]] = []
        if dense_search:
            vector = query_vector(self.choice.embeddings, query)
            nearest = self.store.nearest(vector, min(pool, CANDIDATE_POOL), self.dense_filter)
            # A chunk stored after this retriever was built is not ranked until a reload.
            dense = [(self.by_id[i], sim) for i, sim in nearest if i in self.by_id]
        lexical = self.lexical.search(terms(query), min(pool, CANDIDATE_POOL))
        fused: dict[str, float] = {}
        by_id: dict[str, Chunk] = {}
        dense_score: dict[str, float] = {}
        lexical_score: dict[str, float] = {}
        weight = self.choice.fusion_weight
        for rank, (chunk, similarity) in enumerate(dense, start=1):
            fused[chunk.id] = fused.get(chunk.id, 0.0) + weight / (RRF_K + rank)
            by_id[chunk.id] = chunk
            dense_score[chunk.id] = similarity
        for rank, (chunk, score) in enumerate(lexical, start=1):
            fused[chunk.id] = fused.get(chunk.id, 0.0) + 1.0 / (RRF_K + rank)
            by_id[chunk.id] = chunk
            lexical_score[chunk.id] = score
        best: dict[int, ParagraphHit] = {}
        for chunk_id, score in sorted(fused.items(), key=lambda kv: -kv[1]):
            if len(best) >= k:
                break
            chunk = by_id[chunk_id]
            if chunk.paragraph not in best:
                best[chunk.paragraph] = ParagraphHit(
                    chunk.paragraph,
                    round(score * (RRF_K + 1) / (1 + weight), 4),  # 1.0 = first in both
                    chunk,
                    round(dense_score.get(chunk_id, 0.0), 4),
                    round(lexical_score.get(chunk_id, 0.0), 4),
                )
        return list(best.values())

    def about(self, question: str, numbers: Sequence[int]) -> SearchResult:
        """A result that ranks ``numbers`` (the paragraphs a conversation is about)."""
        hits = [
            ParagraphHit(n, 1.0, next(c for c in self.chunks if c.paragraph == n))
            for n in numbers
            if n in self.numbers
        ]
        return SearchResult(clean_user_text(question), hits, None, 1.0, bool(hits))

    def covers(self, question: str) -> bool:
        """True when the statement talks about ``question`` (the relevance gate alone)."""
        cleaned = clean_user_text(question)
        coverage, _ = self.gate.coverage(expand_aliases(cleaned))
        return coverage >= self.gate.min_coverage and not self.gate.unknown_names(cleaned)

    def search(self, question: str, k: int = 5, dense: bool = True) -> SearchResult:
        request = self.reference(question)
        cleaned = clean_user_text(question)
        if request is not None:
            hits = [
                ParagraphHit(n, 1.0, next(c for c in self.chunks if c.paragraph == n))
                for n in request.numbers
            ]
            return SearchResult(cleaned, hits, request, 1.0, bool(request.numbers))
        coverage, unknown = self.gate.coverage(expand_aliases(cleaned))
        names = self.gate.unknown_names(cleaned)
        hits = self.rank(cleaned, k, dense) if cleaned else []
        covered = bool(hits) and coverage >= self.gate.min_coverage and not names
        unknown = names + unknown
        return SearchResult(cleaned, hits, None, round(coverage, 3), covered, unknown)
