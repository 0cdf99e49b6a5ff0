"""Domain errors raised by the retrieval layer; ``bot/`` turns them into replies."""

from __future__ import annotations

from pathlib import Path


class RetrievalError(Exception):
    """Base class for every error the retrieval layer raises on purpose."""


class StatementFormatError(RetrievalError):
    """A statement file cannot be read as numbered paragraphs."""

    def __init__(self, path: str | Path, line: int | None, problem: str) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {problem}")


class ManifestError(RetrievalError):
    """The corpus manifest is missing, malformed or names files that do not fit."""


class EmbeddingConfigError(RetrievalError):
    """An embedding setting names an unknown provider or one whose extra is not installed."""


class StoreMismatchError(RetrievalError):
    """The collection was built with other embeddings than the ones asked for."""


class StoreUnavailableError(RetrievalError):
    """The vector store cannot be reached or opened right now."""


class StoreTimeoutError(StoreUnavailableError):
    """The vector store took longer than its timeout to answer (hung, or overloaded)."""


class IndexNotReadyError(RetrievalError):
    """The store holds no chunks for the corpus yet: ``g21bot ingest`` has not run."""
