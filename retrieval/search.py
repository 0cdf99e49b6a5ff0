"""Hybrid search over the statement: paragraph references first, then dense + BM25 fused,
over the language version of the question (English for a language with no version)."""

from __future__ import annotations

import contextlib
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from retrieval import language, vocabulary
from retrieval.analyze import han_bigrams, terms
from retrieval.chunk import Chunk
from retrieval.corpus import Corpus
from retrieval.embeddings import EmbeddingChoice, query_vector
from retrieval.errors import RetrievalError
from retrieval.language import (
    detect_language,
    is_traditional,
    script_languages,
    split_script,
    to_simplified,
)
from retrieval.lexical import LexicalIndex
from retrieval.refs import ParagraphRequest, paragraph_request
from retrieval.store import VectorStore
from retrieval.text import clean_user_text, fold_accents
from retrieval.vocabulary import alias_keys, expand_aliases, respell

__all__ = ["CoverageGate", "ParagraphHit", "Retriever", "SearchResult", "expand_aliases"]

RRF_K = 60
# Chunks each index (dense and BM25) is asked for before the fusion.
CANDIDATE_POOL = 50
# Share of a question's (IDF-weighted) key terms the statement must contain to count as
# covering it; below, the question is about something the statement does not discuss.
DEFAULT_MIN_COVERAGE = 0.45
_VERSIONS_TUNED_WITH = 2


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
    # The language version searched: the question's, or English for one with no version.
    lang: str = ""

    @property
    def paragraphs(self) -> list[int]:
        return [h.paragraph for h in self.hits]


# A name: two or more capitalised words, small words allowed inside
# ("Treaty on the Prohibition of Nuclear Weapons", "Comprehensive Nuclear-Test-Ban Treaty").
_NAME = re.compile(r"\b[A-Z][\w'-]*(?:\s+(?:(?:of|on|the|for|and|in|to|de)\s+)*[A-Z][\w'-]*)+")
_POSSESSIVE = re.compile(r"['’]s\b")
_TITLE = re.compile(r"《([^》]{2,60})》")
_QUESTION_WORDS = re.compile(
    r"^(?:What|Which|Who|Whom|Whose|When|Where|Why|How|Does|Do|Did|Is|Are|Was|Were|Can|"
    r"Could|Should|Would|Will|Has|Have|Tell|Show|Explain|Please|According|In|On|The|A|An|"
    r"After|Before|Since|During|Following|Under|Besides|Apart|Regarding|Concerning|About|"
    r"And|But|So|Also|Then|Now)\s+"
)
# Where a name joins names ("Article VI of the NPT"): each part is looked up on its own.
_NAME_JOINS = re.compile(r"\s+(?:of|on|for|and|in|to)\s+(?:the\s+)?")


@lru_cache(maxsize=8192)
def features(text: str, lang: str | None = None) -> frozenset[str]:
    """The terms of ``text`` (cut as ``lang`` is) and the Chinese bigrams inside its words:
    what the relevance gate weighs and what the answer composer matches sentences by."""
    words = terms(text, lang)
    return frozenset(words) | {f"#{g}" for w in words for g in han_bigrams(w) if len(w) > 1}


def _folded(text: str) -> str:
    # Accents too: a name typed without them ("Conference du desarmement") is still there.
    return fold_accents(re.sub(r"[\s\-‐‑–—]+", " ", text)).strip()


class CoverageGate:
    """Decides whether the statement talks about a question at all: every name or title the
    question uses must stand in the statement, and enough of its (IDF-weighted) vocabulary.
    Built over one language version (``lang``) or, with None, over every chunk given."""

    def __init__(
        self,
        chunks: list[Chunk],
        min_coverage: float,
        lang: str | None = None,
        names_text: str | None = None,
    ) -> None:
        self.min_coverage = min_coverage
        self.lang = lang
        # Names may be quoted in any language the statement has: ``names_text`` is all of it.
        text = names_text if names_text is not None else " ".join(c.text for c in chunks)
        self.text = _folded(text + " " + " ".join(alias_keys()))
        doc_terms: dict[tuple[str, int], set[str]] = {}
        for chunk in chunks:
            key = (chunk.lang, chunk.paragraph)
            doc_terms.setdefault(key, set()).update(terms(chunk.text, lang))
            doc_terms[key].update(f"#{g}" for g in han_bigrams(chunk.text))
        counts: Counter[str] = Counter()
        for found in doc_terms.values():
            counts.update(found)
        # One version's paragraphs counted twice: the IDF of each term is then what the gate
        # over the Chinese and English versions together gave it, which its threshold was
        # tuned with (each term occurs in one version), where fifteen paragraphs alone
        # weigh a term the statement lacks heavier against the ones it has.
        self.n = max(1, len(doc_terms)) * (_VERSIONS_TUNED_WITH if lang else 1)
        self.df = counts
        # IDF over the paragraphs: fixed once the index is built, and the same for every
        # term the statement lacks.
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
        return [
            n
            for n in names
            if not self._known(n)
            and not all(self._known(part) for part in _NAME_JOINS.split(n) if part)
        ]

    def _known(self, name: str) -> bool:
        expanded = expand_aliases(name, inline=True, lang=self.lang)
        return _folded(name) in self.text or _folded(expanded) in self.text

    def coverage(self, question: str) -> tuple[float, list[str]]:
        # Bigrams inside each word only: bigrams across word borders are mostly noise.
        found = features(question, self.lang)
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


