"""The official Bot API spec (telegram-bot-api-spec ``api.json``, from
``../shared/telegram-bot-api/api.json`` or ``$TELEGRAM_BOT_API_SPEC``) and checking requests
and objects against it: method exists, required fields present, no unknown fields, value
types, documented ``N-M characters`` limits, Telegram-flavoured HTML for ``parse_mode=HTML``."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from tests.fakes.telegram_html import check_html, plain_text

JSONDict = dict[str, Any]

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_ENV_VAR = "TELEGRAM_BOT_API_SPEC"
DEFAULT_SPEC_PATH = REPO_ROOT.parent / "shared" / "telegram-bot-api" / "api.json"


def spec_path() -> Path:
    """Where the spec is read from: ``$TELEGRAM_BOT_API_SPEC`` or ``../shared/...``."""
    env = os.environ.get(SPEC_ENV_VAR)
    return Path(env) if env else DEFAULT_SPEC_PATH


class ApiSpec:
    """The telegram-bot-api-spec ``api.json``: ``methods`` and ``types`` by name, each with
    ``fields`` (name, types, required, description); abstract types list ``subtypes``."""

    def __init__(self, data: JSONDict) -> None:
        self.version: str = str(data.get("version", "?"))
        self.methods: dict[str, JSONDict] = data["methods"]
        self.types: dict[str, JSONDict] = data["types"]
        self._method_by_lower = {name.lower(): name for name in self.methods}

    def canonical_method(self, name: str) -> str | None:
        """Bot API method names are case-insensitive; this gives the spelling of the spec."""
        return self._method_by_lower.get(name.lower())

    def method_fields(self, method: str) -> dict[str, JSONDict]:
        return {f["name"]: f for f in self.methods[method].get("fields", [])}

    def type_fields(self, type_name: str) -> dict[str, JSONDict]:
        return {f["name"]: f for f in self.types[type_name].get("fields", [])}

    def subtypes(self, type_name: str) -> list[str]:
        return list(self.types.get(type_name, {}).get("subtypes", []))


@lru_cache(maxsize=4)
def _load_spec_cached(path: str) -> ApiSpec | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return ApiSpec(json.load(fh))
    except (OSError, ValueError, KeyError):
        return None


def load_spec(path: Path | str | None = None) -> ApiSpec | None:
    """The parsed spec, or ``None`` when the file is absent or unreadable (cached)."""
    return _load_spec_cached(str(path if path is not None else spec_path()))


_STR_LIMIT_RE = re.compile(r"\b(\d+)-(\d+) (characters|bytes)\b")
_ARRAY_LIMIT_RE = re.compile(r"(?:list of|array of|include) (\d+)-(\d+)\b|\b(\d+)-(\d+) items\b")
_DISCRIMINATOR_RE = re.compile(r'(?:always|must be) "?([a-z_]+)"?')
_NUM_LIMIT_RE = re.compile(r"(?:[Vv]alues between |[;,] )(\d+)-(\d+)\b")


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request."""

    filename: str
    content_type: str
    data: bytes = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.data)


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, float):
        return "Float"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, dict):
        return "Object"
    if isinstance(value, UploadedFile):
        return "InputFile"
    return type(value).__name__


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class SpecChecker:
    """Checks method parameters and objects against an ``ApiSpec``."""

    def __init__(self, spec: ApiSpec) -> None:
        self.spec = spec

    # -- public --------------------------------------------------------------------------
    def check_request(self, method: str, params: JSONDict) -> tuple[list[str], list[str]]:
        """(missing required fields, all violations as readable strings) for one request."""
        name = self.spec.canonical_method(method)
        if name is None:
            return [], [f"{method}: method does not exist in the Bot API spec"]
        fields = self.spec.method_fields(name)
        missing = [f for f, d in fields.items() if d.get("required") and f not in params]
        problems = [f"{f}: required field missing" for f in missing]
        problems += self._check_fields(fields, params, "", f"method {name}")
        return missing, [f"{name}: {p}" for p in problems]

    def check_object(self, type_name: str, obj: object, path: str = "") -> list[str]:
        """Violations of ``obj`` as the Bot API type ``type_name`` (e.g. "Update")."""
        return self._check_single(type_name, obj, path or type_name)

    # -- internals -----------------------------------------------------------------------
    def _check_fields(
        self, fields: dict[str, JSONDict], obj: JSONDict, prefix: str, owner: str
    ) -> list[str]:
        problems: list[str] = []
        for key, value in obj.items():
            path = f"{prefix}{key}"
            spec_field = fields.get(key)
            if spec_field is None:
                problems.append(f"{path}: unknown field (not in {owner})")
                continue
            if value is None:
                continue
            problems += self._check_value(spec_field["types"], value, path)
            problems += self._check_limits(spec_field, value, obj, path)
        return problems

    def _check_object(self, type_name: str, obj: object, path: str) -> list[str]:
        if not isinstance(obj, dict):
            return [f"{path}: expected {type_name}, got {_type_name(obj)} {_short(obj)}"]
        fields = self.spec.type_fields(type_name)
        problems = [
            f"{path}.{name}: required field missing"
            for name, d in fields.items()
            if d.get("required") and name not in obj
        ]
        return problems + self._check_fields(fields, obj, f"{path}.", f"type {type_name}")

    def _check_value(self, types: list[str], value: object, path: str) -> list[str]:
        best: list[str] | None = None
        plain_mismatch = True
        for type_name in types:
            problems = self._check_single(type_name, value, path)
            if not problems:
                return []
            plain_mismatch = plain_mismatch and problems == [
                f"{path}: expected {type_name}, got {_type_name(value)} {_short(value)}"
            ]
            if best is None or len(problems) < len(best):
                best = problems
        if len(types) > 1 and plain_mismatch:
            got = f"{_type_name(value)} {_short(value)}"
            return [f"{path}: expected {' or '.join(types)}, got {got}"]
        return best or []

    def _check_single(self, type_name: str, value: object, path: str) -> list[str]:
        mismatch = [f"{path}: expected {type_name}, got {_type_name(value)} {_short(value)}"]
        if type_name.startswith("Array of "):
            if not isinstance(value, list):
                return mismatch
            inner = type_name.removeprefix("Array of ")
            problems: list[str] = []
            for i, item in enumerate(value):
                problems += self._check_single(inner, item, f"{path}[{i}]")
            return problems
        if type_name == "Integer":
            return [] if isinstance(value, int) and not isinstance(value, bool) else mismatch
        if type_name in ("Float", "Float number"):
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            return [] if ok else mismatch
        if type_name in ("Boolean", "True"):
            return [] if isinstance(value, bool) else mismatch
        if type_name == "String":
            return [] if isinstance(value, str) else mismatch
        if type_name == "InputFile":
            return [] if isinstance(value, UploadedFile | str) else mismatch
        if type_name not in self.spec.types:
            return []
        subtypes = self.spec.subtypes(type_name)
        if not subtypes:
            return self._check_object(type_name, value, path)
        if not isinstance(value, dict):
            return mismatch
        candidates = self._candidate_subtypes(subtypes, value)
        if not candidates:
            return [f"{path}: no subtype of {type_name} matches {_short(value)}"]
        best: list[str] | None = None
        for sub in candidates:
            problems = self._check_single(sub, value, path)
            if not problems:
                return []
            if best is None or len(problems) < len(best):
                best = problems
        return best or []

    def _candidate_subtypes(self, subtypes: list[str], value: JSONDict) -> list[str]:
        """Subtypes whose discriminator (``type``/``status``/``source``: 'always "x"',
        'must be x') matches ``value``; all subtypes when none has a discriminator."""
        matching: list[str] = []
        discriminated = False
        for sub in subtypes:
            fields = self.spec.types.get(sub, {}).get("fields", [])
            tag = next((f for f in fields if f["name"] in ("type", "status", "source")), None)
            match = _DISCRIMINATOR_RE.search(str(tag.get("description", ""))) if tag else None
            if tag is None or match is None:
                matching.append(sub)
                continue
            discriminated = True
            if value.get(tag["name"]) == match[1]:
                matching.append(sub)
        return matching if discriminated else subtypes

    def _check_limits(
        self, spec_field: JSONDict, value: object, owner: JSONDict, path: str
    ) -> list[str]:
        description = str(spec_field.get("description", ""))
        types = spec_field["types"]
        problems: list[str] = []
        if isinstance(value, str) and "String" in types:
            match = _STR_LIMIT_RE.search(description)
            if match:
                low, high, unit = int(match[1]), int(match[2]), match[3]
                if unit == "bytes":
                    size = len(value.encode("utf-8"))
                else:
                    text = value
                    if "after entit" in description:
                        mode = owner.get("parse_mode") or owner.get(
                            f"{spec_field['name']}_parse_mode"
                        )
                        text = plain_text(value, mode if isinstance(mode, str) else None)
                    size = len(text)
                if not low <= size <= high:
                    problems.append(f"{path}: length {size} {unit} outside {low}-{high} {unit}")
        elif isinstance(value, list) and any(t.startswith("Array of") for t in types):
            match = _ARRAY_LIMIT_RE.search(description)
            if match:
                low, high = (int(g) for g in (match[1] or match[3], match[2] or match[4]))
                if not low <= len(value) <= high:
                    problems.append(f"{path}: {len(value)} items outside {low}-{high} items")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            match = _NUM_LIMIT_RE.search(description)
            if match and ("Integer" in types or "Float" in types):
                low, high = int(match[1]), int(match[2])
                if not low <= value <= high:
                    problems.append(f"{path}: value {value} outside {low}-{high}")
        return problems


