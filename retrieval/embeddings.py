"""Embeddings by name: offline hashing by default, neural providers as opt-in extras."""

from __future__ import annotations

import importlib
import itertools
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from langchain_core.embeddings import Embeddings

from retrieval.analyze import han_bigrams, terms
from retrieval.errors import EmbeddingConfigError
from retrieval.text import HAN_RUN

# v2: signed CRC-32 feature hashing in numpy. v1 was scikit-learn's HashingVectorizer with
# counts only: its import alone cost ~65 MB of memory, and unsigned counts let colliding
# features add up, where signed ones cancel out on average (the usual hashing trick).
HASHING_VERSION = 2
# 256 dimensions ranked both question sets as well as v1's 1024 did (README, Performance),
# and hold a 100k-paragraph HNSW index in a quarter of the memory.
DEFAULT_HASHING_DIM = 256


def _features(text: str, cache: bool = True) -> list[str]:
    """Words (jieba / stemmed English), English word pairs and Chinese character bigrams:
    words carry meaning, bigrams survive segmentation differences between question and text."""
    words = terms(text, cache=cache)
    latin = [w for w in words if not HAN_RUN.fullmatch(w)]
    pairs = [f"{a}_{b}" for a, b in itertools.pairwise(latin)]
    return words + pairs + [f"#{g}" for g in han_bigrams(text)]


class HashingEmbeddings(Embeddings):
    """Deterministic, offline, L2-normalised signed hashed bag of words and bigrams."""

    def __init__(self, dimension: int = DEFAULT_HASHING_DIM) -> None:
        self.dimension = dimension

    def vector(self, text: str, cache: bool = True) -> np.ndarray:
        """One text as a float32 vector: each feature adds ±1 at its CRC-32 bucket (the sign
        from the hash's top bit), then L2-normalised."""
        hashes = np.fromiter(
            (zlib.crc32(f.encode("utf-8")) for f in _features(text, cache)), dtype=np.uint32
        )
        signs = np.where(hashes >> 31, 1.0, -1.0)
        buckets = (hashes % self.dimension).astype(np.intp)
        vector = np.bincount(buckets, signs, minlength=self.dimension).astype(np.float32)
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.vector(t, cache=False).tolist() for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.vector(text).tolist()


# Hashed words are a second, noisier opinion of what BM25 already sees: in the fusion they
# count half. On both question sets, half weight ranked better than full weight (README).
HASHING_FUSION_WEIGHT = 0.5


def query_vector(embeddings: Embeddings, text: str) -> np.ndarray:
    """A question's vector as float32 numpy: Chroma takes it as it is, where a list of
    Python floats is converted and checked again on every query."""
    if isinstance(embeddings, HashingEmbeddings):
        return embeddings.vector(text)
    return np.asarray(embeddings.embed_query(text), dtype=np.float32)


@dataclass(frozen=True)
class EmbeddingChoice:
    """The embeddings, the id recorded with every collection built from them, and the weight
    of their ranking against BM25's in the fusion."""

    embeddings: Embeddings
    embedding_id: str
    fusion_weight: float = 1.0


def _hashing(model: str) -> EmbeddingChoice:
    try:
        dimension = int(model) if model else DEFAULT_HASHING_DIM
    except ValueError as exc:
        raise EmbeddingConfigError(
            f"hashing takes a dimension (e.g. 'hashing:1024'), not {model!r}"
        ) from exc
    if not 64 <= dimension <= 65536:
        raise EmbeddingConfigError("hashing dimension must be between 64 and 65536")
    return EmbeddingChoice(
        HashingEmbeddings(dimension),
        f"hashing-v{HASHING_VERSION}-{dimension}",
        HASHING_FUSION_WEIGHT,
    )


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
