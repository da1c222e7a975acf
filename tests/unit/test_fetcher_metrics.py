"""The fetcher's per-source series exist from the moment a source is configured."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY, generate_latest

from newsflow.fetcher import metrics

pytestmark = pytest.mark.clock  # the module stamps poll times


def test_a_configured_source_has_every_per_source_series_at_zero() -> None:
    metrics.source_configured("configured-now")
    exposed = generate_latest(REGISTRY).decode()
    for name in ("articles_published_total", "publish_errors_total", "articles_dropped_total",
                 "articles_invalid_total", "blocked_urls_total", "robots_denials_total",
                 "fetched_bytes_total"):
        assert f'newsflow_fetcher_{name}{{source="configured-now"}} 0.0' in exposed, name
    assert 'newsflow_fetcher_source_consecutive_failures{source="configured-now"} 0.0' in exposed
    assert ('newsflow_fetcher_dead_letters_total{error="RecordInvalid",source="configured-now"} 0.0'
            in exposed)


def test_a_directory_source_has_its_file_counts_at_zero() -> None:
    metrics.directory_source_configured("inbox-now")
    exposed = generate_latest(REGISTRY).decode()
    for outcome in ("read", "unchanged"):
        assert (f'newsflow_fetcher_directory_files_total{{outcome="{outcome}",source="inbox-now"}}'
                f' 0.0') in exposed, outcome
    for error in ("EmptyFile", "BinaryFile", "BrokenFile", "FileTooLarge", "BadRecord"):
        assert (f'newsflow_fetcher_dead_letters_total{{error="{error}",source="inbox-now"}} 0.0'
                in exposed), error