def formatting_violations(obj: object, path: str = "") -> list[str]:
    """HTML problems anywhere in ``obj``: each dict with ``parse_mode: HTML`` has its ``text``,
    ``caption`` and ``message_text`` checked; ``X_parse_mode: HTML`` checks field ``X``."""
    problems: list[str] = []
    if isinstance(obj, dict):
        for key, mode in obj.items():
            if not isinstance(mode, str) or mode.lower() != "html":
                continue
            if key == "parse_mode":
                targets = ["text", "caption", "message_text"]
            elif key.endswith("_parse_mode"):
                targets = [key.removesuffix("_parse_mode")]
            else:
                continue
            for target in targets:
                value = obj.get(target)
                if isinstance(value, str):
                    problems += [f"{path}{target}: bad HTML: {p}" for p in check_html(value)]
        for key, value in obj.items():
            problems += formatting_violations(value, f"{path}{key}.")
    elif isinstance(obj, list):
        for i, item in enumerate(obj):
            problems += formatting_violations(item, f"{path.rstrip('.')}[{i}].")
    return problems


def _callback_data_violations(obj: object, path: str = "") -> list[str]:
    """callback_data of InlineKeyboardButtons must be 1-64 bytes (checked without the spec)."""
    problems: list[str] = []
    if isinstance(obj, dict):
        data = obj.get("callback_data")
        if "text" in obj and isinstance(data, str) and not 1 <= len(data.encode()) <= 64:
            problems.append(f"{path}callback_data: {len(data.encode())} bytes outside 1-64 bytes")
        for key, value in obj.items():
            problems += _callback_data_violations(value, f"{path}{key}.")
    elif isinstance(obj, list):
        for i, item in enumerate(obj):
            problems += _callback_data_violations(item, f"{path.rstrip('.')}[{i}].")
    return problems
