"""Fetcher metrics (prometheus-client) and the /metrics, /healthz, /livez and /readyz endpoint.

Conventions: ``newsflow_`` prefix, base units, counters end in ``_total``, and only bounded
labels — source id (from the sources file), source kind, request kind, outcome and status
class; never a URL.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

from newsflow.errors import BadRecord, BinaryFile, BrokenFile, EmptyFile, FileTooLarge, RecordInvalid
from newsflow.httpserver import Answer, BackgroundServer

FETCHES = Counter(
    "newsflow_fetcher_fetches_total",
    "Source polls by source, source kind and outcome (ok, not_modified, partial, error, "
    "timeout, too_large, blocked, robots_denied, gone, redirects, http_4xx, http_5xx, "
    "malformed).",
    ["source", "kind", "outcome"],
)
HTTP_RESPONSES = Counter(
    "newsflow_fetcher_http_responses_total",
    "HTTP responses by request kind (a source kind, page or robots) and status class "
    "(2xx, 304, 3xx, 4xx, 5xx).",
    ["kind", "status_class"],
)
CONDITIONAL_REQUESTS = Counter(
    "newsflow_fetcher_conditional_requests_total",
    "Requests sent with If-None-Match or If-Modified-Since.", ["kind"],
)
NOT_MODIFIED = Counter(
    "newsflow_fetcher_not_modified_total", "Conditional requests answered 304.", ["kind"],
)
NOT_MODIFIED_RATIO = Gauge(
    "newsflow_fetcher_not_modified_ratio",
    "Share of conditional requests answered 304 since start.",
)
FETCH_SECONDS = Histogram(
    "newsflow_fetcher_fetch_duration_seconds",
    "Time to fetch one URL, retries and redirects included.", ["kind"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
FETCHED_BYTES = Counter(
    "newsflow_fetcher_fetched_bytes_total", "Decompressed body bytes received.", ["source"],
)
RETRIES = Counter(
    "newsflow_fetcher_retries_total",
    "Requests retried, by request kind and reason (timeout, connect, 429, 5xx).",
    ["kind", "reason"],
)
ROBOTS_DENIALS = Counter(
    "newsflow_fetcher_robots_denials_total", "URLs not fetched because robots.txt disallows them.",
    ["source"],
)
BLOCKED = Counter(
    "newsflow_fetcher_blocked_urls_total",
    "URLs refused by the address guard (scheme, private or metadata address).", ["source"],
)
PUBLISHED = Counter(
    "newsflow_fetcher_articles_published_total", "Raw articles acknowledged by the broker.",
    ["source"],
)
PUBLISH_ERRORS = Counter(
    "newsflow_fetcher_publish_errors_total",
    "Publish attempts the broker did not acknowledge (the record is kept and retried).",
    ["source"],
)
DROPPED = Counter(
    "newsflow_fetcher_articles_dropped_total",
    "Raw articles the broker can never take (e.g. too large), dropped after one attempt.",
    ["source"],
)
INVALID = Counter(
    "newsflow_fetcher_articles_invalid_total",
    "Raw articles that do not follow schemas/raw-article.v1.json: sent to the dead-letter topic "
    "instead of the raw topic.", ["source"],
)
DIRECTORY_FILES = Counter(
    "newsflow_fetcher_directory_files_total",
    "Files of directory sources met by polls, by source and outcome: read, or unchanged since "
    "the last poll (same size, times and inode, every part published or queued): not read "
    "again.",
    ["source", "outcome"],
)
DIRECTORY_FILE_OUTCOMES = ("read", "unchanged")
DEAD_LETTERS = Counter(
    "newsflow_fetcher_dead_letters_total",
    "Files and records sent to the dead-letter topic instead of the raw topic, by error "
    "(EmptyFile, BinaryFile, BrokenFile, FileTooLarge, BadRecord, RecordInvalid).",
    ["source", "error"],
)
OUTBOX = Gauge(
    "newsflow_fetcher_outbox_records", "Fetched raw articles waiting for the broker's ack.",
)
BROKER_UP = Gauge(
    "newsflow_fetcher_broker_available", "1 while the last publish attempt was acknowledged.",
)
SOURCE_ERRORS = Counter(
    "newsflow_fetcher_source_errors_total", "Errors while polling a source, by error type.",
    ["source", "error"],
)
LAST_SUCCESS = Gauge(
    "newsflow_fetcher_source_last_success_timestamp_seconds",
    "Unix time of the source's last successful poll (its listing was read: ok, not_modified "
    "or partial).", ["source"],
)
LAST_ATTEMPT = Gauge(
    "newsflow_fetcher_source_last_attempt_timestamp_seconds",
    "Unix time the source's last poll started, whatever its outcome.", ["source"],
)
CONSECUTIVE_FAILURES = Gauge(
    "newsflow_fetcher_source_consecutive_failures",
    "Polls of the source that failed in a row (0 after a successful poll; 0 for every "
    "configured source at start).", ["source"],
)
DEFERRED_ITEMS = Gauge(
    "newsflow_fetcher_source_deferred_items",
    "New items the source's last poll found beyond its max_items, left for later polls.",
    ["source"],
)
POLL_INTERVAL = Gauge(
    "newsflow_fetcher_source_poll_interval_seconds",
    "Configured poll interval of each source (for staleness alerts).", ["source"],
)
RETIRED = Gauge(
    "newsflow_fetcher_source_retired", "1 when the source was retired (HTTP 410).", ["source"],
)

# A poll succeeded when the source's listing was read, even if some of its pages were not.
SUCCESS_OUTCOMES = frozenset({"ok", "not_modified", "partial"})


def sources_configured(sources: Iterable[tuple[str, float]]) -> None:
    """(source id, poll interval) of every configured source: their series exist before the
    broker is reached, so a fetcher that cannot reach it still shows what it would poll."""
    for source, interval in sources:
        POLL_INTERVAL.labels(source).set(interval)
        source_configured(source)


def source_configured(source: str) -> None:
    """Every configured source has health series from the start, so alerts and the dashboard
    see a source that never succeeds."""
    CONSECUTIVE_FAILURES.labels(source).set(0)
    DEFERRED_ITEMS.labels(source).set(0)
    # Counters at 0 too: rate() and increase() take a series' first sample as its start, so
    # a counter born at its first increment would hide that whole first batch.
    for counter in (PUBLISHED, PUBLISH_ERRORS, DROPPED, INVALID, BLOCKED, ROBOTS_DENIALS,
                    FETCHED_BYTES):
        counter.labels(source)
    DEAD_LETTERS.labels(source, RecordInvalid.__name__)  # any source's record can fail its schema


def directory_source_configured(source: str) -> None:
    for outcome in DIRECTORY_FILE_OUTCOMES:
        DIRECTORY_FILES.labels(source, outcome)
    # The files and records a directory source cannot read: their first letters count too.
    for error in (EmptyFile, BinaryFile, BrokenFile, FileTooLarge, BadRecord):
        DEAD_LETTERS.labels(source, error.__name__)


def record_poll(source: str, outcome: str) -> None:
    if outcome in SUCCESS_OUTCOMES:
        LAST_SUCCESS.labels(source).set(time.time())
        CONSECUTIVE_FAILURES.labels(source).set(0)
    else:
        CONSECUTIVE_FAILURES.labels(source).inc()


_conditional = 0
_not_modified = 0


def record_response(kind: str, status: int, conditional: bool) -> None:
    global _conditional, _not_modified
    status_class = "304" if status == 304 else f"{status // 100}xx"
    HTTP_RESPONSES.labels(kind, status_class).inc()
    if conditional:
        _conditional += 1
        CONDITIONAL_REQUESTS.labels(kind).inc()
        if status == 304:
            _not_modified += 1
            NOT_MODIFIED.labels(kind).inc()
        NOT_MODIFIED_RATIO.set(_not_modified / _conditional)


class Heartbeat:
    """Proof that the event loop still runs: a task beats, the HTTP thread reads the age.

    The HTTP server answers from its own thread, so answering at all proves only that the
    process exists; a wedged event loop (a blocking call, a deadlock) would go unnoticed.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.last = clock()

    def beat(self) -> None:
        self.last = self.clock()

    def age(self) -> float:
        return self.clock() - self.last

    async def run(self, interval: float = 1.0) -> None:
        while True:
            self.beat()
            await asyncio.sleep(interval)


