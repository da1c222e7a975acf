"""An HTTP server on 127.0.0.1 for fetcher tests whose routes may stream, stall or misbehave.

A route is either a ``Route`` (status, body, headers) or a function that writes the whole
response itself — needed for endless bodies, gzip bombs and stalled servers. Every request is
logged with its arrival time, so tests can assert on measured gaps instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.helpers import Route

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "fetcher"

Writer = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    at: float  # time.monotonic()
    wall: float  # time.time()


class ScriptedServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route | Writer | Callable[[BaseHTTPRequestHandler], Route]] = {}
        self.hits: list[Hit] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with server.lock:
                    server.hits.append(Hit(self.path, dict(self.headers), time.monotonic(),
                                           time.time()))
                route = server.routes.get(self.path, Route(404, b"not found"))
                try:
                    if callable(route):
                        result = route(self)
                        if result is None:  # the function wrote the response itself
                            self.close_connection = True
                            return
                        route = result
                    self.send_response(route.status)
                    for name, value in route.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(route.body)))
                    self.end_headers()
                    self.wfile.write(route.body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def paths(self) -> list[str]:
        with self.lock:
            return [hit.path for hit in self.hits]

    def hits_for(self, path: str) -> list[Hit]:
        with self.lock:
            return [hit for hit in self.hits if hit.path == path]

    def close(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


def sequence(*routes: Route) -> Callable[[BaseHTTPRequestHandler], Route]:
    """Answer with each route in turn, repeating the last one."""
    answers = list(routes)

    def answer(_: BaseHTTPRequestHandler) -> Route:
        return answers.pop(0) if len(answers) > 1 else answers[0]

    return answer


def rss(base: str, items: list[tuple[str, str]], *, full: bool = False) -> bytes:
    """An RSS 2.0 feed of (slug, title) items pointing at ``base/slug``."""
    body = ("<p>" + "Harbour cranes and tides were discussed at length. " * 12 + "</p>"
            if full else "")
    parts = "".join(
        f"<item><title>{title}</title><link>{base}/{slug}</link><guid>{slug}</guid>"
        f"<pubDate>Fri, 20 Nov 2026 08:00:00 GMT</pubDate><description>Teaser.</description>"
        + (f"<content:encoded><![CDATA[{body}]]></content:encoded>" if full else "")
        + "</item>" for slug, title in items)
    return (f'<?xml version="1.0"?><rss version="2.0" '
            f'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>T</title>'
            f"<link>{base}/</link><description>d</description>{parts}</channel></rss>").encode()


def fixture(name: str, base: str) -> bytes:
    """A file of tests/fixtures/fetcher with ``{base}`` pointing at the fixture server."""
    return (FIXTURES / name).read_bytes().replace(b"{base}", base.encode())


def page(title: str) -> Route:
    html = (f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
            f"<p>{title} — the harbour authority reported that cranes resumed work.</p>"
            "</article></body></html>")
    return Route(200, html.encode(), {"Content-Type": "text/html; charset=utf-8"})


def read_whole_topic(settings: Any, topic: str, partitions: int,
                     timeout: float = 60.0) -> list[dict[str, Any]]:
    """Every record in ``topic``, known complete: a sentinel is written to each partition and
    the topic is read until all sentinels came back (end offsets are not trusted, see
    docs/architecture.md).
    Call it once the producers under test have stopped."""
    import uuid as _uuid

    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    from newsflow.codecs import RAW

    marker = f"sentinel-{_uuid.uuid4().hex}".encode()
    producer = KafkaProducer(bootstrap_servers=settings.require_bootstrap(), acks="all")
    try:
        futures = [producer.send(topic, key=marker, value=b"{}", partition=p)
                   for p in range(partitions)]
        producer.flush()
        for future in futures:
            future.get(timeout=30)
    finally:
        producer.close()
    consumer = KafkaConsumer(bootstrap_servers=settings.require_bootstrap(),
                             enable_auto_commit=False)
    records: list[dict[str, Any]] = []
    found: set[int] = set()
    try:
        assigned = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        deadline = time.monotonic() + timeout
        while len(found) < partitions:
            assert time.monotonic() < deadline, f"sentinels of {topic} not read back"
            for batch in consumer.poll(timeout_ms=500).values():
                for message in batch:
                    if message.key == marker:
                        found.add(message.partition)
                    elif message.partition not in found:
                        # every record read is decoded and schema-checked by the raw codec
                        records.append(RAW.decode(message.value))
    finally:
        consumer.close()
    return records
