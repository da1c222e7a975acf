"""Window eviction in the stream: an article that falls out of the dedupe window (measured on
fetch time, from the newest article) is forgotten by a real worker — removed from the index and
deleted from the changelog-backed memory table — so a later copy of it is a new article.

Fetch times are relative to the clock (``ago``); the window is one day, so no test waits for
time to pass.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka import KafkaConsumer, TopicPartition

from newsflow.broker import EmbeddedBroker
from newsflow.config import Settings
from tests.helpers import (
    SEEDS,
    ManagedProcess,
    TopicReader,
    ago,
    isolated_settings,
    produce,
    raw_record,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.clock]


@pytest.fixture
def settings(broker: EmbeddedBroker, tmp_path: Path) -> Settings:
    """The shared fixture with a one-day window (conftest's ``worker`` and ``reader`` use it)."""
    return isolated_settings(broker.bootstrap, tmp_path, dedupe_window_days=1.0)


def seed(label: str) -> str:
    return next(SEEDS.glob(f"{label}_*.txt")).read_text(encoding="utf-8")


def send(settings: Settings, record: dict[str, Any]) -> None:
    produce(settings, [(record["url"].encode(), json.dumps(record).encode())])


def remembered(settings: Settings) -> float | None:
    text = httpx.get(f"http://127.0.0.1:{settings.worker_web_port}/metrics", timeout=10).text
    found = re.search(r"^newsflow_processor_dedupe_remembered_articles (\S+)$", text, re.M)
    return float(found.group(1)) if found else None


def memory_table_writes(settings: Settings, until_key: bytes,
                        timeout: float = 60.0) -> list[tuple[bytes, bytes | None]]:
    """(key, value) of the memory table's changelog, read until a tombstone for ``until_key``
    appears (value None: the table entry was deleted)."""
    changelog = TopicPartition(f"{settings.app_id}-dedupe-memory-changelog", 0)
    consumer = KafkaConsumer(bootstrap_servers=settings.require_bootstrap(),
                             enable_auto_commit=False)
    writes: list[tuple[bytes, bytes | None]] = []
    deadline = time.monotonic() + timeout
    try:
        consumer.assign([changelog])
        consumer.seek_to_beginning(changelog)
        while (until_key, None) not in writes:
            assert time.monotonic() < deadline, (
                f"no deletion of {until_key!r} among {[(k, v is None) for k, v in writes]}")
            for messages in consumer.poll(timeout_ms=200).values():
                writes += [(m.key, m.value) for m in messages]
    finally:
        consumer.close()
    return writes


def test_an_article_older_than_the_window_is_forgotten_and_its_copy_is_new(
    settings: Settings, worker: ManagedProcess, reader: TopicReader,
) -> None:
    # One at a time: waiting for each decision fixes the order the dedupe stage sees them in.
    old = raw_record(seed("004"), url="https://archive.example/old", source_id="archive",
                     fetched_at=ago(hours=36))
    send(settings, old)
    old_article = reader.wait_count("articles", 1)[0]
    wait_until(lambda: remembered(settings) == 1, 30, "the old article remembered")

    # The newest fetch time moves the window to [now - 1 day, now]: the old article leaves it.
    current = raw_record(seed("000"), url="https://today.example/a", source_id="today")
    send(settings, current)
    current_article = reader.wait_count("articles", 2)[1]
    assert current_article["url"] == current["url"]
    wait_until(lambda: remembered(settings) == 1, 30, "only the current article remembered")
    writes = memory_table_writes(settings, old_article["id"].encode())  # the entry deleted
    assert {key for key, value in writes if value is None} == {old_article["id"].encode()}

    # A copy of the forgotten article is a new article; a copy of the remembered one is not.
    copy_of_old = raw_record(seed("004"), url="https://mirror.example/old", source_id="mirror")
    send(settings, copy_of_old)
    assert reader.wait_count("articles", 3)[2]["url"] == copy_of_old["url"]
    copy_of_current = raw_record(seed("000"), url="https://copy.example/a", source_id="copy")
    send(settings, copy_of_current)
    duplicate = reader.wait_count("duplicates", 1)[0]
    assert (duplicate["url"], duplicate["duplicate_of"]) == (copy_of_current["url"],
                                                             current_article["id"])
    records = reader.wait_for(lambda r: True, 1, "the outputs so far")
    assert len(records["articles"]) == 3 and len(records["duplicates"]) == 1
    # Every decision is remembered (a duplicate too, for its own copies): all but the old one.
    wait_until(lambda: remembered(settings) == 3, 30, "three decisions within the window")
