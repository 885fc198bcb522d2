"""A webhook receiver on 127.0.0.1 that fails the first N requests, then succeeds."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class WebhookPeer:
    """``with WebhookPeer(fail_first=2, fail_status=503) as peer: post(peer.url)``; see ``peer.received``."""

    def __init__(self, fail_first: int = 0, fail_status: int = 500, delay_seconds: float = 0.0) -> None:
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.delay_seconds = delay_seconds
        self.attempts = 0
        self.received: list[Any] = []  # bodies of successfully accepted requests
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/hook"

    def __enter__(self) -> WebhookPeer:
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                import time

                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with peer._lock:
                    peer.attempts += 1
                    failing = peer.attempts <= peer.fail_first
                if peer.delay_seconds:
                    time.sleep(peer.delay_seconds)
                if failing:
                    self.send_response(peer.fail_status)
                    self.end_headers()
                    self.wfile.write(b"failing on purpose")
                    return
                with peer._lock:
                    peer.received.append(json.loads(raw) if raw else None)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
