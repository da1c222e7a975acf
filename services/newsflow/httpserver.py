"""A small threaded HTTP server for GET requests, served from a daemon thread.

One mechanism for the three places newsflow serves HTTP itself: the fetcher's /metrics and
health pages, the bundled sample site, and the tests' scripted servers. A request is answered
by a function: it returns an ``Answer``, or writes the whole response itself and returns None
(for a test server that stalls, trickles or sends an endless body). The worker's health pages
are not served here: the worker runs Faust's own web server anyway (processor/health.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


Respond = Callable[[BaseHTTPRequestHandler], Answer | None]


class BackgroundServer:
    """``respond`` answers every GET. ``keep_alive``: HTTP/1.1 persistent connections, as a web
    server has them (else one request per connection, which suits probes and scrapers)."""

    def __init__(self, respond: Respond, host: str = "127.0.0.1", port: int = 0, *,
                 name: str = "http-server", keep_alive: bool = False) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def do_GET(self) -> None:
                try:
                    answer = respond(self)
                    if answer is None:  # the function wrote the response itself
                        self.close_connection = True
                        return
                    self.send_response(answer.status)
                    for header, value in answer.headers.items():
                        self.send_header(header, value)
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except (BrokenPipeError, ConnectionResetError):  # the client went away
                    self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                pass  # one line per request on stderr is noise; callers count what they need

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name=name, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> BackgroundServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
