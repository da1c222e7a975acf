"""Late and future-dated articles in the stream: published, deduped, never evicting the window.

The rule (README, "Old and future-dated articles"): the dedupe window runs on fetch time. An
article fetched longer ago than the window before the newest one (a backfill, a late feed, a
source whose clock lags) is filed at the newest time; one fetched further ahead of the
worker's clock than ``dedupe_max_clock_skew_seconds`` is filed at the worker's time. Both are
still published and deduped against everything remembered.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from newsflow.config import Settings
from tests.helpers import SEEDS, ManagedProcess, TopicReader, ago, produce, raw_record

pytestmark = [pytest.mark.integration, pytest.mark.clock]


def seed(label: str) -> str:
    return next(SEEDS.glob(f"{label}_*.txt")).read_text(encoding="utf-8")


def send(settings: Settings, record: dict[str, Any]) -> None:
    produce(settings, [(record["url"].encode(), json.dumps(record).encode())])


def refiled(settings: Settings) -> dict[str, float]:
    text = httpx.get(f"http://127.0.0.1:{settings.worker_web_port}/metrics", timeout=10).text
    found = re.findall(r'newsflow_processor_dedupe_refiled_total\{direction="(\w+)"\} (\S+)', text)
    return {direction: float(value) for direction, value in found}


def test_late_and_future_dated_articles_are_published_and_deduped(
    settings: Settings, worker: ManagedProcess, reader: TopicReader,
) -> None:
    # Inputs go one at a time: raw partitions are processed in parallel, so only waiting for
    # each decision fixes the order in which the dedupe stage sees them.
    current = raw_record(seed("000"), url="https://today.example/a", source_id="today")
    send(settings, current)
    today = reader.wait_count("articles", 1)[0]

    month_ago = ago(days=30)
    late = raw_record(seed("004"), url="https://archive.example/old", source_id="archive",
                      fetched_at=month_ago)
    send(settings, late)
    late_article = reader.wait_count("articles", 2)[1]
    assert late_article["url"] == late["url"], "a backfilled article is published"
    assert late_article["fetched_at"] == month_ago, "its own fetch time is kept on the record"

    late_copy = raw_record(seed("004"), url="https://mirror.example/old", source_id="mirror",
                           fetched_at=month_ago)
    send(settings, late_copy)
    duplicate = reader.wait_count("duplicates", 1)[0]
    assert (duplicate["url"], duplicate["duplicate_of"]) == (late_copy["url"], late_article["id"])

    future = raw_record(seed("002"), url="https://skewed.example/f", source_id="skewed",
                        fetched_at=ago(days=-365))
    send(settings, future)
    assert reader.wait_count("articles", 3)[2]["url"] == future["url"]

    # Had the future fetch time moved the window a year ahead, today's article would be gone.
    copy_of_today = raw_record(seed("000"), url="https://copy.example/a", source_id="copy")
    send(settings, copy_of_today)
    second = reader.wait_count("duplicates", 2)[1]
    assert (second["url"], second["duplicate_of"]) == (copy_of_today["url"], today["id"])
    assert refiled(settings) == {"late": 2.0, "future": 1.0}
