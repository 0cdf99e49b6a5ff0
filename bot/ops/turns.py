"""Conversation turns as JSON, read back tolerantly: other versions add or lack fields."""

from __future__ import annotations

from dataclasses import MISSING, asdict, fields
from typing import Any

from bot.answering.answer import Turn


def turn_to_json(turn: Turn) -> dict[str, Any]:
    return asdict(turn)


_FALLBACKS: dict[str, Any] = {"str": "", "int": 0, "float": 0.0, "bool": False}


def turn_from_json(data: object) -> Turn | None:
    """A Turn from what an older or newer version stored: unknown keys ignored, missing ones
    defaulted; None when it cannot be one."""
    if not isinstance(data, dict):
        return None
    values: dict[str, Any] = {}
    for f in fields(Turn):
        type_name = str(f.type)
        if f.name in data:
            value = data[f.name]
            if type_name.startswith("tuple"):
                value = tuple(value) if isinstance(value, list | tuple) else ()
            values[f.name] = value
        elif f.default is not MISSING or f.default_factory is not MISSING:
            continue  # the dataclass has its own default
        elif type_name.startswith(("tuple", "list")):
            values[f.name] = () if type_name.startswith("tuple") else []
        else:
            values[f.name] = _FALLBACKS.get(type_name.partition("|")[0].strip())
    try:
        return Turn(**values)
    except TypeError:
        return None
