"""Prompt templates as data: ``NAME.LANG.txt`` files with ``{named}`` variables."""

from __future__ import annotations

import string
from functools import lru_cache
from importlib import resources


class PromptError(LookupError):
    """A template is missing, or rendering it lacks a variable it names."""


@lru_cache(maxsize=64)
def load(name: str, lang: str) -> str:
    """The raw template ``name`` for ``lang`` (English when that language has none)."""
    for candidate in (lang, "en"):
        path = resources.files(__package__) / f"{name}.{candidate}.txt"
        if path.is_file():
            return path.read_text(encoding="utf-8").strip() + "\n"
    raise PromptError(f"no prompt template '{name}' for language '{lang}'")


def variables(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def render(name: str, lang: str, **values: object) -> str:
    """Fill a template; every variable it names must be given (extra values are an error too)."""
    template = load(name, lang)
    needed = variables(template)
    missing = sorted(needed - values.keys())
    if missing:
        raise PromptError(f"prompt '{name}.{lang}' needs {', '.join(missing)}")
    unused = sorted(values.keys() - needed)
    if unused:
        raise PromptError(f"prompt '{name}.{lang}' has no variable {', '.join(unused)}")
    return template.format(**values)
