"""A recording stub of the Databricks REST API on 127.0.0.1.

databricks-sdk is pointed at it with ``WorkspaceClient(host=stub.url, token="x")``;
every request is recorded (method, path, query, JSON body) so tests can assert
the exact calls, and routes answer with canned JSON or a callable.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

Responder = Callable[["RecordedRequest"], tuple[int, Any]]


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class RestStub:
    """Context manager: ``with RestStub() as stub: stub.route("GET", "/api/...", json={...})``."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._routes: dict[tuple[str, str], Responder] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def route(
        self, method: str, path: str, *, json: Any = None, status: int = 200, handler: Responder | None = None
    ) -> None:
        """Answer ``method path`` with ``json`` (and ``status``), or with ``handler(request)``."""
        if handler is None:
            payload = {} if json is None else json

            def handler(_req: RecordedRequest, _p: Any = payload, _s: int = status) -> tuple[int, Any]:
                return _s, _p

        self._routes[(method.upper(), path)] = handler

    def calls(self, method: str, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method.upper() and r.path == path]

    def __enter__(self) -> RestStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                parsed = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                req = RecordedRequest(
                    self.command, parsed.path, parse_qs(parsed.query), body, dict(self.headers.items())
                )
                with stub._lock:
                    stub.requests.append(req)
                responder = stub._routes.get((self.command, parsed.path))
                if responder is None:
                    status, payload = (
                        404,
                        {
                            "error_code": "ENDPOINT_NOT_FOUND",
                            "message": f"stub has no route for {self.command} {parsed.path}",
                        },
                    )
                else:
                    status, payload = responder(req)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
