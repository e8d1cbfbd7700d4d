"""The twin's HTTP layer: one loopback port, HTTP/1.1 keep-alive, JSON in and out.

`TwinServer` is what tests, `provision --twin` and `chameleon-twin serve` use:

    with TwinServer(port=0) as twin:          # started on a free port, stopped on exit
        env = twin.env("CHI@TACC")            # OS_* settings for the real openstack CLI
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO
from urllib.parse import parse_qs, unquote, urlsplit

from chameleon_twin.app import TwinApp
from chameleon_twin.clock import DEFAULT_SPEED, Clock
from chameleon_twin.env import DEFAULT_SITE, base_url, twin_env
from chameleon_twin.http import Request, Response

_BAD_JSON = {"error": {"code": 400, "title": "Bad Request", "message": "Malformed JSON in request body."}}


def _encode(response: Response) -> tuple[bytes, str]:
    body = response.body
    if body is None:
        return b"", ""
    if isinstance(body, str):
        return body.encode(), "text/plain; charset=UTF-8"
    return json.dumps(body).encode(), "application/json"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the CLI reuses one connection per process
    server_version = "chameleon-twin"
    sys_version = ""
    timeout = 300  # drop idle keep-alive connections eventually
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Small request/response pairs on a reused connection stall ~40 ms under Nagle + delayed ACK.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def _serve(self) -> None:
        started = time.monotonic()
        raw = self._read_body()
        url = urlsplit(self.path)
        host = self.headers.get("Host") or f"127.0.0.1:{self.server.server_address[1]}"
        # HEAD is answered as GET without the body (_reply), so services only ever see GET.
        request = Request(method="GET" if self.command == "HEAD" else self.command, path=unquote(url.path) or "/",
                          query=parse_qs(url.query, keep_blank_values=True),
                          headers={k.lower(): v for k, v in self.headers.items()}, base_url=f"http://{host}")
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError:
            response = Response(400, _BAD_JSON)
        else:
            response = self._dispatch(Request(request.method, request.path, request.query, body, request.headers,
                                              request.base_url))
        if response.delay > 0:  # the call is still "running": other requests see the transitional state
            time.sleep(response.delay)
        self._reply(response)
        if self.server.log is not None:
            millis = (time.monotonic() - started) * 1000
            print(f"{self.command} {self.path} -> {response.status} ({millis:.1f} ms)", file=self.server.log,
                  flush=True)

    def _dispatch(self, request: Request) -> Response:
        try:
            return self.server.app.dispatch(request)
        except Exception as exc:  # a twin bug must look like a 500, not a dropped connection
            print(f"twin: error serving {request.method} {request.path}: {exc!r}", file=sys.stderr)
            import traceback

            traceback.print_exc()
            return Response(500, {"error": {"code": 500, "title": "Internal Server Error",
                                            "message": f"twin internal error: {exc!r}"}})

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _reply(self, response: Response) -> None:
        data, content_type = _encode(response)
        self.send_response(response.status)
        headers = {"Content-Type": content_type, **response.headers} if content_type else dict(response.headers)
        headers.setdefault("X-Openstack-Request-Id", f"req-{uuid.uuid4()}")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD" and data:
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # _serve logs one line per request when asked to


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: TwinApp, log: TextIO | None) -> None:
        self.app, self.log = app, log
        super().__init__(address, _Handler)


class TwinServer:
    """The Chameleon twin on one port. Binds at construction; `start()` serves in a daemon thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, speed: float = DEFAULT_SPEED,
                 log: TextIO | None = None) -> None:
        self.app = TwinApp(speed)
        self.host = host
        self._httpd = _Server((host, port), self.app, log)
        self._thread: threading.Thread | None = None
        self._serving = threading.Event()

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return base_url(self.host, self.port)

    @property
    def clock(self) -> Clock:
        return self.app.clock  # looked up each time: a reset replaces the Clock

    def env(self, site: str = DEFAULT_SITE, auth: str = "password") -> dict[str, str]:
        return twin_env(self.base_url, site, auth)

    def state(self) -> dict:
        """The admin state dump (`GET /_twin/state`), in-process."""
        return self.app.state()

    def start(self) -> TwinServer:
        if self._thread is None:
            self._thread = threading.Thread(target=self.serve_forever, name="chameleon-twin", daemon=True)
            self._thread.start()
            self._serving.wait(timeout=5)
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until `stop()` is called from another one."""
        self._serving.set()
        try:
            self._httpd.serve_forever()
        finally:
            self._serving.clear()

    def stop(self) -> None:
        if self._serving.is_set():
            self._httpd.shutdown()  # waits for the serve loop; only valid while it runs
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> TwinServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
