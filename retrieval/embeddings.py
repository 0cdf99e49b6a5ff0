"""Embeddings by name: offline hashing by default, neural providers as opt-in extras."""

from __future__ import annotations

import importlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from langchain_core.embeddings import Embeddings
from sklearn.feature_extraction.text import HashingVectorizer

from retrieval.analyze import han_bigrams, terms
from retrieval.errors import EmbeddingConfigError
from retrieval.text import HAN_RUN

HASHING_VERSION = 1
DEFAULT_HASHING_DIM = 1024


def _features(text: str) -> list[str]:
    """Words (jieba / stemmed English), English word pairs and Chinese character bigrams:
    words carry meaning, bigrams survive segmentation differences between question and text."""
    words = terms(text)
    latin = [w for w in words if not HAN_RUN.fullmatch(w)]
    pairs = [f"{a}_{b}" for a, b in itertools.pairwise(latin)]
    return words + pairs + [f"#{g}" for g in han_bigrams(text)]


class HashingEmbeddings(Embeddings):
    """Deterministic, offline, L2-normalised hashed bag of words and character bigrams."""

    def __init__(self, dimension: int = DEFAULT_HASHING_DIM) -> None:
        self.dimension = dimension
        self._vectorizer = HashingVectorizer(
            analyzer=_features, n_features=dimension, alternate_sign=False, norm="l2"
        )

    def _embed(self, texts: list[str]) -> list[list[float]]:
        matrix = self._vectorizer.transform(texts)
        dense = np.asarray(matrix.todense(), dtype=np.float32)
        return dense.tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._embed(texts)

    def embed_query(self, text: str) -> list[float]:
        return self._embed([text])[0]


@dataclass(frozen=True)
class EmbeddingChoice:
    """The embeddings and the id recorded with every collection built from them."""

    embeddings: Embeddings
    embedding_id: str


def _hashing(model: str) -> EmbeddingChoice:
    try:
        dimension = int(model) if model else DEFAULT_HASHING_DIM
    except ValueError as exc:
        raise EmbeddingConfigError(
            f"hashing takes a dimension (e.g. 'hashing:1024'), not {model!r}"
        ) from exc
    if not 64 <= dimension <= 65536:
        raise EmbeddingConfigError("hashing dimension must be between 64 and 65536")
    return EmbeddingChoice(HashingEmbeddings(dimension), f"hashing-v{HASHING_VERSION}-{dimension}")


def _lazy(module: str, cls: str, extra: str, **kwargs: str) -> Callable[[str], EmbeddingChoice]:
    def build(model: str) -> EmbeddingChoice:
        if not model:
            raise EmbeddingConfigError(f"'{extra}' needs a model name: '{extra}:MODEL'")
        try:
            provider = importlib.import_module(module)
        except ImportError as exc:
            raise EmbeddingConfigError(
                f"embeddings '{extra}:{model}' need the optional extra: "
                f"pip install 'g21-bot[{extra}]'"
            ) from exc
        params = {key: model if value == "{model}" else value for key, value in kwargs.items()}
        return EmbeddingChoice(getattr(provider, cls)(**params), f"{extra}-{model}")

    return build


PROVIDERS: dict[str, Callable[[str], EmbeddingChoice]] = {
    "hashing": _hashing,
    "huggingface": _lazy(
        "langchain_huggingface", "HuggingFaceEmbeddings", "huggingface", model_name="{model}"
    ),
    "openai": _lazy("langchain_openai", "OpenAIEmbeddings", "openai", model="{model}"),
    "ollama": _lazy("langchain_ollama", "OllamaEmbeddings", "ollama", model="{model}"),
}


def make_embeddings(spec: str) -> EmbeddingChoice:
    """Build embeddings from ``hashing`` (default), ``hashing:DIM`` or ``provider:model``."""
    provider, _, model = (spec or "hashing").strip().partition(":")
    build = PROVIDERS.get(provider.strip().lower())
    if build is None:
        valid = ", ".join(
            f"'{name}'" if name == "hashing" else f"'{name}:MODEL'" for name in PROVIDERS
        )
        raise EmbeddingConfigError(f"unknown embeddings {spec!r}; valid choices: {valid}")
    return build(model.strip())
