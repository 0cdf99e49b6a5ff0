"""A local stand-in for the Telegram Bot API, for offline tests.

``BotApiStandIn`` runs a small HTTP server on 127.0.0.1 (free port, background thread) that
answers ``/bot<TOKEN>/<method>`` the way api.telegram.org does, well enough for
python-telegram-bot 22 (``telegram.Bot(token, base_url=api.base_url)``) to work against it:

* realistic results for the methods a chat bot uses (getMe, getUpdates with offset and long
  polling, sendMessage, editMessageText, ...); any other method of the spec answers ``True``,
  a method that is not in the spec gets ``404 Not Found``, a wrong token ``401 Unauthorized``;
* every request is recorded (``requests()``, ``sent_messages()``) and checked against the
  official spec (``../shared/telegram-bot-api/api.json`` or ``$TELEGRAM_BOT_API_SPEC``):
  method exists, required fields present, no unknown fields, value types, documented
  ``N-M characters`` limits, Telegram-flavoured HTML for ``parse_mode=HTML``; problems are
  collected in ``violations`` (only a missing required field is answered with 400);
* updates are injected with helpers (``private_text``, ``group_text``, ``callback``, ...);
* faults are injected with ``fail_next`` / ``fail_ratio`` (429, 500, slow answer, dropped
  connection, or a 400 with a chosen description such as "can't parse entities");
* ``wait_for`` / ``awaitable_wait_for`` wait on a condition that is notified on every
  request, so tests never sleep to synchronise.

Usage::

    with BotApiStandIn() as api:
        bot = telegram.Bot(api.token, base_url=api.base_url)
        api.private_text(42, "hello")
        ...
        api.wait_for(lambda: api.sent_messages(42))
        assert api.violations == []
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import email.parser
import email.policy
import json
import os
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import parse_qsl, urlsplit

JSONDict = dict[str, Any]
T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parents[1]
SPEC_ENV_VAR = "TELEGRAM_BOT_API_SPEC"
DEFAULT_SPEC_PATH = REPO_ROOT.parent / "shared" / "telegram-bot-api" / "api.json"

DEFAULT_TOKEN = "123456:TEST-token"
BOT_ID = 1000
BOT_USERNAME = "g21_test_bot"
BOT_FIRST_NAME = "G21 Bot"
BOT_USER: JSONDict = {
    "id": BOT_ID,
    "is_bot": True,
    "first_name": BOT_FIRST_NAME,
    "username": BOT_USERNAME,
}
GET_ME: JSONDict = {
    **BOT_USER,
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": True,
    "can_connect_to_business": False,
    "has_main_web_app": False,
}

FAULT_KINDS = ("429", "500", "400", "slow", "drop")
DEFAULT_400 = "Bad Request: can't parse entities: unsupported start tag at byte offset 0"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (the unit of Telegram entity offsets)."""
    return len(text.encode("utf-16-le")) // 2


# --------------------------------------------------------------------------------------------
# The spec
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Telegram HTML (parse_mode=HTML)
# --------------------------------------------------------------------------------------------

_HTML_TAG_ENTITY = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "tg-emoji": "custom_emoji",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-time": "date_time",
}
_HTML_ALLOWED_ATTRS: dict[str, set[str]] = {
    "a": {"href"},
    "span": {"class"},
    "tg-emoji": {"emoji-id"},
    "code": {"class"},
    "pre": set(),
    "blockquote": {"expandable"},
    "tg-time": {"unix", "format"},
}
_HTML_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


@dataclass
class _OpenTag:
    tag: str
    offset: int
    entity: JSONDict | None


