"""A scriptable OpenAI-compatible endpoint on loopback, so tests drive the real `openai` SDK.

Speaks just enough of the Chat Completions API: `POST /v1/chat/completions` answers with a
proper `chat.completion` object. Replies come from a queue (`enqueue`); every request is recorded
(`requests`) with its JSON body and headers for assertions.

    def test_x(fake_llm):
        fake_llm.enqueue('{"ok": true}', fake_llm.error(500), lambda req: "{}")
        ...  # point AISettings(base_url=fake_llm.base_url, api_key="test-key") at it
        assert fake_llm.requests[0].messages[0]["role"] == "system"
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass(frozen=True)
class ErrorReply:
    """An HTTP error with an OpenAI-style body: {"error": {"message", "type", "param", "code"}}."""

    status: int
    message: str = "fake_llm error"
    type: str = "server_error"
    code: str | None = None


#: what `enqueue` accepts: content, a function of the request JSON returning content, or an error
Reply = str | Callable[[dict[str, Any]], str] | ErrorReply


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.body.get("messages", [])


@dataclass
class _Queued:
    reply: Reply
    delay: float = 0.0


@dataclass
class FakeLLM:
    """The server; use the `fake_llm` fixture, or `with FakeLLM() as llm:` outside pytest."""

    rejects_response_format: bool = False  # answers 400 to any response_format
    rejected_formats: tuple[str, ...] = ()  # answers 400 to these response_format types only
    requests: list[RecordedRequest] = field(default_factory=list)
    _queue: deque[_Queued] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _server: ThreadingHTTPServer | None = None

    # -- scripting ---------------------------------------------------------------------------
    def enqueue(self, *replies: Reply, delay: float = 0.0) -> None:
        """Queue replies in order: a content string, a callable(request JSON) -> content, or an
        `error(...)`. `delay` seconds pass before each of these replies (to provoke timeouts)."""
        with self._lock:
            self._queue.extend(_Queued(reply, delay) for reply in replies)

    @staticmethod
    def error(status: int, message: str = "fake_llm error", *, type: str | None = None,
              code: str | None = None) -> ErrorReply:
        kind = type or {400: "invalid_request_error", 401: "authentication_error",
                        429: "rate_limit_error"}.get(status, "server_error")
        return ErrorReply(status, message, kind, code)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    @property
    def base_url(self) -> str:
        assert self._server is not None, "FakeLLM not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> FakeLLM:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self._server.block_on_close = False  # a handler sleeping past a client timeout must not block close
        # a short poll interval keeps shutdown() (and so each test's teardown) fast
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-llm",
                         daemon=True).start()
        return self

    def close(self) -> None:
        self._stopping.set()  # wakes handlers sleeping in a delay
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- serving -----------------------------------------------------------------------------
    def _answer(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return 400, _error_body(ErrorReply(400, "request body is not JSON", "invalid_request_error"))
        with self._lock:
            self.requests.append(RecordedRequest(path, headers, body))
        if path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            return 404, _error_body(ErrorReply(404, f"no route {path}", "invalid_request_error"))
        fmt = body.get("response_format")
        if fmt and (self.rejects_response_format or fmt.get("type") in self.rejected_formats):
            return 400, _error_body(ErrorReply(400, "response_format is not supported by this model",
                                               "invalid_request_error", "unsupported_parameter"))
        with self._lock:
            queued = self._queue.popleft() if self._queue else None
        if queued is None:
            return 500, _error_body(ErrorReply(500, "fake_llm: no reply queued"))
        if queued.delay:
            self._stopping.wait(queued.delay)
        reply = queued.reply
        if isinstance(reply, ErrorReply):
            return reply.status, _error_body(reply)
        content = reply(body) if callable(reply) else reply
        prompt_tokens = len(json.dumps(body.get("messages", []))) // 4
        return 200, {
            "id": f"chatcmpl-fake-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake-model"),
            "choices": [{"index": 0, "logprobs": None, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content, "refusal": None}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(content) // 4,
                      "total_tokens": prompt_tokens + len(content) // 4},
        }


def _error_body(err: ErrorReply) -> dict[str, Any]:
    return {"error": {"message": err.message, "type": err.type, "param": None, "code": err.code}}


def _make_handler(llm: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's httpx client expects

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, payload = llm._answer(self.path, headers, raw)
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (timeout) before we answered
                self.close_connection = True

        do_GET = do_PUT = do_DELETE = do_POST  # recorded too: a test may assert nothing reached us

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    return Handler


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    """A running FakeLLM; its `base_url` goes into AISettings(base_url=...)."""
    with FakeLLM() as llm:
        yield llm