# A question's second script counts when it holds this many words and this share of them.
_MIXED_MIN_WORDS = 2
_MIXED_SHARE = 0.3
# The language standing for each version's script in ``script_languages``.
_SCRIPT_OF = {"zh": "zh", "ru": "ru", "ar": "ar"}


def _fuse_paragraphs(
    first: list[ParagraphHit], second: list[ParagraphHit], k: int
) -> list[ParagraphHit]:
    """Two paragraph rankings fused by reciprocal rank; the first one's hit kept on a tie."""
    score: dict[int, float] = {}
    hit: dict[int, ParagraphHit] = {}
    for ranking in (first, second):
        for rank, h in enumerate(ranking, start=1):
            score[h.paragraph] = score.get(h.paragraph, 0.0) + 1.0 / (RRF_K + rank)
            hit.setdefault(h.paragraph, h)
    order = sorted(score, key=lambda p: -score[p])
    return [hit[p] for p in order[:k]]


def _weighted_coverage(parts: list[tuple[CoverageGate, str]]) -> tuple[float, list[str]]:
    """The coverage of a question in parts, each by its gate, weighted by its term count."""
    total, weighted, unknown = 0, 0.0, []
    for gate, text in parts:
        size = len(set(terms(text, gate.lang)))
        if size:
            share, missing = gate.coverage(text)
            total += size
            weighted += size * share
            unknown += missing
    return (weighted / total if total else 0.0), unknown


# Below this many chunks in all, a dense query asks for every chunk and keeps the question's
# version itself: Chroma's metadata filter costs more than the search on a small collection.
_LOCAL_FILTER_MAX = 600


@dataclass(frozen=True)
class Version:
    """One language version of the statement, with its own indexes."""

    lang: str
    chunks: list[Chunk]
    ids: frozenset[str]
    lexical: LexicalIndex
    gate: CoverageGate
    # Lower-case words and terms of the text: the vocabulary English typos are mended to.
    words: frozenset[str]
    stems: frozenset[str]


_WORD = re.compile(r"[^\W\d_]+")


def _version(lang: str, chunks: list[Chunk], min_coverage: float, names_text: str) -> Version:
    lexical = LexicalIndex(chunks, lang)
    words = frozenset(w.lower() for c in chunks for w in _WORD.findall(c.text))
    return Version(
        lang,
        chunks,
        frozenset(c.id for c in chunks),
        lexical,
        CoverageGate(chunks, min_coverage, lang, names_text),
        words,
        frozenset(lexical.vocabulary),
    )


