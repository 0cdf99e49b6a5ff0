"""Token-bounded chunks of statement paragraphs, with stable ids and content hashes."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from retrieval.parse import Statement
from retrieval.text import split_sentences
from retrieval.tokens import count_tokens

DEFAULT_MAX_TOKENS = 512
DEFAULT_OVERLAP_SENTENCES = 1


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of one paragraph in one language: what the indexes store."""

    doc_id: str
    lang: str
    paragraph: int
    index: int
    text: str
    tokens: int
    # Position, not content: an edited paragraph keeps its id and is updated in place.
    id: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Computed once: ranking looks ids up a hundred times an answer.
        object.__setattr__(self, "id", f"{self.doc_id}:{self.lang}:{self.paragraph}:{self.index}")

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:16]

    def metadata(self) -> dict[str, str | int]:
        return {
            "doc_id": self.doc_id,
            "lang": self.lang,
            "paragraph": self.paragraph,
            "chunk": self.index,
            "tokens": self.tokens,
            "hash": self.content_hash,
        }


_CLAUSE = re.compile(r"(?<=[，、,：:])")


def _hard_split(sentence: str, max_tokens: int) -> list[str]:
    """A sentence over budget is cut at clause marks, and a clause still over budget
    character by character (never inside a character, as a token cut could be)."""
    # Counted as stored, stripped: `responding` can take more tokens than ` responding`.
    pieces: list[str] = []
    current = ""
    for clause in (c for c in _CLAUSE.split(sentence) if c):
        parts = [clause] if count_tokens(clause.strip()) <= max_tokens else list(clause)
        for part in parts:
            if current.strip() and count_tokens((current + part).strip()) > max_tokens:
                pieces.append(current.strip())
                current = part
            else:
                current += part
    if current.strip():
        pieces.append(current.strip())
    return pieces


def split_paragraph(text: str, lang: str, max_tokens: int, overlap: int) -> list[str]:
    """One piece when it fits; else sentence-aligned pieces under budget, each starting
    with the last ``overlap`` sentences of the previous one (when they fit)."""
    if count_tokens(text) <= max_tokens:
        return [text]
    sentences: list[str] = []
    for sentence in split_sentences(text, lang):
        if count_tokens(sentence) > max_tokens:
            sentences.extend(_hard_split(sentence, max_tokens))
        else:
            sentences.append(sentence)
    joiner = "" if lang == "zh" else " "
    pieces: list[list[str]] = []
    current: list[str] = []
    for sentence in sentences:
        candidate = [*current, sentence]
        if current and count_tokens(joiner.join(candidate)) > max_tokens:
            pieces.append(current)
            carried = current[-overlap:] if overlap else []
            while carried and count_tokens(joiner.join([*carried, sentence])) > max_tokens:
                carried = carried[1:]
            current = [*carried, sentence]
        else:
            current = candidate
    if current:
        pieces.append(current)
    return [joiner.join(p).strip() for p in pieces]


def check_budget(max_tokens: int) -> None:
    if max_tokens < 8:
        raise ValueError("chunk token budget must be at least 8")


def chunk_statement(
    statement: Statement,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    overlap: int = DEFAULT_OVERLAP_SENTENCES,
) -> list[Chunk]:
    check_budget(max_tokens)
    chunks = []
    for number, text in statement.paragraphs.items():
        for index, piece in enumerate(split_paragraph(text, statement.lang, max_tokens, overlap)):
            chunks.append(
                Chunk(statement.doc_id, statement.lang, number, index, piece, count_tokens(piece))
            )
    return chunks