# A loop that has not beaten for this long is stuck: /livez says 503 and k8s restarts the pod.
LIVENESS_STALL_SECONDS = 30.0


def serve(host: str, port: int, health: Callable[[], tuple[bool, dict[str, Any]]],
          heartbeat: Heartbeat) -> BackgroundServer:
    """/metrics (Prometheus text format) and health pages (200 or 503 with a JSON status).

    /healthz: started and polling (503 while the broker is unreachable at start).
    /livez: the process runs and its event loop beats; independent of the broker, so a liveness
    probe does not restart a fetcher that is only waiting for Kafka.
    /readyz: /healthz and the broker acknowledges what the fetcher publishes.
    """
    def respond(request: BaseHTTPRequestHandler) -> Answer:
        path = request.path.split("?")[0]
        if path == "/metrics":
            return Answer(200, generate_latest(), {"Content-Type": CONTENT_TYPE_LATEST})
        if path == "/healthz":
            ok, detail = health()
            return _json(200 if ok else 503, {"status": "ok" if ok else "unhealthy", **detail})
        if path == "/livez":
            age = heartbeat.age()
            live = age < LIVENESS_STALL_SECONDS
            return _json(200 if live else 503,
                         {"live": live, "event_loop_seconds_since_beat": round(age, 1)})
        if path == "/readyz":
            ok, detail = health()
            ready = ok and bool(detail.get("broker_available"))
            return _json(200 if ready else 503, {"ready": ready, **detail})
        return Answer(404, b"not found\n", {"Content-Type": "text/plain"})

    return BackgroundServer(respond, host, port, name="fetcher-metrics").start()


def _json(status: int, value: dict[str, Any]) -> Answer:
    return Answer(status, json.dumps(value).encode(), {"Content-Type": "application/json"})