class Retriever:
    """Ranks the primary document's paragraphs for a question, in the question's version."""

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
        everything = " ".join(c.text for c in self.chunks)
        by_lang: dict[str, list[Chunk]] = {}
        for chunk in self.chunks:
            by_lang.setdefault(chunk.lang, []).append(chunk)
        self.versions = {
            lang: _version(lang, found, min_coverage, everything) for lang, found in by_lang.items()
        }
        # Over every version: for callers that weigh terms without naming a language.
        self.gate = CoverageGate(self.chunks, min_coverage)
        self.numbers = corpus.primary.numbers
        # What the first question would otherwise wait for (~1 s): fastText, OpenCC, the
        # English dictionary of the typo guard.
        language.warm_up()
        vocabulary.warm_up()

    @property
    def lexical(self) -> LexicalIndex:
        """The BM25 index of the default version (English, else the first)."""
        return self.version(None).lexical

    def version(self, lang: str | None) -> Version:
        """The version a question in ``lang`` is searched in: its own, else English, else
        the first one."""
        if lang in self.versions:
            return self.versions[lang]
        return self.versions.get("en") or next(iter(self.versions.values()))

    def gate_for(self, lang: str | None) -> CoverageGate:
        """The relevance gate (and IDF weights) of the version ``lang`` is searched in."""
        return self.version(lang).gate if self.versions else self.gate

    def reference(self, question: str) -> ParagraphRequest | None:
        return paragraph_request(clean_user_text(question), self.numbers)

    def prepare(self, question: str, lang: str | None = None) -> tuple[Version, str, str]:
        """(version, respelled question, query): the question detected (unless ``lang``
        says), traditional Chinese simplified, informal words and English typos mended,
        then aliases appended."""
        cleaned = clean_user_text(question)
        version = self.version(lang or detect_language(cleaned))
        if version.lang == "zh" and is_traditional(cleaned):
            cleaned = to_simplified(cleaned)
        respelled = respell(cleaned, version.lang, version.words, version.stems)
        return version, respelled, expand_aliases(respelled, lang=version.lang)

    def rank(
        self, question: str, k: int = 10, dense_search: bool = True, lang: str | None = None
    ) -> list[ParagraphHit]:
        """Dense + BM25 over the chunks of the question's version, fused by reciprocal rank,
        best chunk per paragraph."""
        version, _, query = self.prepare(question, lang)
        return self._rank(version, query, k, dense_search)

    def _dense(self, version: Version, query: str) -> list[tuple[Chunk, float]]:
        return self.nearest_in(version, query_vector(self.choice.embeddings, query))

    def nearest_in(self, version: Version, vector: Any) -> list[tuple[Chunk, float]]:
        """The version's chunks nearest to ``vector``, as Chroma ranks them."""
        pool = min(len(version.chunks), CANDIDATE_POOL)
        if len(self.versions) == 1:
            nearest = self.store.nearest(vector, pool, self.dense_filter)
        elif self.dense_filter is None and len(self.chunks) <= _LOCAL_FILTER_MAX:
            nearest = self.store.nearest(vector, len(self.chunks))
        else:
            nearest = self.store.nearest(vector, pool, self.dense_filter, version.lang)
        # A chunk stored after this retriever was built is not ranked until a reload.
        found = [(self.by_id[i], sim) for i, sim in nearest if i in version.ids]
        return found[:pool]

    def _rank(self, version: Version, query: str, k: int, dense_search: bool) -> list[ParagraphHit]:
        dense = self._dense(version, query) if dense_search else []
        pool = min(len(version.chunks), CANDIDATE_POOL)
        lexical = version.lexical.search(terms(query, version.lang), pool)
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

    def about(self, question: str, numbers: Sequence[int], lang: str | None = None) -> SearchResult:
        """A result that ranks ``numbers`` (the paragraphs a conversation is about)."""
        version = self.version(lang or detect_language(clean_user_text(question)))
        hits = [
            ParagraphHit(n, 1.0, self._chunk_of(n, version)) for n in numbers if n in self.numbers
        ]
        return SearchResult(
            clean_user_text(question), hits, None, 1.0, bool(hits), [], version.lang
        )

    def covers(self, question: str, lang: str | None = None) -> bool:
        """True when the statement talks about ``question`` (the relevance gate alone)."""
        version, respelled, query = self.prepare(question, lang)
        coverage, _ = version.gate.coverage(query)
        return coverage >= version.gate.min_coverage and not version.gate.unknown_names(respelled)

    def search(
        self, question: str, k: int = 5, dense: bool = True, lang: str | None = None
    ) -> SearchResult:
        """Paragraphs for a question in ``lang`` (detected when None), searched in that
        language's version (English when it has none); paragraph references first."""
        request = self.reference(question)
        cleaned = clean_user_text(question)
        if request is not None:
            version = self.version(lang or detect_language(cleaned))
            hits = [ParagraphHit(n, 1.0, self._chunk_of(n, version)) for n in request.numbers]
            return SearchResult(
                cleaned, hits, request, 1.0, bool(request.numbers), [], version.lang
            )
        version, respelled, query = self.prepare(cleaned, lang)
        coverage, unknown = version.gate.coverage(query)
        names = version.gate.unknown_names(respelled)
        hits = self._rank(version, query, k, dense) if cleaned else []
        other = self._other_script(respelled, version)
        if other is not None and hits:
            # A question in two scripts ("comprehensive convention 要禁止哪些行为"): the
            # whole of it is searched in both versions, and each part is covered by its own.
            other_query = expand_aliases(respelled, lang=other.lang)
            hits = _fuse_paragraphs(hits, self._rank(other, other_query, k, dense), k)
            theirs, ours = split_script(other_query, other.lang)
            coverage, unknown = _weighted_coverage(
                [(version.gate, expand_aliases(ours, lang=version.lang)), (other.gate, theirs)]
            )
        covered = bool(hits) and coverage >= version.gate.min_coverage and not names
        unknown = names + unknown
        return SearchResult(cleaned, hits, None, round(coverage, 3), covered, unknown, version.lang)

    def _other_script(self, question: str, version: Version) -> Version | None:
        """The version of a second script holding a good share of the question's words."""
        scripts = script_languages(question)
        total = sum(n for _, n in scripts)
        own = _SCRIPT_OF.get(version.lang, "en")
        for lang, words in scripts:
            if lang != own and words >= _MIXED_MIN_WORDS and words >= _MIXED_SHARE * total:
                return self.versions.get(lang)
        return None

    def _chunk_of(self, paragraph: int, version: Version) -> Chunk:
        """The first chunk of ``paragraph`` in ``version`` (in any version if it lacks one)."""
        for chunks in (version.chunks, self.chunks):
            for chunk in chunks:
                if chunk.paragraph == paragraph:
                    return chunk
        raise KeyError(paragraph)
