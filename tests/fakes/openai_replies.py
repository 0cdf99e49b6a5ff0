"""What the OpenAI stand-in's "model" answers: scripted replies (``text``, ``structured``,
``raw_content``, ``raw_arguments``, ``error``, ``slow``, ``drop``) and matchers choosing the
request a reply is for (``last_user_contains``, ``any_message_contains``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Matcher = Callable[[dict[str, Any]], bool]
"""Predicate on the parsed JSON body of a chat-completions request."""


# --------------------------------------------------------------------------- replies


@dataclass(frozen=True)
class Text:
    """Plain assistant content."""

    content: str
    match: Matcher | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Structured:
    """A structured answer, shaped after what the request asked for.

    * ``tool`` given, or ``tool_choice`` forces a function → a tool call to it;
    * else ``response_format`` of type ``json_schema``/``json_object`` → JSON content;
    * else any function ``tools`` in the request → a tool call to the first tool;
    * else JSON content.
    """

    obj: dict[str, Any]
    tool: str | None = None
    match: Matcher | None = field(default=None, compare=False)


@dataclass(frozen=True)
class RawContent:
    """Content exactly as given (e.g. malformed JSON for a json_schema request)."""

    content: str
    match: Matcher | None = field(default=None, compare=False)


@dataclass(frozen=True)
class RawArguments:
    """A tool call whose ``arguments`` string is exactly as given (e.g. malformed JSON).

    Calls ``tool``, else the function forced by ``tool_choice``, else the first tool;
    without tools in the request the string is sent as content.
    """

    arguments: str
    tool: str | None = None
    match: Matcher | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Error:
    """An HTTP error with an OpenAI error body ``{"error": {...}}``.

    ``retry_after_ms`` is sent as the ``retry-after-ms`` header (the openai SDK honours
    it, so SDK retries stay fast in tests); ``None`` omits it. ``should_retry`` sets the
    ``x-should-retry`` header the SDK obeys; ``None`` omits it.
    """

    status: int = 500
    message: str = "The stand-in server had an error while processing your request."
    type: str | None = None
    code: str | None = None
    retry_after_ms: float | None = 1.0
    should_retry: bool | None = None
    match: Matcher | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Slow:
    """Wait ``seconds`` (cut short by ``close()``), then answer with ``then``.

    ``then=None`` means ``llm.default`` at the time the wait ends. If the stand-in is
    closed while waiting, the connection is dropped without a response.
    """

    seconds: float
    then: Reply | None = None
    match: Matcher | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Drop:
    """Close the connection without sending any response."""

    match: Matcher | None = field(default=None, compare=False)


Reply = Text | Structured | RawContent | RawArguments | Error | Slow | Drop


def text(content: str, *, match: Matcher | None = None) -> Text:
    return Text(content, match=match)


def structured(
    obj: dict[str, Any], *, tool: str | None = None, match: Matcher | None = None
) -> Structured:
    return Structured(obj, tool=tool, match=match)


def raw_content(content: str, *, match: Matcher | None = None) -> RawContent:
    return RawContent(content, match=match)


def raw_arguments(
    arguments: str, *, tool: str | None = None, match: Matcher | None = None
) -> RawArguments:
    return RawArguments(arguments, tool=tool, match=match)


def error(
    status: int = 500,
    message: str = "The stand-in server had an error while processing your request.",
    *,
    type: str | None = None,
    code: str | None = None,
    retry_after_ms: float | None = 1.0,
    should_retry: bool | None = None,
    match: Matcher | None = None,
) -> Error:
    return Error(
        status=status,
        message=message,
        type=type,
        code=code,
        retry_after_ms=retry_after_ms,
        should_retry=should_retry,
        match=match,
    )


def slow(seconds: float, then: Reply | None = None, *, match: Matcher | None = None) -> Slow:
    return Slow(seconds, then=then, match=match)


def drop(*, match: Matcher | None = None) -> Drop:
    return Drop(match=match)


# -------------------------------------------------------------------------- matchers


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") if isinstance(p, dict) else str(p) for p in content]
        return "".join(p for p in parts if isinstance(p, str))
    return ""


def last_user_contains(needle: str) -> Matcher:
    """Match requests whose last user message contains ``needle``."""

    def _match(body: dict[str, Any]) -> bool:
        users = [m for m in body.get("messages") or [] if m.get("role") == "user"]
        return bool(users) and needle in _content_text(users[-1].get("content"))

    return _match


def any_message_contains(needle: str) -> Matcher:
    """Match requests where any message (system prompt included) contains ``needle``."""

    def _match(body: dict[str, Any]) -> bool:
        return any(needle in _content_text(m.get("content")) for m in body.get("messages") or [])

    return _match
