"""An HTTP server on 127.0.0.1 for fetcher tests whose routes may stream, stall or misbehave.

A route is either a ``Route`` (status, body, headers) or a function that writes the whole
response itself — needed for endless bodies, gzip bombs and stalled servers. Every request is
logged with its arrival time, so tests can assert on measured gaps instead of sleeping.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from newsflow.fetcher.sources import SourceConfig, SourceKind
from newsflow.httpserver import BackgroundServer
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
    """Routes by path; an unknown path is a 404. HTTP/1.1 with keep-alive, like a web server."""

    def __init__(self) -> None:
        self.routes: dict[str, Route | Writer | Callable[[BaseHTTPRequestHandler], Route]] = {}
        self.hits: list[Hit] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.http = BackgroundServer(self._answer, name="scripted-server", keep_alive=True)
        self.http.start()

    def _answer(self, request: BaseHTTPRequestHandler) -> Route | None:
        with self.lock:
            self.hits.append(Hit(request.path, dict(request.headers), time.monotonic(),
                                 time.time()))
        route = self.routes.get(request.path, Route(404, b"not found"))
        return route(request) if callable(route) else route

    @property
    def base_url(self) -> str:
        return self.http.base_url

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
        self.http.stop()


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
    """Every record in ``topic``, known complete (``topics.read_back``: sentinels, not end
    offsets), each decoded and schema-checked by the raw codec. Call it once the producers
    under test have stopped."""
    from kafka import KafkaProducer

    from newsflow.codecs import RAW
    from newsflow.topics import read_back

    producer = KafkaProducer(bootstrap_servers=settings.require_bootstrap(), acks="all")
    try:
        records = [RAW.decode(message.value) for message in
                   read_back(settings, producer, topic, range(partitions), timeout)]
    finally:
        producer.close()
    return records


def source(kind: SourceKind, url: str, **extra: Any) -> SourceConfig:
    """A source with an id of its own, so the process-wide metrics of other tests don't mix."""
    id = f"{kind}-{uuid.uuid4().hex[:8]}"
    return SourceConfig(id=id, name=id, kind=kind, url=url, **extra)
