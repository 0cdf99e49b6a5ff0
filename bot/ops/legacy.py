"""The chat state of earlier versions: PTB's PicklePersistence file, read without trusting
it (only plain containers; our and PTB's classes become plain field holders)."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from bot.answering.answer import Turn
from bot.ops.turns import turn_from_json


def legacy_state(data: Any) -> tuple[dict[str, dict[str, Any]], dict[tuple[int, str], list[Turn]]]:
    """(settings by sender, turns by (chat, sender)) from the pickle's user_data and
    chat_data ({user: {"lang": …}}, {chat: {"history": {user: [Turn, …]}}})."""
    data = data if isinstance(data, dict) else {}
    people: dict[str, dict[str, Any]] = {}
    for user_id, values in (data.get("user_data") or {}).items():
        lang = values.get("lang") if isinstance(values, dict) else None
        if isinstance(lang, str):
            people[f"u:{user_id}"] = {"lang": lang}
    histories: dict[tuple[int, str], list[Turn]] = {}
    for chat_id, values in (data.get("chat_data") or {}).items():
        by_user = values.get("history", {}) if isinstance(values, dict) else {}
        for user_id, turns in by_user.items():
            rebuilt = []
            for item in turns or []:
                fields = item.__dict__ if isinstance(item, _Loose) else item
                turn = item if isinstance(item, Turn) else turn_from_json(fields)
                if turn is not None:
                    rebuilt.append(turn)
            histories[(int(chat_id), f"u:{user_id}")] = rebuilt
    return people, histories


class _Loose:
    """Stands in for any class of ours or PTB's in an old pickle: keeps its fields."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.__dict__.update(kwargs)

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple):  # (dict, slots)
            for part in state:
                if isinstance(part, dict):
                    self.__dict__.update(part)
        elif isinstance(state, dict):
            self.__dict__.update(state)


_SAFE = {
    ("builtins", name)
    for name in ("dict", "list", "tuple", "set", "frozenset", "str", "int", "float", "bool")
} | {("collections", "defaultdict"), ("collections", "OrderedDict"), ("copyreg", "_reconstructor")}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _SAFE:
            return super().find_class(module, name)
        if module.split(".")[0] in ("bot", "telegram"):
            return _Loose  # Turn moved between modules over time; Bot objects are not needed
        raise pickle.UnpicklingError(f"unexpected {module}.{name} in the pickle")

    def persistent_load(self, pid: Any) -> Any:
        return None  # PTB's placeholder for the Bot instance


def load_pickle(path: Path) -> Any:
    with path.open("rb") as file:
        return _Unpickler(file).load()