class TelegramHTML(HTMLParser):
    """Parses Telegram-flavoured HTML into plain text + entities, noting every problem
    (unsupported tag or attribute, bad nesting, unclosed tag, unescaped ``<``/``>``/``&``,
    unsupported named entity)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.problems: list[str] = []
        self.entities: list[JSONDict] = []
        self._parts: list[str] = []
        self._u16 = 0
        self._stack: list[_OpenTag] = []

    @classmethod
    def parse(cls, text: str) -> TelegramHTML:
        parser = cls()
        parser.feed(text)
        parser.close()
        return parser

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def _emit(self, data: str) -> None:
        self._parts.append(data)
        self._u16 += utf16_len(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        open_tags = [t.tag for t in self._stack]
        entity: JSONDict | None = None
        if tag not in _HTML_TAG_ENTITY:
            self.problems.append(f"unsupported tag <{tag}>")
        else:
            allowed = _HTML_ALLOWED_ATTRS.get(tag, set())
            for name in attr:
                if name not in allowed:
                    self.problems.append(f'unsupported attribute "{name}" in <{tag}>')
            entity = {"type": _HTML_TAG_ENTITY[tag]}
            if tag == "span" and attr.get("class") != "tg-spoiler":
                self.problems.append('<span> needs class="tg-spoiler"')
            elif tag == "a":
                if not attr.get("href"):
                    self.problems.append("<a> without href")
                entity["url"] = attr.get("href") or ""
            elif tag == "tg-emoji":
                if not attr.get("emoji-id"):
                    self.problems.append("<tg-emoji> without emoji-id")
                entity["custom_emoji_id"] = attr.get("emoji-id") or ""
            elif tag == "blockquote":
                if "blockquote" in open_tags:
                    self.problems.append("<blockquote> nested in <blockquote>")
                if "expandable" in attr:
                    entity["type"] = "expandable_blockquote"
            elif tag == "code" and attr.get("class"):
                language = str(attr["class"])
                if not language.startswith("language-") or open_tags[-1:] != ["pre"]:
                    self.problems.append('<code class="language-..."> only directly in <pre>')
            if tag == "code" and open_tags[-1:] == ["pre"]:
                pre = self._stack[-1].entity
                if pre is not None and attr.get("class"):
                    pre["language"] = str(attr["class"]).removeprefix("language-")
                entity = None  # merged into the <pre> entity
            elif {"code", "pre"} & set(open_tags):
                self.problems.append(f"<{tag}> nested in <code>/<pre>")
        self._stack.append(_OpenTag(tag, self._u16, entity))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.problems.append(f"unsupported self-closing tag <{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        if not any(t.tag == tag for t in self._stack):
            self.problems.append(f"unexpected end tag </{tag}>")
            return
        while self._stack:
            top = self._stack.pop()
            if top.tag != tag:
                self.problems.append(f"end tag </{tag}> does not match open tag <{top.tag}>")
                continue
            if top.entity is not None and self._u16 > top.offset:
                self.entities.append(
                    {**top.entity, "offset": top.offset, "length": self._u16 - top.offset}
                )
            return

    def handle_data(self, data: str) -> None:
        for char, name in (("<", "<"), (">", ">"), ("&", "&")):
            if char in data:
                self.problems.append(f"unescaped '{name}' (use &lt; &gt; &amp;)")
        self._emit(data)

    def handle_entityref(self, name: str) -> None:
        if name in _HTML_NAMED_ENTITIES:
            self._emit(_HTML_NAMED_ENTITIES[name])
        else:
            self.problems.append(f"unsupported named entity &{name};")
            self._emit(f"&{name};")

    def handle_charref(self, name: str) -> None:
        try:
            code = int(name[1:], 16) if name[:1] in ("x", "X") else int(name)
            self._emit(chr(code))
        except (ValueError, OverflowError):
            self.problems.append(f"bad numeric entity &#{name};")

    def handle_comment(self, data: str) -> None:
        self.problems.append("HTML comments are not supported")

    def handle_decl(self, decl: str) -> None:
        self.problems.append(f"unsupported declaration <!{decl}>")

    def unknown_decl(self, data: str) -> None:
        self.problems.append(f"unsupported declaration <![{data}]>")

    def handle_pi(self, data: str) -> None:
        self.problems.append(f"unsupported processing instruction <?{data}>")

    def close(self) -> None:
        super().close()
        for open_tag in reversed(self._stack):
            self.problems.append(f"unclosed tag <{open_tag.tag}>")
        self._stack.clear()
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))


def check_html(text: str) -> list[str]:
    """Problems of ``text`` as Telegram HTML (empty list when it is fine)."""
    return TelegramHTML.parse(text).problems


def _markdown_plain(text: str, v2: bool) -> str:
    """Approximate text of a Markdown/MarkdownV2 message after entity parsing."""
    text = re.sub(r"\[((?:\\.|[^\]\\])*)\]\((?:\\.|[^)\\])*\)", r"\1", text)
    markers = "*_~|`" if v2 else "*_`"
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and v2 and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if char not in markers:
            out.append(char)
        i += 1
    return "".join(out)


def plain_text(text: str, parse_mode: str | None) -> str:
    """The text Telegram shows after entity parsing (exact for HTML, approximate else)."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        return TelegramHTML.parse(text).text
    if mode in ("markdown", "markdownv2"):
        return _markdown_plain(text, mode == "markdownv2")
    return text


# --------------------------------------------------------------------------------------------
# Checking values against the spec
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# Decoding requests
# --------------------------------------------------------------------------------------------


# String fields kept as sent when the spec (which knows every field's type) is absent
_FALLBACK_STRING_FIELDS = frozenset(
    [
        "text",
        "caption",
        "message_text",
        "parse_mode",
        "action",
        "url",
        "description",
        "short_description",
        "name",
        "language_code",
        "callback_query_id",
        "inline_query_id",
        "inline_message_id",
        "business_connection_id",
        "message_effect_id",
        "secret_token",
        "ip_address",
        "emoji",
        "title",
        "query",
        "next_offset",
        "file_id",
        "photo",
        "document",
        "audio",
        "video",
        "voice",
        "sticker",
        "animation",
        "thumbnail",
        "custom_title",
    ]
)


def _decode_value(value: object, types: list[str] | None, name: str = "") -> object:
    """Form values are strings; non-String values arrive JSON-encoded (as PTB sends them)."""
    if not isinstance(value, str):
        return value
    if types is None and name in _FALLBACK_STRING_FIELDS:
        return value
    if types is not None and types == ["String"]:
        return value
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    if isinstance(decoded, str):
        return value
    if types is None:
        return decoded
    if "String" in types:
        # "Integer or String" (chat_id), "InputFile or String": keep a string unless the
        # JSON value fits one of the other types
        fits = (
            (isinstance(decoded, int) and not isinstance(decoded, bool) and "Integer" in types)
            or (isinstance(decoded, bool) and "Boolean" in types)
            or (isinstance(decoded, dict | list) and any(t not in ("String",) for t in types))
        )
        return decoded if fits else value
    return decoded


def _parse_multipart(body: bytes, content_type: str) -> JSONDict:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    out: JSONDict = {}
    for part in cast(Any, message).iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            out[str(name)] = UploadedFile(str(filename), part.get_content_type(), payload)
        else:
            out[str(name)] = payload.decode(part.get_content_charset() or "utf-8", "replace")
    return out


# --------------------------------------------------------------------------------------------
# Records and faults
# --------------------------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    """One request as received. Unpacks as ``(method, params, timestamp)``."""

    method: str
    params: JSONDict
    timestamp: float
    http_method: str = "POST"
    fault: str | None = None
    status: int | None = None  # HTTP status of the answer; None while unanswered / dropped
    result: Any = None
    violations: list[str] = field(default_factory=list)
    # In the stand-in's log already (a flag, not a search: the log grows with every request).
    logged: bool = field(default=False, repr=False, compare=False)

    @property
    def faulted(self) -> bool:
        return self.fault is not None

    @property
    def ok(self) -> bool:
        return self.status == 200

    def __iter__(self) -> Iterator[Any]:
        return iter((self.method, self.params, self.timestamp))

    def describe(self) -> str:
        params = {k: v for k, v in self.params.items() if k not in ("text",)}
        text = self.params.get("text")
        extra = f" text={_short(text, 80)}" if text is not None else ""
        flags = f" fault={self.fault}" if self.fault else ""
        return f"{self.method} -> {self.status}{flags}{extra} {_short(params, 160)}"


