"""Fetcher metrics (prometheus-client). Labels are bounded: source id and kind, never URLs."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

FETCHES = Counter(
    "newsflow_fetcher_fetches_total", "Fetch attempts by source and outcome.",
    ["source", "kind", "outcome"],
)
FETCH_SECONDS = Histogram(
    "newsflow_fetcher_fetch_duration_seconds", "Time to fetch one URL.", ["kind"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
FETCHED_BYTES = Counter("newsflow_fetcher_fetched_bytes_total", "Bytes received.", ["source"])
PUBLISHED = Counter(
    "newsflow_fetcher_articles_published_total", "Raw articles acknowledged by the broker.",
    ["source"],
)
PUBLISH_ERRORS = Counter(
    "newsflow_fetcher_publish_errors_total", "Raw articles the broker did not acknowledge.",
    ["source"],
)
SOURCE_ERRORS = Counter(
    "newsflow_fetcher_source_errors_total", "Source polls that failed, by error type.",
    ["source", "error"],
)
LAST_SUCCESS = Gauge(
    "newsflow_fetcher_source_last_success_timestamp_seconds",
    "Unix time of the source's last successful poll.", ["source"],
)
