"""A local, scriptable stand-in for the OpenAI Chat Completions HTTP API.

Standard library only. Tests point the real client (``langchain_openai.ChatOpenAI`` /
``langchain.chat_models.init_chat_model("openai:...")``) at ``llm.base_url`` and script
what the "model" answers::

    with OpenAIStandIn() as llm:
        llm.script(text("Paragraph 3 says ..."), structured({"answer": "..."}))
        model = ChatOpenAI(base_url=llm.base_url, api_key="sk-test", model="stand-in")
        ...
        assert llm.chat_requests[0].messages[-1]["content"] == "..."

Endpoints: ``POST /v1/chat/completions`` (JSON or SSE streaming when ``"stream": true``)
and ``GET /v1/models`` (+ ``GET /v1/models/{id}``). Everything else answers 404 with an
OpenAI-style error body.

Replies are taken from a FIFO queue (``llm.script(...)``); a reply carrying a ``match``
callable is only used for a request whose parsed JSON body it accepts (the first
acceptable reply in the queue wins, others stay queued). When nothing in the queue
fits, ``llm.default`` is used.

Every HTTP request (each retry attempt of the openai SDK included) is recorded in order
in ``llm.requests``; the SDK's ``x-stainless-retry-count`` header is exposed as
``RecordedRequest.retry_count`` so retries are visible. The ``Authorization`` header is
required (401 otherwise, like OpenAI) and kept in ``RecordedRequest.authorization``,
which is excluded from ``repr`` and redacted in ``RecordedRequest.headers``; the server
never logs anything.

This module holds the server, the recording and the names tests import; the replies and
matchers are in ``openai_replies``, the response bodies and stream events in ``openai_wire``.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from tests.fakes.openai_replies import (
    Drop,
    Error,
    Matcher,
    RawArguments,
    RawContent,
    Reply,
    Slow,
    Structured,
    Text,
    _content_text,
    any_message_contains,
    drop,
    error,
    last_user_contains,
    raw_arguments,
    raw_content,
    slow,
    structured,
    text,
)
from tests.fakes.openai_wire import (
    _CREATED,
    _FINGERPRINT,
    _Answer,
    _answer,
    _error_body,
    _error_type,
    _is_function_tool,
    _stream_events,
    _usage,
)

__all__ = [
    "Drop",
    "Error",
    "Matcher",
    "OpenAIStandIn",
    "RawArguments",
    "RawContent",
    "RecordedRequest",
    "Reply",
    "Slow",
    "Structured",
    "Text",
    "any_message_contains",
    "drop",
    "error",
    "last_user_contains",
    "raw_arguments",
    "raw_content",
    "slow",
    "structured",
    "text",
]

CHAT_PATH = "/v1/chat/completions"
MODELS_PATH = "/v1/models"
REDACTED = "<redacted>"


# ------------------------------------------------------------------------- recording


@dataclass
class RecordedRequest:
    """One HTTP request as received (one per attempt: SDK retries are separate entries)."""

    index: int
    method: str
    path: str
    headers: dict[str, str]
    """Lower-cased header names; ``authorization`` is redacted."""
    body: Any
    """Parsed JSON body (``None`` without a body, the raw text if it wasn't JSON)."""
    authorization: str | None = field(default=None, repr=False)
    reply: Reply | None = None
    """The scripted/default reply chosen for a chat request."""

    @property
    def is_chat(self) -> bool:
        return self.method == "POST" and self.path == CHAT_PATH

    @property
    def retry_count(self) -> int:
        """The openai SDK's ``x-stainless-retry-count`` (0 on the first attempt)."""
        try:
            return int(self.headers.get("x-stainless-retry-count", "0"))
        except ValueError:
            return 0

    @property
    def has_auth(self) -> bool:
        return bool(self.authorization and self.authorization.startswith("Bearer "))

    @property
    def json(self) -> dict[str, Any]:
        return self.body if isinstance(self.body, dict) else {}

    @property
    def model(self) -> str | None:
        return self.json.get("model")

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.json.get("messages") or [])

    @property
    def last_user_text(self) -> str:
        users = [m for m in self.messages if m.get("role") == "user"]
        return _content_text(users[-1].get("content")) if users else ""

    @property
    def stream(self) -> bool:
        return bool(self.json.get("stream"))

    @property
    def tools(self) -> list[dict[str, Any]]:
        return list(self.json.get("tools") or [])

    @property
    def tool_names(self) -> list[str]:
        return [t["function"]["name"] for t in self.tools if _is_function_tool(t)]

    @property
    def response_format(self) -> dict[str, Any] | None:
        rf = self.json.get("response_format")
        return rf if isinstance(rf, dict) else None


