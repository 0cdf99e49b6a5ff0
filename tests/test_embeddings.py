"""The embeddings factory: offline hashing by default, neural providers as opt-in extras."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from retrieval.embeddings import (
    DEFAULT_HASHING_DIM,
    HASHING_VERSION,
    HashingEmbeddings,
    make_embeddings,
)
from retrieval.errors import EmbeddingConfigError

TEXTS = [
    "核裁军是裁军谈判会议最为优先的任务。",
    "Nuclear disarmament is the highest priority of the Conference on Disarmament.",
    "混合 mixed 文本 text 2013",
]


def test_default_is_hashing() -> None:
    for spec in ("", "hashing", " hashing ", "HASHING"):
        choice = make_embeddings(spec)
        assert isinstance(choice.embeddings, HashingEmbeddings)
        assert isinstance(choice.embeddings, Embeddings)
        assert choice.embedding_id == f"hashing-v{HASHING_VERSION}-{DEFAULT_HASHING_DIM}"


def test_hashing_is_deterministic() -> None:
    first = make_embeddings("hashing").embeddings.embed_documents(TEXTS)
    second = HashingEmbeddings().embed_documents(TEXTS)
    assert first == second
    assert make_embeddings("hashing").embeddings.embed_query(TEXTS[0]) == first[0]


@pytest.mark.parametrize("dimension", [64, 256, 1024, 4096])
def test_hashing_dimension_and_norm(dimension: int) -> None:
    choice = make_embeddings(f"hashing:{dimension}")
    assert choice.embedding_id == f"hashing-v{HASHING_VERSION}-{dimension}"
    vectors = np.array(choice.embeddings.embed_documents(TEXTS))
    assert vectors.shape == (len(TEXTS), dimension)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert (vectors < 0).any() and (vectors > 0).any()  # signed: collisions cancel out


def test_hashing_vectors_are_signed_feature_counts() -> None:
    """Each feature adds ±1 at its bucket; the vector is those counts, L2-normalised."""
    embed = HashingEmbeddings(256)
    one = np.array(embed.embed_query("disarmament"))  # one feature: the stem "disarma"
    assert np.count_nonzero(one) == 1 and abs(float(one.sum())) == pytest.approx(1.0)
    assert embed.embed_query("") == [0.0] * 256  # nothing to hash: the zero vector


def test_related_texts_are_closer_than_unrelated() -> None:
    embed = make_embeddings("hashing").embeddings
    question = np.array(embed.embed_query("What is the priority of the Conference on Disarmament?"))
    related = np.array(embed.embed_query(TEXTS[1]))
    unrelated = np.array(embed.embed_query("Latin America and the Caribbean as a zone of peace"))
    assert question @ related > question @ unrelated
    zh_question = np.array(embed.embed_query("裁谈会最优先的任务"))
    assert zh_question @ np.array(embed.embed_query(TEXTS[0])) > zh_question @ unrelated


@pytest.mark.parametrize(
    "spec", ["hashing:abc", "hashing:32", "hashing:0", "hashing:-5", "hashing:70000", "hashing:1.5"]
)
def test_invalid_hashing_dimension(spec: str) -> None:
    with pytest.raises(EmbeddingConfigError, match="hashing"):
        make_embeddings(spec)


@pytest.mark.parametrize("spec", ["word2vec", "sentence-transformers:bge-m3", "foo:bar"])
def test_unknown_provider_lists_the_valid_choices(spec: str) -> None:
    with pytest.raises(EmbeddingConfigError) as caught:
        make_embeddings(spec)
    message = str(caught.value)
    assert repr(spec) in message
    for choice in ("'hashing'", "'huggingface:MODEL'", "'openai:MODEL'", "'ollama:MODEL'"):
        assert choice in message


@pytest.mark.parametrize(
    ("spec", "module", "extra"),
    [
        ("ollama:nomic-embed-text", "langchain_ollama", "ollama"),
        ("huggingface:BAAI/bge-m3", "langchain_huggingface", "huggingface"),
    ],
)
def test_provider_without_its_extra_names_the_extra(spec: str, module: str, extra: str) -> None:
    if importlib.util.find_spec(module) is not None:
        pytest.skip(f"{module} is installed here; this test needs it absent")
    with pytest.raises(EmbeddingConfigError) as caught:
        make_embeddings(spec)
    assert f"pip install 'g21-bot[{extra}]'" in str(caught.value)
    assert spec in str(caught.value)


@pytest.mark.parametrize("spec", ["openai", "openai:", "ollama:", "huggingface"])
def test_provider_needs_a_model(spec: str) -> None:
    with pytest.raises(EmbeddingConfigError, match="needs a model name"):
        make_embeddings(spec)


def test_openai_provider_builds_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    # langchain-openai is a dev dependency: building the client must not touch the network.
    if importlib.util.find_spec("langchain_openai") is None:
        pytest.skip("langchain-openai not installed")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    choice = make_embeddings("openai:text-embedding-3-small")
    assert choice.embedding_id == "openai-text-embedding-3-small"
    assert isinstance(choice.embeddings, Embeddings)
