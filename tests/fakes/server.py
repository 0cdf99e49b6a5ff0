"""The Bot API stand-in's HTTP server: ``BotApiStandIn`` serves ``/bot<TOKEN>/<method>`` on
127.0.0.1 (free port, background thread), decodes each request as PTB sends it, checks it
against the spec, records it, applies fault rules and answers with the method emulation.

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
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.faults import FaultInjection, _FaultRule, _method_matches, _RatioRule
from tests.fakes.methods import _IMPLEMENTED, _IMPLEMENTED_NAMES, MethodEmulation
from tests.fakes.spec import (
    ApiSpec,
    SpecChecker,
    UploadedFile,
    _callback_data_violations,
    _short,
    formatting_violations,
    load_spec,
)
from tests.fakes.state import DEFAULT_TOKEN, ApiError
from tests.fakes.updates import UpdateFactory

JSONDict = dict[str, Any]
T = TypeVar("T")


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
# Records
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


class BotApiStandIn(UpdateFactory, MethodEmulation, FaultInjection):
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