@dataclass
class _FaultRule:
    method: str | None
    kind: str
    remaining: int
    retry_after: int
    delay: float
    description: str = DEFAULT_400


@dataclass
class _RatioRule:
    method: str | None
    kind: str
    ratio: float
    rng: random.Random
    retry_after: int
    delay: float
    description: str = DEFAULT_400


class ApiError(Exception):
    """Raised by method implementations to answer ``ok: false``."""

    def __init__(self, code: int, description: str, parameters: JSONDict | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


def _method_matches(rule_method: str | None, method: str) -> bool:
    return rule_method in (None, "*") or str(rule_method).lower() == method.lower()


def _normalise_kind(kind: str | int) -> str:
    value = str(kind).lower()
    if value not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; use one of {FAULT_KINDS}")
    return value


# --------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------

_PATH_RE = re.compile(r"^/bot(?P<token>[^/]*)/(?P<method>[A-Za-z0-9_]+)/?$")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    standin: BotApiStandIn

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Client went away (timeouts, dropped connections, shutdown): nothing to report.
        return


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx/1.18.0"
    sys_version = ""
    timeout = 60  # idle keep-alive connections

    @property
    def standin(self) -> BotApiStandIn:
        return cast(_Server, self.server).standin

    def setup(self) -> None:
        super().setup()
        # headers and body are two writes: without this, Nagle + delayed ACK add ~40 ms
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.standin._register_connection(self.connection)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.standin._unregister_connection(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _raw_params(self, body: bytes) -> JSONDict:
        params: JSONDict = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
        content_type = self.headers.get("Content-Type", "")
        media = content_type.split(";")[0].strip().lower()
        if not body:
            return params
        if media == "application/json":
            data = json.loads(body.decode("utf-8"))
            if not isinstance(data, dict):
                raise ValueError("JSON body must be an object")
            params.update(data)
        elif media == "multipart/form-data":
            params.update(_parse_multipart(body, content_type))
        else:
            params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        return params

    def send_json(self, status: int, payload: JSONDict) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            self.close_connection = True

    def drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _handle(self, http_method: str) -> None:
        body = self._read_body()
        match = _PATH_RE.match(urlsplit(self.path).path)
        if match is None:
            self.send_json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        try:
            raw = self._raw_params(body)
        except (ValueError, UnicodeDecodeError) as exc:
            self.send_json(
                400,
                {"ok": False, "error_code": 400, "description": f"Bad Request: {exc}"},
            )
            return
        self.standin._serve(self, http_method, match["token"], match["method"], raw)


# --------------------------------------------------------------------------------------------
# The stand-in
# --------------------------------------------------------------------------------------------


class BotApiStandIn:
    """A local Telegram Bot API server for tests (see the module docstring)."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        spec_file: Path | str | None = None,
        strict: bool = False,
    ) -> None:
        """``strict=True`` answers any spec violation with 400 (default: only record it)."""
        self.token = token
        self.strict = strict
        self.spec: ApiSpec | None = load_spec(spec_file)
        self._checker = SpecChecker(self.spec) if self.spec is not None else None
        self.violations: list[str] = []
        self._cond = threading.Condition(threading.RLock())
        self._records: list[RecordedRequest] = []
        self._updates: list[JSONDict] = []
        self._next_update_id = 100_000_001
        self._next_query_id = 1
        self._message_ids: dict[int, int] = {}
        self._messages: dict[tuple[int, int], JSONDict] = {}
        self._chats: dict[int, JSONDict] = {}
        self._users: dict[int, JSONDict] = {}
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}
        self._bot_texts: dict[tuple[str, str], str] = {}
        self._menu_buttons: dict[int | None, JSONDict] = {}
        self._webhook: JSONDict | None = None
        self._fault_next: list[_FaultRule] = []
        self._fault_ratio: list[_RatioRule] = []
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> BotApiStandIn:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.standin = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="telegram-standin",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        server.shutdown()
        server.server_close()
        with self._cond:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> BotApiStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the stand-in is not running")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """What to pass as ``telegram.Bot(..., base_url=...)``."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def url(self) -> str:
        """``base_url`` + token: POST ``f"{api.url}/sendMessage"`` for raw requests."""
        return f"{self.base_url}{self.token}"

    @property
    def spec_available(self) -> bool:
        return self.spec is not None

    def _register_connection(self, conn: socket.socket) -> None:
        with self._cond:
            self._connections.add(conn)

    def _unregister_connection(self, conn: socket.socket) -> None:
        with self._cond:
            self._connections.discard(conn)

    # -- recording -----------------------------------------------------------------------
    def requests(self, method: str | None = None) -> list[RecordedRequest]:
        """Recorded requests in order, optionally of one method (case-insensitive)."""
        with self._cond:
            return [r for r in self._records if method is None or _method_matches(method, r.method)]

    def sent_messages(self, chat_id: int | str | None = None, *, raw: bool = False) -> list[str]:
        """Texts of successful sendMessage and editMessageText calls, in order: as Telegram
        shows them (HTML tags removed, entities decoded), or as sent with ``raw=True``."""
        out: list[str] = []
        with self._cond:
            for record in self._records:
                if record.method not in ("sendMessage", "editMessageText") or not record.ok:
                    continue
                if chat_id is not None and str(record.params.get("chat_id")) != str(chat_id):
                    continue
                text = record.params.get("text")
                if raw or not isinstance(record.result, dict):
                    out.append(str(text) if text is not None else "")
                else:
                    out.append(str(record.result.get("text", "")))
        return out

    def clear(self) -> None:
        """Forget recorded requests and violations (state and queued updates stay)."""
        with self._cond:
            self._records.clear()
            self.violations.clear()
            self._cond.notify_all()

    def message(self, chat_id: int, message_id: int) -> JSONDict | None:
        """The current state of a stored message (sent by the bot or injected)."""
        with self._cond:
            stored = self._messages.get((int(chat_id), int(message_id)))
            return copy.deepcopy(stored) if stored is not None else None

    def pending_updates(self) -> list[JSONDict]:
        """Updates not yet confirmed by a getUpdates offset."""
        with self._cond:
            return copy.deepcopy(self._updates)

    def check_object(self, type_name: str, obj: object) -> list[str]:
        """Spec violations of ``obj`` as Bot API type ``type_name`` ([] without the spec)."""
        return self._checker.check_object(type_name, obj) if self._checker else []

    def check_request(self, method: str, params: JSONDict) -> list[str]:
        """All violations a request would be recorded with."""
        problems: list[str] = []
        if self._checker is not None:
            problems += self._checker.check_request(method, params)[1]
        extra = formatting_violations(params) + _callback_data_violations(params)
        return problems + [f"{method}: {p}" for p in extra if f"{method}: {p}" not in problems]

    # -- waiting -------------------------------------------------------------------------
    def wait_for(self, predicate: Callable[[], T], timeout: float = 10.0) -> T:
        """Wait until ``predicate()`` is truthy, re-evaluating it whenever a request arrives or
        is answered or an update is queued; returns its value. AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            recent = "\n  ".join(r.describe() for r in self._records[-10:]) or "(none)"
            violations = "\n  ".join(self.violations[-10:]) or "(none)"
        name = getattr(predicate, "__name__", repr(predicate))
        raise AssertionError(
            f"condition {name} not met within {timeout}s.\n"
            f"Last requests:\n  {recent}\nViolations:\n  {violations}"
        )

    async def awaitable_wait_for(self, predicate: Callable[[], T], timeout: float = 10.0) -> T:
        """``wait_for`` without blocking the event loop (runs in a worker thread)."""
        return await asyncio.to_thread(self.wait_for, predicate, timeout)

    def wait_for_request(
        self, method: str, count: int = 1, timeout: float = 10.0
    ) -> list[RecordedRequest]:
        """Wait until at least ``count`` answered requests of ``method`` were recorded."""

        def answered() -> list[RecordedRequest]:
            done = [r for r in self.requests(method) if r.status is not None or r.fault]
            return done if len(done) >= count else []

        answered.__name__ = f"{count} x {method}"
        return self.wait_for(answered, timeout)

    def wait_for_updates_consumed(self, timeout: float = 10.0) -> None:
        """Wait until the bot confirmed (getUpdates offset) every queued update."""

        def consumed() -> bool:
            return not self._updates

        self.wait_for(consumed, timeout)

    # -- faults --------------------------------------------------------------------------
    def fail_next(
        self,
        method: str,
        kind: str = "429",
        count: int = 1,
        retry_after: int = 1,
        delay: float = 3.0,
        description: str = DEFAULT_400,
    ) -> None:
        """Fault the next ``count`` calls of ``method`` ("*" = any): "429" (Too Many Requests
        with ``retry_after``), "500", "400" (Bad Request with ``description``), "slow" (answer
        normally after ``delay`` seconds) or "drop" (close the connection without an answer)."""
        with self._cond:
            self._fault_next.append(
                _FaultRule(method, _normalise_kind(kind), count, retry_after, delay, description)
            )

    def fail_ratio(
        self,
        method: str,
        kind: str,
        ratio: float,
        seed: int = 0,
        retry_after: int = 1,
        delay: float = 3.0,
        description: str = DEFAULT_400,
    ) -> None:
        """Fault a deterministic pseudo-random ``ratio`` of the calls of ``method``."""
        if not 0.0 <= ratio <= 1.0:
            raise ValueError("ratio must be within 0..1")
        with self._cond:
            self._fault_ratio.append(
                _RatioRule(
                    method,
                    _normalise_kind(kind),
                    ratio,
                    random.Random(seed),
                    retry_after,
                    delay,
                    description,
                )
            )

    def clear_faults(self) -> None:
        with self._cond:
            self._fault_next.clear()
            self._fault_ratio.clear()

    def _pick_fault(self, method: str) -> _FaultRule | _RatioRule | None:
        for rule in self._fault_next:
            if rule.remaining > 0 and _method_matches(rule.method, method):
                rule.remaining -= 1
                if rule.remaining == 0:
                    self._fault_next.remove(rule)
                return rule
        for ratio_rule in self._fault_ratio:
            hit = _method_matches(ratio_rule.method, method)
            if hit and ratio_rule.rng.random() < ratio_rule.ratio:
                return ratio_rule
        return None

    # -- serving -------------------------------------------------------------------------
    def _field_types(self, method: str) -> dict[str, list[str]]:
        if self.spec is None or method not in self.spec.methods:
            return {}
        return {name: f["types"] for name, f in self.spec.method_fields(method).items()}

    def _serve(
        self, handler: _Handler, http_method: str, token: str, method: str, raw: JSONDict
    ) -> None:
        now = time.time()
        known = self.spec.canonical_method(method) if self.spec else None
        canonical = known or _IMPLEMENTED_NAMES.get(method.lower()) or method
        types = self._field_types(canonical)
        params = {k: _decode_value(v, types.get(k), k) for k, v in raw.items()}
        record = RecordedRequest(canonical, params, now, http_method)

        if token != self.token:
            self._finish(record, handler, 401, None, ApiError(401, "Unauthorized"))
            return
        if self.spec is not None and known is None:
            with self._cond:
                record.violations.append(f"{method}: method does not exist in the Bot API spec")
                self.violations.extend(record.violations)
            self._finish(record, handler, 404, None, ApiError(404, "Not Found"))
            return

        missing: list[str] = []
        if self._checker is not None:
            missing, problems = self._checker.check_request(canonical, params)
            record.violations.extend(problems)
        extra = formatting_violations(params) + _callback_data_violations(params)
        for problem in extra:
            text = f"{canonical}: {problem}"
            if text not in record.violations:
                record.violations.append(text)
        with self._cond:
            fault = self._pick_fault(canonical)
            record.fault = fault.kind if fault else None
            self._records.append(record)
            record.logged = True
            self.violations.extend(record.violations)
            self._cond.notify_all()

        if fault is not None:
            kind, retry_after, delay = fault.kind, fault.retry_after, fault.delay
            if kind == "429":
                error = ApiError(
                    429,
                    f"Too Many Requests: retry after {retry_after}",
                    {"retry_after": retry_after},
                )
                self._finish(record, handler, 429, None, error)
                return
            if kind == "500":
                self._finish(record, handler, 500, None, ApiError(500, "Internal Server Error"))
                return
            if kind == "400":
                self._finish(record, handler, 400, None, ApiError(400, fault.description))
                return
            if kind == "drop":
                handler.drop()
                with self._cond:
                    self._cond.notify_all()
                return
            self._stopping.wait(delay)  # "slow": answer normally, late
            if self._stopping.is_set():
                handler.drop()
                return

        if missing:
            error = ApiError(400, f"Bad Request: required parameter {missing[0]} is missing")
            self._finish(record, handler, 400, None, error)
            return
        if self.strict and record.violations:
            self._finish(
                record, handler, 400, None, ApiError(400, "Bad Request: " + (record.violations[0]))
            )
            return
        try:
            implementation = _IMPLEMENTED.get(canonical.lower())
            result = getattr(self, implementation)(params) if implementation else True
        except ApiError as api_error:
            self._finish(record, handler, api_error.code, None, api_error)
            return
        except Exception as exc:
            # A bug of the stand-in or an unparsable value: answer like Telegram would.
            bad = ApiError(400, f"Bad Request: {type(exc).__name__}: {exc}")
            self._finish(record, handler, 400, None, bad)
            return
        self._finish(record, handler, 200, result, None)

    def _finish(
        self,
        record: RecordedRequest,
        handler: _Handler,
        status: int,
        result: Any,
        error: ApiError | None,
    ) -> None:
        if error is None:
            payload: JSONDict = {"ok": True, "result": result}
        else:
            payload = {"ok": False, "error_code": error.code, "description": error.description}
            if error.parameters:
                payload["parameters"] = error.parameters
        with self._cond:
            record.status = status
            record.result = copy.deepcopy(result)
            if not record.logged:
                self._records.append(record)
                record.logged = True
            self._cond.notify_all()
        handler.send_json(status, payload)

    # -- state helpers -------------------------------------------------------------------
    def _now(self) -> int:
        return int(time.time())

    def _user(self, user_id: int, first_name: str | None = None, **extra: Any) -> JSONDict:
        user = self._users.get(user_id)
        if user is None or first_name is not None or extra:
            base = dict(user or {"id": user_id, "is_bot": False, "first_name": "Ann"})
            if first_name is not None:
                base["first_name"] = first_name
            base.update({k: v for k, v in extra.items() if v is not None})
            self._users[user_id] = user = base
        return dict(user)

    def _private_chat(self, user_id: int) -> JSONDict:
        user = self._user(user_id)
        chat: JSONDict = {"id": user_id, "type": "private", "first_name": user["first_name"]}
        if user.get("username"):
            chat["username"] = user["username"]
        self._chats[user_id] = chat
        return dict(chat)

    def _group_chat(self, chat_id: int, chat_type: str = "supergroup", title: str = "") -> JSONDict:
        chat = self._chats.get(chat_id)
        if chat is None or chat.get("type") != chat_type or title:
            chat = {"id": chat_id, "type": chat_type, "title": title or "G21 Test Group"}
            self._chats[chat_id] = chat
        return dict(chat)

    def _resolve_chat(self, chat_id: object) -> JSONDict:
        if isinstance(chat_id, str):
            if chat_id.lstrip("-").isdigit():
                chat_id = int(chat_id)
            else:
                for chat in self._chats.values():
                    if chat.get("username") and "@" + str(chat["username"]) == chat_id:
                        return dict(chat)
                raise ApiError(400, "Bad Request: chat not found")
        if not isinstance(chat_id, int) or isinstance(chat_id, bool):
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id in self._chats:
            return dict(self._chats[chat_id])
        if chat_id > 0:
            return self._private_chat(chat_id)
        return self._group_chat(chat_id)

    def _next_message_id(self, chat_id: int) -> int:
        self._message_ids[chat_id] = self._message_ids.get(chat_id, 0) + 1
        return self._message_ids[chat_id]

    def _store(self, message: JSONDict) -> JSONDict:
        key = (int(message["chat"]["id"]), int(message["message_id"]))
        self._messages[key] = copy.deepcopy(message)
        chat_id = key[0]
        self._message_ids[chat_id] = max(self._message_ids.get(chat_id, 0), key[1])
        return message

    def _render(self, params: JSONDict, text_key: str = "text") -> tuple[str, list[JSONDict]]:
        text = str(params.get(text_key) or "")
        mode = params.get("parse_mode")
        if isinstance(mode, str) and mode.lower() == "html":
            parsed = TelegramHTML.parse(text)
            return parsed.text, parsed.entities
        if isinstance(mode, str) and mode:
            return plain_text(text, mode), []
        entities = params.get("entities")
        return text, list(entities) if isinstance(entities, list) else []

    def _stored_message(self, params: JSONDict) -> tuple[tuple[int, int], JSONDict]:
        chat = self._resolve_chat(params.get("chat_id"))
        message_id = params.get("message_id")
        if not isinstance(message_id, int):
            raise ApiError(400, "Bad Request: message identifier is not specified")
        key = (int(chat["id"]), message_id)
        stored = self._messages.get(key)
        if stored is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        return key, stored

    # -- update injection ----------------------------------------------------------------
    def push_update(self, update: JSONDict) -> JSONDict:
        """Queue an update (an ``update_id`` is assigned when missing); returns it."""
        with self._cond:
            update = copy.deepcopy(update)
            if "update_id" not in update:
                update["update_id"] = self._next_update_id
            self._next_update_id = max(self._next_update_id, int(update["update_id"])) + 1
            self._updates.append(update)
            self._cond.notify_all()
            return copy.deepcopy(update)

    def _push_message(self, message: JSONDict, kind: str = "message") -> JSONDict:
        with self._cond:
            self._store(message)
            return self.push_update({kind: message})

    def _base_message(self, chat: JSONDict, sender: JSONDict | None) -> JSONDict:
        message: JSONDict = {
            "message_id": self._next_message_id(int(chat["id"])),
            "date": self._now(),
            "chat": chat,
        }
        if sender is not None:
            message["from"] = sender
        return message

    @staticmethod
    def text_entities(text: str) -> list[JSONDict]:
        """``bot_command`` and ``mention`` entities Telegram would attach to ``text``."""
        entities: list[JSONDict] = []
        taken: list[tuple[int, int]] = []
        for match in re.finditer(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?", text):
            taken.append(match.span())
            entities.append(
                {
                    "type": "bot_command",
                    "offset": utf16_len(text[: match.start()]),
                    "length": utf16_len(match.group()),
                }
            )
        for match in re.finditer(r"(?<![\w@/])@[A-Za-z0-9_]{5,32}\b", text):
            if any(a <= match.start() < b for a, b in taken):
                continue
            entities.append(
                {
                    "type": "mention",
                    "offset": utf16_len(text[: match.start()]),
                    "length": utf16_len(match.group()),
                }
            )
        return sorted(entities, key=lambda e: e["offset"])

    def private_text(
        self,
        user_id: int,
        text: str,
        language_code: str | None = "en",
        first_name: str = "Ann",
        entities: list[JSONDict] | None = None,
        *,
        username: str | None = None,
    ) -> JSONDict:
        """A text message from ``user_id`` in the private chat with the bot."""
        with self._cond:
            sender = self._user(user_id, first_name, language_code=language_code, username=username)
            message = self._base_message(self._private_chat(user_id), sender)
            message["text"] = text
            found = self.text_entities(text) if entities is None else entities
            if found:
                message["entities"] = found
            return self._push_message(message)

    def group_text(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        chat_type: str = "supergroup",
        entities: list[JSONDict] | None = None,
        reply_to_bot: bool = False,
        *,
        first_name: str | None = None,
        language_code: str | None = None,
        title: str = "",
    ) -> JSONDict:
        """A text message in a group; ``reply_to_bot`` makes it a reply to the bot's last
        message there (one is made up when the bot has not written in that chat)."""
        with self._cond:
            sender = self._user(user_id, first_name, language_code=language_code)
            chat = self._group_chat(chat_id, chat_type, title)
            reply: JSONDict | None = None
            if reply_to_bot:
                reply = self._last_bot_message(chat)
            message = self._base_message(chat, sender)
            message["text"] = text
            found = self.text_entities(text) if entities is None else entities
            if found:
                message["entities"] = found
            if reply is not None:
                message["reply_to_message"] = reply
            return self._push_message(message)

    def _last_bot_message(self, chat: JSONDict) -> JSONDict:
        chat_id = int(chat["id"])
        ids = [
            mid
            for (cid, mid), m in self._messages.items()
            if cid == chat_id and m.get("from", {}).get("id") == BOT_ID
        ]
        if ids:
            return copy.deepcopy(self._messages[(chat_id, max(ids))])
        made_up = self._base_message(chat, dict(BOT_USER))
        made_up["text"] = "An earlier answer of the bot."
        return copy.deepcopy(self._store(made_up))

    def command(
        self,
        user_id: int,
        name: str,
        args: str = "",
        *,
        chat_id: int | None = None,
        chat_type: str = "supergroup",
        mention_bot: bool = False,
        language_code: str | None = "en",
    ) -> JSONDict:
        """``/name args`` privately, or in group ``chat_id`` (``/name@g21_test_bot`` with
        ``mention_bot``)."""
        text = "/" + name.lstrip("/") + (f"@{BOT_USERNAME}" if mention_bot else "")
        if args:
            text += " " + args
        if chat_id is None or chat_id == user_id:
            return self.private_text(user_id, text, language_code=language_code)
        return self.group_text(chat_id, user_id, text, chat_type=chat_type)

    def callback(
        self, user_id: int, chat_id: int, data: str, message_id: int | None = None
    ) -> JSONDict:
        """A press on an inline button with ``data`` under message ``message_id`` (the bot's
        last message in the chat when omitted; a made-up one if unknown)."""
        with self._cond:
            sender = self._user(user_id)
            chat = (
                self._private_chat(user_id) if chat_id == user_id else self._resolve_chat(chat_id)
            )
            stored = self._messages.get((chat_id, message_id)) if message_id is not None else None
            if stored is None and message_id is None:
                stored = self._last_bot_message(chat)
            if stored is None:
                stored = {
                    "message_id": message_id,
                    "from": dict(BOT_USER),
                    "chat": chat,
                    "date": self._now(),
                    "text": "A message of the bot.",
                }
                self._store(stored)
            query_id = str(4_000_000_000_000_000 + self._next_query_id)
            self._next_query_id += 1
            query = {
                "id": query_id,
                "from": sender,
                "message": copy.deepcopy(stored),
                "chat_instance": str(-8_000_000_000_000_000 + abs(chat_id) % 10**12),
                "data": data,
            }
            return self.push_update({"callback_query": query})

    def inline_query(self, user_id: int, query: str, offset: str = "") -> JSONDict:
        with self._cond:
            query_id = str(4_000_000_000_000_000 + self._next_query_id)
            self._next_query_id += 1
            inline = {
                "id": query_id,
                "from": self._user(user_id),
                "query": query,
                "offset": offset,
                "chat_type": "sender",
            }
            return self.push_update({"inline_query": inline})

    def _private_message(self, user_id: int, **content: Any) -> JSONDict:
        with self._cond:
            message = self._base_message(self._private_chat(user_id), self._user(user_id))
            message.update(content)
            return self._push_message(message)

    @staticmethod
    def _file_ids(kind: str, n: int) -> JSONDict:
        return {"file_id": f"{kind}-file-{n}", "file_unique_id": f"{kind}{n}"}

    def sticker(self, user_id: int, emoji: str = "👍") -> JSONDict:
        sticker = {
            **self._file_ids("sticker", self._next_update_id),
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "set_name": "g21_test_stickers",
        }
        return self._private_message(user_id, sticker=sticker)

    def photo(self, user_id: int, caption: str | None = None) -> JSONDict:
        n = self._next_update_id
        sizes = [
            {**self._file_ids("photo-s", n), "width": 90, "height": 60, "file_size": 1_200},
            {**self._file_ids("photo-m", n), "width": 800, "height": 533, "file_size": 48_000},
        ]
        extra: JSONDict = {"photo": sizes}
        if caption is not None:
            extra["caption"] = caption
        return self._private_message(user_id, **extra)

    def voice(self, user_id: int, duration: int = 3) -> JSONDict:
        voice = {
            **self._file_ids("voice", self._next_update_id),
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": 6_000,
        }
        return self._private_message(user_id, voice=voice)

    def document(
        self, user_id: int, file_name: str = "notes.pdf", mime_type: str = "application/pdf"
    ) -> JSONDict:
        document = {
            **self._file_ids("document", self._next_update_id),
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": 34_567,
        }
        return self._private_message(user_id, document=document)

    def location(
        self, user_id: int, latitude: float = 40.7489, longitude: float = -73.968
    ) -> JSONDict:
        return self._private_message(
            user_id, location={"latitude": latitude, "longitude": longitude}
        )

    def edited_text(self, user_id: int, text: str, message_id: int | None = None) -> JSONDict:
        """An edit of the user's message ``message_id`` (their last one when omitted)."""
        with self._cond:
            chat = self._private_chat(user_id)
            sender = self._user(user_id)
            if message_id is None:
                own = [
                    mid
                    for (cid, mid), m in self._messages.items()
                    if cid == user_id and m.get("from", {}).get("id") == user_id
                ]
                message_id = max(own) if own else None
            stored = self._messages.get((user_id, message_id)) if message_id else None
            message = copy.deepcopy(stored) if stored else self._base_message(chat, sender)
            message["text"] = text
            message.pop("entities", None)
            found = self.text_entities(text)
            if found:
                message["entities"] = found
            message["edit_date"] = max(self._now(), int(message["date"]))
            return self._push_message(message, "edited_message")

    def forwarded_text(
        self, user_id: int, text: str, origin_user_id: int = 555, origin_name: str = "Bob"
    ) -> JSONDict:
        origin = {
            "type": "user",
            "date": self._now() - 3600,
            "sender_user": {"id": origin_user_id, "is_bot": False, "first_name": origin_name},
        }
        return self._private_message(user_id, text=text, forward_origin=origin)

    def channel_post(self, chat_id: int, text: str, title: str = "G21 Channel") -> JSONDict:
        with self._cond:
            chat = {"id": chat_id, "type": "channel", "title": title}
            self._chats[chat_id] = chat
            message = self._base_message(dict(chat), None)
            message["sender_chat"] = dict(chat)
            message["text"] = text
            found = self.text_entities(text)
            if found:
                message["entities"] = found
            return self._push_message(message, "channel_post")

    # -- method implementations (called with the lock *not* held) --------------------------
    def _m_get_me(self, params: JSONDict) -> JSONDict:
        return dict(GET_ME)

    def _m_get_updates(self, params: JSONDict) -> list[JSONDict]:
        offset = params.get("offset")
        limit = params.get("limit") or 100
        timeout = params.get("timeout") or 0
        allowed = params.get("allowed_updates")
        limit = max(1, min(100, int(limit))) if isinstance(limit, int | float) else 100
        timeout = max(0.0, min(60.0, float(timeout))) if isinstance(timeout, int | float) else 0
        deadline = time.monotonic() + timeout
        with self._cond:
            if self._webhook is not None:
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            if isinstance(offset, int) and not isinstance(offset, bool):
                if offset < 0:
                    self._updates = self._updates[offset:]
                else:
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]
                self._cond.notify_all()

            def available() -> list[JSONDict]:
                if isinstance(allowed, list) and allowed:
                    return [u for u in self._updates if set(u) & set(allowed)]
                return list(self._updates)

            while True:
                ready = available()
                remaining = deadline - time.monotonic()
                if ready or remaining <= 0 or self._stopping.is_set():
                    return copy.deepcopy(ready[:limit])
                self._cond.wait(remaining)

    def _m_send_message(self, params: JSONDict) -> JSONDict:
        with self._cond:
            chat = self._resolve_chat(params.get("chat_id"))
            text, entities = self._render(params)
            if not text.strip():
                raise ApiError(400, "Bad Request: message text is empty")
            message = self._base_message(chat, dict(BOT_USER))
            message["text"] = text
            if entities:
                message["entities"] = entities
            reply = params.get("reply_parameters")
            if isinstance(reply, dict) and isinstance(reply.get("message_id"), int):
                target_chat = self._resolve_chat(reply.get("chat_id", chat["id"]))["id"]
                stored = self._messages.get((int(target_chat), reply["message_id"]))
                if stored is not None:
                    replied = copy.deepcopy(stored)
                    replied.pop("reply_to_message", None)
                    message["reply_to_message"] = replied
                elif not reply.get("allow_sending_without_reply"):
                    raise ApiError(400, "Bad Request: message to be replied not found")
            markup = params.get("reply_markup")
            if isinstance(markup, dict) and "inline_keyboard" in markup:
                message["reply_markup"] = markup
            if isinstance(params.get("link_preview_options"), dict):
                message["link_preview_options"] = params["link_preview_options"]
            return copy.deepcopy(self._store(message))

    def _m_send_message_draft(self, params: JSONDict) -> bool:
        return True

    def _m_send_chat_action(self, params: JSONDict) -> bool:
        with self._cond:
            self._resolve_chat(params.get("chat_id"))
        return True

    def _m_edit_message_text(self, params: JSONDict) -> JSONDict | bool:
        if params.get("inline_message_id"):
            return True
        with self._cond:
            key, stored = self._stored_message(params)
            if stored.get("from", {}).get("id") != BOT_ID:
                raise ApiError(400, "Bad Request: message can't be edited")
            text, entities = self._render(params)
            if not text.strip():
                raise ApiError(400, "Bad Request: message text is empty")
            markup = params.get("reply_markup")
            new = copy.deepcopy(stored)
            new["text"] = text
            new.pop("entities", None)
            if entities:
                new["entities"] = entities
            new.pop("reply_markup", None)
            if isinstance(markup, dict) and markup.get("inline_keyboard"):
                new["reply_markup"] = markup
            if new == stored:
                raise ApiError(400, NOT_MODIFIED)
            new["edit_date"] = self._now()
            self._messages[key] = new
            return copy.deepcopy(new)

    def _m_edit_message_reply_markup(self, params: JSONDict) -> JSONDict | bool:
        if params.get("inline_message_id"):
            return True
        with self._cond:
            key, stored = self._stored_message(params)
            new = copy.deepcopy(stored)
            new.pop("reply_markup", None)
            markup = params.get("reply_markup")
            if isinstance(markup, dict) and markup.get("inline_keyboard"):
                new["reply_markup"] = markup
            if new == stored:
                raise ApiError(400, NOT_MODIFIED)
            new["edit_date"] = self._now()
            self._messages[key] = new
            return copy.deepcopy(new)

    def _m_delete_message(self, params: JSONDict) -> bool:
        with self._cond:
            chat = self._resolve_chat(params.get("chat_id"))
            key = (int(chat["id"]), params.get("message_id"))
            if key not in self._messages:
                raise ApiError(400, "Bad Request: message to delete not found")
            del self._messages[cast(tuple[int, int], key)]
        return True

    def _m_answer_callback_query(self, params: JSONDict) -> bool:
        return True

    def _m_answer_inline_query(self, params: JSONDict) -> bool:
        return True

    @staticmethod
    def _commands_key(params: JSONDict) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    def _m_set_my_commands(self, params: JSONDict) -> bool:
        commands = params.get("commands")
        with self._cond:
            self._commands[self._commands_key(params)] = list(commands or [])
        return True

    def _m_get_my_commands(self, params: JSONDict) -> list[JSONDict]:
        with self._cond:
            return copy.deepcopy(self._commands.get(self._commands_key(params), []))

    def _m_delete_my_commands(self, params: JSONDict) -> bool:
        with self._cond:
            self._commands.pop(self._commands_key(params), None)
        return True

    def _set_bot_text(self, kind: str, params: JSONDict) -> bool:
        key = (kind, str(params.get("language_code") or ""))
        with self._cond:
            value = params.get(kind)
            if value:
                self._bot_texts[key] = str(value)
            else:
                self._bot_texts.pop(key, None)
        return True

    def _get_bot_text(self, kind: str, params: JSONDict, default: str = "") -> JSONDict:
        lang = str(params.get("language_code") or "")
        with self._cond:
            value = self._bot_texts.get((kind, lang), self._bot_texts.get((kind, ""), default))
        return {kind: value}

    def _m_set_my_description(self, params: JSONDict) -> bool:
        return self._set_bot_text("description", params)

    def _m_get_my_description(self, params: JSONDict) -> JSONDict:
        return self._get_bot_text("description", params)

    def _m_set_my_short_description(self, params: JSONDict) -> bool:
        return self._set_bot_text("short_description", params)

    def _m_get_my_short_description(self, params: JSONDict) -> JSONDict:
        return self._get_bot_text("short_description", params)

    def _m_set_my_name(self, params: JSONDict) -> bool:
        return self._set_bot_text("name", params)

    def _m_get_my_name(self, params: JSONDict) -> JSONDict:
        return self._get_bot_text("name", params, BOT_FIRST_NAME)

    def _m_set_chat_menu_button(self, params: JSONDict) -> bool:
        chat_id = params.get("chat_id")
        with self._cond:
            key = chat_id if isinstance(chat_id, int) else None
            button = params.get("menu_button")
            self._menu_buttons[key] = button if isinstance(button, dict) else {"type": "default"}
        return True

    def _m_get_chat_menu_button(self, params: JSONDict) -> JSONDict:
        chat_id = params.get("chat_id")
        with self._cond:
            key = chat_id if isinstance(chat_id, int) else None
            button = self._menu_buttons.get(key) or self._menu_buttons.get(None)
        return copy.deepcopy(button) if button else {"type": "commands"}

    def _m_set_webhook(self, params: JSONDict) -> bool:
        url = str(params.get("url") or "")
        with self._cond:
            if params.get("drop_pending_updates"):
                self._updates.clear()
            if not url:
                self._webhook = None
                return True
            webhook: JSONDict = {"url": url, "max_connections": 40}
            if isinstance(params.get("max_connections"), int):
                webhook["max_connections"] = params["max_connections"]
            if isinstance(params.get("allowed_updates"), list):
                webhook["allowed_updates"] = params["allowed_updates"]
            self._webhook = webhook
            self._cond.notify_all()
        return True

    def _m_delete_webhook(self, params: JSONDict) -> bool:
        with self._cond:
            self._webhook = None
            if params.get("drop_pending_updates"):
                self._updates.clear()
            self._cond.notify_all()
        return True

    def _m_get_webhook_info(self, params: JSONDict) -> JSONDict:
        with self._cond:
            info: JSONDict = {
                "url": "",
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }
            if self._webhook is not None:
                info.update(self._webhook)
        return info

    def _m_close(self, params: JSONDict) -> bool:
        return True

    def _m_log_out(self, params: JSONDict) -> bool:
        return True


def _camel(attribute: str) -> str:
    first, *rest = attribute.removeprefix("_m_").split("_")
    return first + "".join(part.capitalize() for part in rest)


# lower-case method name -> (canonical name, implementation attribute) for every ``_m_*``
_IMPLEMENTED_NAMES: dict[str, str] = {
    _camel(a).lower(): _camel(a) for a in dir(BotApiStandIn) if a.startswith("_m_")
}
_IMPLEMENTED: dict[str, str] = {
    _camel(a).lower(): a for a in dir(BotApiStandIn) if a.startswith("_m_")
}