# ---------------------------------------------------------------------- the stand-in


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, standin: OpenAIStandIn) -> None:
        self.standin = standin
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Never print (requests carry credentials); keep unexpected errors for tests."""
        exc = sys.exc_info()[1]
        if exc is None or isinstance(exc, OSError):
            return  # client went away, connection closed by close(), ...
        with self.standin._cond:
            self.standin._server_errors.append(exc)


class OpenAIStandIn:
    """Scriptable OpenAI-compatible server on ``127.0.0.1:<free port>``."""

    def __init__(
        self,
        *,
        default: Reply | None = None,
        require_auth: bool = True,
        chunk_delay: float = 0.0,
        model_ids: tuple[str, ...] = ("stand-in",),
    ) -> None:
        self.default: Reply = default if default is not None else Text("Stand-in reply.")
        self.require_auth = require_auth
        self.chunk_delay = chunk_delay
        """Seconds to sleep between streamed SSE events (0 = send at once)."""
        self.model_ids = model_ids
        self._cond = threading.Condition()
        self._queue: list[Reply] = []
        self._requests: list[RecordedRequest] = []
        self._closing = threading.Event()
        self._conns: set[socket.socket] = set()
        self._server_errors: list[BaseException] = []
        self._ids = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        state = "running" if self._server is not None else "stopped"
        return f"<OpenAIStandIn {state} base_url={self.base_url if self._server else None}>"

    # lifecycle ------------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._closing.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"openai-standin-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving; cuts ``slow`` waits short and closes open connections."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._closing.set()
        server.shutdown()
        with self._cond:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("OpenAIStandIn is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    # scripting ------------------------------------------------------------------------

    def script(self, *replies: Reply) -> Self:
        """Append replies to the FIFO queue."""
        with self._cond:
            self._queue.extend(replies)
        return self

    def clear_script(self) -> None:
        with self._cond:
            self._queue.clear()

    @property
    def pending(self) -> list[Reply]:
        """Scripted replies not consumed yet."""
        with self._cond:
            return list(self._queue)

    def reset(self) -> None:
        """Forget scripted replies and recorded requests."""
        with self._cond:
            self._queue.clear()
            self._requests.clear()

    # recording ------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in order (a snapshot)."""
        with self._cond:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """``POST /v1/chat/completions`` requests; one per attempt, retries included."""
        return [r for r in self.requests if r.is_chat]

    @property
    def attempts(self) -> int:
        return len(self.chat_requests)

    @property
    def server_errors(self) -> list[BaseException]:
        """Unexpected exceptions raised inside the stand-in's handler (should stay empty)."""
        with self._cond:
            return list(self._server_errors)

    @property
    def last_request(self) -> RecordedRequest:
        reqs = self.requests
        if not reqs:
            raise AssertionError("the stand-in has received no request")
        return reqs[-1]

    def wait_for(
        self,
        predicate: Callable[[list[RecordedRequest]], bool],
        timeout: float = 5.0,
    ) -> list[RecordedRequest]:
        """Block until ``predicate(requests)`` holds; raise ``TimeoutError`` otherwise."""
        with self._cond:
            ok = self._cond.wait_for(lambda: predicate(list(self._requests)), timeout)
            if not ok:
                raise TimeoutError(
                    f"stand-in: condition not met within {timeout}s "
                    f"({len(self._requests)} request(s) recorded)"
                )
            return list(self._requests)

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least ``n`` chat requests arrived."""
        return self.wait_for(lambda rs: sum(r.is_chat for r in rs) >= n, timeout)

    # internals (called from handler threads) -------------------------------------------

    def _record(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: Any,
        authorization: str | None,
        *,
        pick_reply: bool,
    ) -> RecordedRequest:
        with self._cond:
            rec = RecordedRequest(
                index=len(self._requests),
                method=method,
                path=path,
                headers=headers,
                body=body,
                authorization=authorization,
            )
            if pick_reply:
                rec.reply = self._take_reply(body if isinstance(body, dict) else {})
            self._requests.append(rec)
            self._cond.notify_all()
            return rec

    def _take_reply(self, body: dict[str, Any]) -> Reply:
        for i, reply in enumerate(self._queue):
            if reply.match is None or _safe_match(reply.match, body):
                del self._queue[i]
                return reply
        return self.default

    def _next_id(self, prefix: str) -> str:
        with self._cond:
            self._ids += 1
            return f"{prefix}-standin-{self._ids}"

    def _register(self, conn: socket.socket) -> None:
        with self._cond:
            self._conns.add(conn)

    def _unregister(self, conn: socket.socket) -> None:
        with self._cond:
            self._conns.discard(conn)


def _safe_match(match: Matcher, body: dict[str, Any]) -> bool:
    try:
        return bool(match(body))
    except Exception:
        return False


# ---------------------------------------------------------------------------- handler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "OpenAIStandIn/1.0"
    timeout = 60  # idle keep-alive connections don't pin a thread forever
    server: _Server

    @property
    def standin(self) -> OpenAIStandIn:
        return self.server.standin

    def setup(self) -> None:
        super().setup()
        self.standin._register(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.standin._unregister(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence: never print requests (they carry the Authorization header)."""

    # plumbing -------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            out = bytearray()
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _record(self, body: Any, *, pick_reply: bool) -> RecordedRequest:
        headers = {k.lower(): v for k, v in self.headers.items()}
        authorization = headers.get("authorization")
        if authorization is not None:
            headers["authorization"] = REDACTED
        return self.standin._record(
            self.command,
            self.path.split("?", 1)[0],
            headers,
            body,
            authorization,
            pick_reply=pick_reply,
        )

    def _send_json(
        self, status: int, payload: Any, extra_headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", self.standin._next_id("req"))
        for k, v in (extra_headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _send_error(self, reply: Error) -> None:
        headers: dict[str, str] = {}
        if reply.retry_after_ms is not None:
            headers["retry-after-ms"] = f"{reply.retry_after_ms:g}"
        if reply.should_retry is not None:
            headers["x-should-retry"] = "true" if reply.should_retry else "false"
        body = _error_body(reply.message, reply.type or _error_type(reply.status), reply.code)
        self._send_json(reply.status, body, headers)

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _auth_ok(self, rec: RecordedRequest) -> bool:
        if not self.standin.require_auth or rec.has_auth:
            return True
        self._send_json(
            401,
            _error_body(
                "You didn't provide an API key (stand-in expects 'Authorization: Bearer ...').",
                "invalid_request_error",
                None,
            ),
        )
        return False

    # routes ---------------------------------------------------------------------------

    def do_GET(self) -> None:
        rec = self._record(None, pick_reply=False)
        if not self._auth_ok(rec):
            return
        path = rec.path.rstrip("/")
        if path == MODELS_PATH:
            data = [self._model(m) for m in self.standin.model_ids]
            self._send_json(200, {"object": "list", "data": data})
        elif path.startswith(MODELS_PATH + "/"):
            self._send_json(200, self._model(path[len(MODELS_PATH) + 1 :]))
        else:
            self._not_found()

    @staticmethod
    def _model(model_id: str) -> dict[str, Any]:
        return {"id": model_id, "object": "model", "created": _CREATED, "owned_by": "stand-in"}

    def _not_found(self) -> None:
        self._send_json(
            404,
            _error_body(f"Invalid URL ({self.command} {self.path})", "invalid_request_error", None),
        )

    def do_POST(self) -> None:
        raw = self._read_body()
        body: Any
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        is_chat = self.path.split("?", 1)[0] == CHAT_PATH
        rec = self._record(body, pick_reply=is_chat and isinstance(body, dict))
        if not self._auth_ok(rec):
            return
        if not is_chat:
            self._not_found()
            return
        if not isinstance(body, dict) or rec.reply is None:
            self._send_json(
                400,
                _error_body(
                    "We could not parse the JSON body of your request.",
                    "invalid_request_error",
                    None,
                ),
            )
            return
        try:
            self._serve(rec.reply, body)
        except OSError:  # client went away (timeout, cancelled stream, ...)
            self.close_connection = True

    def _serve(self, reply: Reply, body: dict[str, Any]) -> None:
        while isinstance(reply, Slow):
            if self.standin._closing.wait(reply.seconds):
                self.close_connection = True  # closing: cut short, no response
                return
            reply = reply.then if reply.then is not None else self.standin.default
        if isinstance(reply, Drop):
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if isinstance(reply, Error):
            self._send_error(reply)
            return
        answer = _answer(reply, body, self.standin._next_id("call"))
        completion_id = self.standin._next_id("chatcmpl")
        generated = answer.content or "".join(
            c["function"]["arguments"] for c in answer.tool_calls or []
        )
        usage = _usage(body, generated)
        model = str(body.get("model") or "stand-in")
        if body.get("stream"):
            self._stream(body, answer, completion_id, model, usage)
        else:
            message: dict[str, Any] = {
                "role": "assistant",
                "content": answer.content,
                "refusal": None,
            }
            if answer.tool_calls:
                message["tool_calls"] = answer.tool_calls
            self._send_json(
                200,
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": _CREATED,
                    "model": model,
                    "system_fingerprint": _FINGERPRINT,
                    "choices": [
                        {
                            "index": 0,
                            "message": message,
                            "logprobs": None,
                            "finish_reason": answer.finish_reason,
                        }
                    ],
                    "usage": usage,
                },
            )

    def _stream(
        self,
        body: dict[str, Any],
        answer: _Answer,
        completion_id: str,
        model: str,
        usage: dict[str, Any],
    ) -> None:
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-request-id", self.standin._next_id("req"))
        self.end_headers()

        for event in _stream_events(answer, completion_id, model, usage, include_usage):
            if self.standin._closing.is_set():
                self.close_connection = True
                return
            self._write_chunk(f"data: {event}\n\n".encode())
            if self.standin.chunk_delay:
                self.standin._closing.wait(self.standin.chunk_delay)
        self._write_chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
