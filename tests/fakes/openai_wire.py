"""The OpenAI stand-in's wire format: ``chat.completion`` bodies, tool calls, usage, error
bodies and the ``chat.completion.chunk`` events of a streamed answer."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tests.fakes.openai_replies import RawArguments, RawContent, Structured, Text, _content_text

_CREATED = 1_700_000_000  # fixed timestamp keeps responses deterministic
_FINGERPRINT = "fp_standin"


def _is_function_tool(tool: Any) -> bool:
    return (
        isinstance(tool, dict)
        and tool.get("type") == "function"
        and isinstance(tool.get("function"), dict)
        and isinstance(tool["function"].get("name"), str)
    )


def _word_count(s: str) -> int:
    return len(s.split())


def _usage(body: dict[str, Any], completion: str) -> dict[str, Any]:
    prompt = sum(
        _word_count(_content_text(m.get("content")))
        for m in body.get("messages") or []
        if isinstance(m, dict)
    )
    prompt_tokens = max(1, prompt)
    completion_tokens = max(1, _word_count(completion))
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _pick_tool(body: dict[str, Any], tool: str | None, *, defer_to_format: bool) -> str | None:
    """Which function to call: explicit ``tool`` > forced ``tool_choice`` > first tool.

    With ``defer_to_format``, a ``json_schema``/``json_object`` ``response_format`` wins
    over unforced tools (the answer goes into the content).
    """
    if tool:
        return tool
    names = [t["function"]["name"] for t in body.get("tools") or [] if _is_function_tool(t)]
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        # Chat Completions: {"type": "function", "function": {"name": ...}}
        fn = choice.get("function")
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            return str(fn["name"])
        if isinstance(choice.get("name"), str):
            return str(choice["name"])
    if not names or choice == "none":
        return None
    rf = body.get("response_format")
    if (
        defer_to_format
        and choice != "required"
        and isinstance(rf, dict)
        and rf.get("type") in ("json_schema", "json_object")
    ):
        return None
    return names[0]


@dataclass
class _Answer:
    content: str | None
    tool_calls: list[dict[str, Any]] | None
    finish_reason: str


def _answer(
    reply: Text | Structured | RawContent | RawArguments, body: dict[str, Any], call_id: str
) -> _Answer:
    if isinstance(reply, Structured | RawArguments):
        if isinstance(reply, Structured):
            payload = json.dumps(reply.obj)
            tool = _pick_tool(body, reply.tool, defer_to_format=True)
        else:
            payload = reply.arguments
            tool = _pick_tool(body, reply.tool, defer_to_format=False)
        if tool is not None:
            call = {
                "id": call_id,
                "type": "function",
                "function": {"name": tool, "arguments": payload},
            }
            return _Answer(None, [call], "tool_calls")
        return _Answer(payload, None, "stop")
    return _Answer(reply.content, None, "stop")


def _split(s: str, *, min_pieces: int = 3, max_size: int = 8) -> list[str]:
    """Split into several pieces: at least ``min_pieces`` (if long enough), ≤ max_size each."""
    if not s:
        return []
    size = max(1, min(max_size, math.ceil(len(s) / min_pieces)))
    return [s[i : i + size] for i in range(0, len(s), size)]


def _error_type(status: int) -> str:
    if status == 401:
        return "invalid_request_error"
    if status == 429:
        return "requests"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def _error_body(message: str, type_: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def _stream_events(
    answer: _Answer,
    completion_id: str,
    model: str,
    usage: dict[str, Any],
    include_usage: bool,
) -> Iterator[str]:
    """JSON payloads of the ``chat.completion.chunk`` events, as OpenAI sends them."""
    base: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": _CREATED,
        "model": model,
        "system_fingerprint": _FINGERPRINT,
    }

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> str:
        event: dict[str, Any] = {
            **base,
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }
        if include_usage:
            event["usage"] = None
        return json.dumps(event)

    if answer.tool_calls:
        yield chunk(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "index": i,
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": call["function"]["name"], "arguments": ""},
                    }
                    for i, call in enumerate(answer.tool_calls)
                ],
            }
        )
        for i, call in enumerate(answer.tool_calls):
            for piece in _split(call["function"]["arguments"]):
                yield chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]})
    else:
        yield chunk({"role": "assistant", "content": "", "refusal": None})
        for piece in _split(answer.content or ""):
            yield chunk({"content": piece})
    yield chunk({}, answer.finish_reason)
    if include_usage:
        yield json.dumps({**base, "choices": [], "usage": usage})
