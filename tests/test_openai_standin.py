"""Tests for the local OpenAI stand-in, driven through the real LangChain/OpenAI clients."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from langchain.chat_models import init_chat_model
from langchain_core.messages import AIMessageChunk, HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field, SecretStr

from tests.fakes.openai import (
    OpenAIStandIn,
    RecordedRequest,
    Slow,
    drop,
    error,
    last_user_contains,
    raw_arguments,
    raw_content,
    slow,
    structured,
    text,
)

API_KEY = "sk-test-standin-secret"


class Answer(BaseModel):
    """An answer citing paragraph numbers."""

    answer: str = Field(description="The answer text")
    paragraphs: list[int] = Field(description="Cited paragraph numbers")


ANSWER: dict[str, Any] = {
    "answer": "The G-21 calls for a comprehensive convention.",
    "paragraphs": [3, 7],
}
LONG_TEXT = (
    "The Group of 21 reaffirms that nuclear disarmament remains the highest priority (paragraph 4)."
)


@pytest.fixture(autouse=True)
def _offline_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_API_BASE",
        "LANGSMITH_TRACING",
        "LANGCHAIN_TRACING_V2",
        "LANGSMITH_API_KEY",
    ):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def llm() -> Iterator[OpenAIStandIn]:
    with OpenAIStandIn() as server:
        yield server
    assert server.server_errors == []


def make_model(llm: OpenAIStandIn, **kwargs: Any) -> ChatOpenAI:
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("timeout", 10)
    return ChatOpenAI(base_url=llm.base_url, api_key=SecretStr(API_KEY), model="stand-in", **kwargs)


# ------------------------------------------------------------------------ basics


def test_base_url_and_lifecycle() -> None:
    server = OpenAIStandIn()
    with server as llm:
        assert llm is server
        assert llm.base_url == f"http://127.0.0.1:{llm.port}/v1"
        assert llm.port > 0
    with pytest.raises(RuntimeError):
        _ = server.base_url
    server.close()  # idempotent


def test_plain_invoke_and_recording(llm: OpenAIStandIn) -> None:
    llm.script(text("Paragraph 4 says disarmament is the highest priority."))
    model = make_model(llm)

    msg = model.invoke([SystemMessage("Cite paragraphs."), HumanMessage("What is paragraph 4?")])

    assert msg.content == "Paragraph 4 says disarmament is the highest priority."
    assert msg.response_metadata["finish_reason"] == "stop"
    assert msg.usage_metadata is not None and msg.usage_metadata["total_tokens"] > 0
    [req] = llm.requests
    assert req.is_chat and req.method == "POST" and req.path == "/v1/chat/completions"
    assert req.model == "stand-in"
    assert not req.stream
    assert [m["role"] for m in req.messages] == ["system", "user"]
    assert req.last_user_text == "What is paragraph 4?"
    assert req.retry_count == 0
    assert req.reply is not None and req.reply.content.startswith("Paragraph 4")  # type: ignore[union-attr]
    # Authorization is checked and recorded, but redacted from headers and repr.
    assert req.has_auth and req.authorization == f"Bearer {API_KEY}"
    assert req.headers["authorization"] == "<redacted>"
    assert API_KEY not in repr(req) and API_KEY not in repr(llm.requests)


def test_default_reply_when_script_empty(llm: OpenAIStandIn) -> None:
    model = make_model(llm)
    assert model.invoke("hi").content == "Stand-in reply."
    llm.default = text("custom default")
    assert model.invoke("hi").content == "custom default"
    assert llm.attempts == 2


def test_fifo_order_and_pending(llm: OpenAIStandIn) -> None:
    llm.script(text("one"), text("two"))
    model = make_model(llm)
    assert model.invoke("a").content == "one"
    assert [r.content for r in llm.pending] == ["two"]  # type: ignore[union-attr]
    assert model.invoke("b").content == "two"
    assert llm.pending == []
    assert model.invoke("c").content == "Stand-in reply."


def test_match_picks_reply_for_the_right_call(llm: OpenAIStandIn) -> None:
    # The answer reply is queued first but only fits the answer call.
    llm.script(
        text("Final answer (para. 5).", match=last_user_contains("Context:")),
        text("What does paragraph 5 say about the CTBT?"),
    )
    model = make_model(llm)

    condensed = model.invoke("Condense: and the CTBT?")
    answer = model.invoke(f"Context: ...\nQuestion: {condensed.content}")

    assert condensed.content == "What does paragraph 5 say about the CTBT?"
    assert answer.content == "Final answer (para. 5)."
    assert llm.pending == []


async def test_astream_yields_several_chunks(llm: OpenAIStandIn) -> None:
    llm.script(text(LONG_TEXT))
    model = make_model(llm)

    chunks = [c async for c in model.astream("stream please")]

    pieces = [c.content for c in chunks if c.content]
    assert len(pieces) >= 3
    assert "".join(str(p) for p in pieces) == LONG_TEXT
    assert llm.last_request.stream
    assert "stream_options" not in llm.last_request.json  # custom base_url: no usage default


def test_sync_stream_with_usage(llm: OpenAIStandIn) -> None:
    llm.script(text(LONG_TEXT))
    model = make_model(llm, stream_usage=True)

    chunks = list(model.stream("stream please"))

    full = chunks[0]
    for c in chunks[1:]:
        full = full + c
    assert isinstance(full, AIMessageChunk)
    assert full.content == LONG_TEXT
    assert full.usage_metadata is not None and full.usage_metadata["output_tokens"] > 0
    assert llm.last_request.json["stream_options"] == {"include_usage": True}


def test_init_chat_model(llm: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    llm.script(text("via init_chat_model"))
    model = init_chat_model("openai:stand-in", base_url=llm.base_url, max_retries=0)

    assert model.invoke("hello").content == "via init_chat_model"
    assert llm.last_request.model == "stand-in"
    assert llm.last_request.authorization == f"Bearer {API_KEY}"


def test_models_endpoint(llm: OpenAIStandIn) -> None:
    client = openai.OpenAI(base_url=llm.base_url, api_key=API_KEY, max_retries=0)
    assert [m.id for m in client.models.list()] == ["stand-in"]
    assert llm.last_request.method == "GET" and llm.last_request.path == "/v1/models"
    assert llm.chat_requests == []


def test_missing_authorization_is_rejected(llm: OpenAIStandIn) -> None:
    req = urllib.request.Request(
        llm.base_url + "/chat/completions",
        data=json.dumps({"model": "stand-in", "messages": []}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as exc_info:
        urllib.request.urlopen(req, timeout=5)
    assert exc_info.value.code == 401
    assert "error" in json.loads(exc_info.value.read())
    assert not llm.last_request.has_auth


# -------------------------------------------------------------- structured output


# openai's beta streaming helper carries the parsed model in a field typed None;
# model_dump() in langchain-openai then warns. Harmless, unrelated to the stand-in.
_PARSED_DUMP_WARNING = "ignore:Pydantic serializer warnings:UserWarning"


def _assert_structured_request(req: RecordedRequest, method: str | None) -> None:
    if method == "function_calling":
        assert req.tool_names == ["Answer"]
        assert req.json["tool_choice"] == {"type": "function", "function": {"name": "Answer"}}
        assert req.response_format is None
    else:  # langchain-openai 1.x default for ChatOpenAI is json_schema
        assert req.tools == []
        assert req.response_format is not None
        assert req.response_format["type"] == "json_schema"
        assert req.response_format["json_schema"]["name"] == "Answer"


def _structured(llm: OpenAIStandIn, method: str | None) -> Any:
    model = make_model(llm)
    if method is None:
        return model.with_structured_output(Answer)
    return model.with_structured_output(Answer, method=method)  # type: ignore[arg-type]


@pytest.mark.parametrize("method", [None, "function_calling"])
def test_structured_invoke(llm: OpenAIStandIn, method: str | None) -> None:
    llm.script(structured(ANSWER))

    result = _structured(llm, method).invoke("What does the G-21 want?")

    assert result == Answer(**ANSWER)
    _assert_structured_request(llm.last_request, method)


@pytest.mark.parametrize("method", [None, "function_calling"])
async def test_structured_ainvoke(llm: OpenAIStandIn, method: str | None) -> None:
    llm.script(structured(ANSWER))
    result = await _structured(llm, method).ainvoke("What does the G-21 want?")
    assert result == Answer(**ANSWER)


@pytest.mark.filterwarnings(_PARSED_DUMP_WARNING)
@pytest.mark.parametrize("method", [None, "function_calling"])
async def test_structured_astream(llm: OpenAIStandIn, method: str | None) -> None:
    llm.script(structured(ANSWER))

    parts = [p async for p in _structured(llm, method).astream("What does the G-21 want?")]

    assert parts and parts[-1] == Answer(**ANSWER)
    req = llm.last_request
    assert req.stream
    _assert_structured_request(req, method)


@pytest.mark.filterwarnings(_PARSED_DUMP_WARNING)
@pytest.mark.parametrize("method", [None, "function_calling"])
def test_structured_stream(llm: OpenAIStandIn, method: str | None) -> None:
    llm.script(structured(ANSWER))
    parts = list(_structured(llm, method).stream("What does the G-21 want?"))
    assert parts and parts[-1] == Answer(**ANSWER)


def test_tool_call_arguments_are_streamed_in_pieces(llm: OpenAIStandIn) -> None:
    llm.script(structured(ANSWER))
    model = make_model(llm).bind_tools([Answer])

    chunks: list[Any] = list(model.stream("answer with the tool"))

    arg_pieces = [tc["args"] for c in chunks for tc in c.tool_call_chunks if tc["args"]]
    assert len(arg_pieces) >= 3
    assert json.loads("".join(arg_pieces)) == ANSWER
    full: Any = chunks[0]
    for c in chunks[1:]:
        full = full + c
    assert isinstance(full, AIMessageChunk)
    assert full.tool_calls[0]["name"] == "Answer" and full.tool_calls[0]["args"] == ANSWER
    assert full.response_metadata["finish_reason"] == "tool_calls"


def test_structured_without_tools_or_format_is_json_content(llm: OpenAIStandIn) -> None:
    llm.script(structured(ANSWER))
    assert json.loads(str(make_model(llm).invoke("json please").content)) == ANSWER


def test_malformed_json_makes_structured_output_raise(llm: OpenAIStandIn) -> None:
    llm.script(raw_content('{"answer": "truncated'))
    # pydantic.ValidationError / OutputParserException: both are ValueErrors.
    with pytest.raises(ValueError):
        _structured(llm, None).invoke("What does the G-21 want?")
    assert llm.attempts == 1
    assert llm.last_request.response_format is not None


async def test_malformed_json_makes_structured_astream_raise(llm: OpenAIStandIn) -> None:
    llm.script(raw_content("not json at all"))
    with pytest.raises(ValueError):
        async for _ in _structured(llm, None).astream("What does the G-21 want?"):
            pass


def test_malformed_tool_arguments_give_none_with_function_calling(llm: OpenAIStandIn) -> None:
    # LangChain turns unparsable tool arguments into invalid_tool_calls and the
    # structured-output parser then yields None instead of raising: apps must cope.
    llm.script(raw_arguments('{"answer": "truncated'))
    model = make_model(llm).with_structured_output(
        Answer, method="function_calling", include_raw=True
    )

    result = model.invoke("What does the G-21 want?")

    assert result["parsed"] is None
    assert result["raw"].invalid_tool_calls[0]["name"] == "Answer"


def test_schema_invalid_tool_arguments_raise_with_function_calling(llm: OpenAIStandIn) -> None:
    llm.script(structured({"answer": 42}))
    with pytest.raises(ValueError):
        _structured(llm, "function_calling").invoke("What does the G-21 want?")


# ------------------------------------------------------------------ failure modes


def test_error_500_raises_internal_server_error(llm: OpenAIStandIn) -> None:
    llm.script(error(500, "boom"))
    with pytest.raises(openai.InternalServerError) as exc_info:
        make_model(llm).invoke("hi")
    assert exc_info.value.status_code == 500
    assert exc_info.value.body == {
        "message": "boom",
        "type": "server_error",
        "param": None,
        "code": None,
    }
    assert llm.attempts == 1


def test_sdk_retries_are_visible(llm: OpenAIStandIn) -> None:
    # max_retries=2 is the openai SDK default: each attempt is a separate request.
    llm.script(error(500), error(503))
    model = make_model(llm, max_retries=2)

    assert model.invoke("hi").content == "Stand-in reply."
    assert [r.retry_count for r in llm.chat_requests] == [0, 1, 2]
    assert [type(r.reply).__name__ for r in llm.chat_requests] == ["Error", "Error", "Text"]


def test_rate_limit_error(llm: OpenAIStandIn) -> None:
    llm.script(error(429, "slow down", code="rate_limit_exceeded"))
    with pytest.raises(openai.RateLimitError):
        make_model(llm).invoke("hi")


async def test_error_on_stream_request(llm: OpenAIStandIn) -> None:
    llm.script(error(500))
    with pytest.raises(openai.InternalServerError):
        async for _ in make_model(llm).astream("hi"):
            pass


def test_slow_reply_times_out(llm: OpenAIStandIn) -> None:
    llm.script(slow(2, then=text("too late")))
    model = make_model(llm, timeout=0.5)

    start = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        model.invoke("hi")
    assert time.monotonic() - start < 1.9
    assert llm.attempts == 1


async def test_slow_reply_within_timeout(llm: OpenAIStandIn) -> None:
    llm.script(slow(0.2, then=text("worth the wait")))
    msg = await make_model(llm, timeout=5).ainvoke("hi")
    assert msg.content == "worth the wait"


def test_drop_raises_connection_error(llm: OpenAIStandIn) -> None:
    llm.script(drop())
    with pytest.raises(openai.APIConnectionError):
        make_model(llm).invoke("hi")
    assert llm.attempts == 1


def test_wait_for_and_close_cuts_slow_short() -> None:
    llm = OpenAIStandIn().start()
    llm.script(slow(30))
    model = make_model(llm, timeout=20)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            model.invoke("hi")
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=call)
    start = time.monotonic()
    worker.start()
    [req] = llm.wait_for(lambda reqs: len(reqs) == 1, timeout=5)
    assert isinstance(req.reply, Slow)
    llm.close()
    worker.join(timeout=10)

    assert not worker.is_alive()
    assert time.monotonic() - start < 10
    assert len(errors) == 1 and isinstance(errors[0], openai.APIConnectionError)


def test_wait_for_times_out(llm: OpenAIStandIn) -> None:
    with pytest.raises(TimeoutError):
        llm.wait_for_requests(1, timeout=0.1)
