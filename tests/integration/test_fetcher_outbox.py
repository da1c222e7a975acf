"""Outbox back-pressure, on the real broker: while the broker does not acknowledge, the outbox
fills up to ``fetch_outbox_max_records`` and the poll waits for room instead of queueing more;
once acknowledgements flow again, every record is published, none lost."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kafka.producer.future import FutureRecordMetadata
from prometheus_client import REGISTRY

from newsflow.broker import EmbeddedBroker
from newsflow.config import Settings
from newsflow.fetcher.http import HttpFetcher
from newsflow.fetcher.publisher import CLIENT_LOG, Publisher
from newsflow.fetcher.service import Fetcher
from newsflow.fetcher.sources import SourceConfig
from newsflow.log_budget import CLIENT_LOG_LINES, WINDOW_SECONDS
from tests.helpers import Route, TopicReader, fetcher_test_settings
from tests.integration.fetcher_servers import ScriptedServer, rss

pytestmark = pytest.mark.integration

OUTBOX_MAX = 2
ARTICLES = 6


class HeldPublisher(Publisher):
    """The real publisher, whose sends wait until ``release`` is set: a broker that does not
    acknowledge yet, without stopping the session's broker for the other tests."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.release = threading.Event()
        self.holding = threading.Event()  # a send is waiting for the release

    def publish(self, topic: str, key: bytes | None, value: bytes) -> FutureRecordMetadata:
        self.holding.set()
        assert self.release.wait(60), "the test never released the publisher"
        return super().publish(topic, key, value)


@pytest.fixture
def fetch_settings(broker: EmbeddedBroker, tmp_path: Path) -> Settings:
    return fetcher_test_settings(broker.bootstrap, tmp_path,
                                 fetch_outbox_max_records=OUTBOX_MAX)


@pytest.fixture
def raw(fetch_settings: Settings) -> Iterator[TopicReader]:
    reader = TopicReader(fetch_settings, ["raw"])
    yield reader
    reader.close()


async def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_a_full_outbox_holds_the_poll_until_the_broker_acknowledges_and_loses_nothing(
    fetch_settings: Settings, raw: TopicReader, server: ScriptedServer,
) -> None:
    base = server.base_url
    server.routes["/robots.txt"] = Route(404, b"")
    items = [(f"story-{n}", f"Story {n}") for n in range(ARTICLES)]
    server.routes["/feed"] = Route(200, rss(base, items, full=True),  # no page requests
                                   {"Content-Type": "application/rss+xml"})
    src = SourceConfig(id=f"held-{uuid.uuid4().hex[:8]}", name="Held", kind="rss",
                       url=server.url("/feed"))
    publisher = HeldPublisher(fetch_settings)
    fetcher = Fetcher(fetch_settings, [src], publisher, HttpFetcher(fetch_settings))
    try:
        await fetcher.start()  # reads the state back (not through publish: not held)
        poll = asyncio.create_task(fetcher.poll(src))
        await asyncio.to_thread(publisher.holding.wait, 30)
        await wait_until(lambda: fetcher.outbox.size >= OUTBOX_MAX, 30, "a full outbox")
        for _ in range(20):  # turns of the event loop: an unbounded outbox would take them all
            await asyncio.sleep(0)
        assert fetcher.outbox.size == OUTBOX_MAX, "the outbox never holds more than its limit"
        assert not poll.done(), "the poll waits for room instead of queueing more"
        assert fetcher.outbox.published == 0
        assert REGISTRY.get_sample_value("newsflow_fetcher_outbox_records") == OUTBOX_MAX
        assert fetcher.health()[1]["outbox"] == OUTBOX_MAX

        publisher.release.set()
        result = await asyncio.wait_for(poll, 30)
        assert (result.queued, result.errors) == (ARTICLES, [])
        assert await fetcher.outbox.drain(30)
        assert fetcher.outbox.published == ARTICLES
        assert fetcher.outbox.dropped_records == []
    finally:
        publisher.release.set()
        await fetcher.aclose()
    records = raw.wait_count("raw", ARTICLES, timeout=30)
    assert sorted(r["title"] for r in records) == sorted(title for _, title in items)


def test_kafka_python_lines_come_on_a_budget(fetch_settings: Settings,
                                            caplog: pytest.LogCaptureFixture) -> None:
    # After a broker restart kafka-python logs a WARNING for every refused request, ten a
    # second, until the producer is replaced: the first of a window are kept, not hundreds.
    publisher = Publisher(fetch_settings)
    CLIENT_LOG.budget.window_start -= WINDOW_SECONDS  # a window ends: the next line starts one
    try:
        with caplog.at_level(logging.WARNING):
            for _ in range(CLIENT_LOG_LINES + 20):
                logging.getLogger("kafka.producer.sender").warning("UnknownProducerIdError")
    finally:
        publisher.close(timeout_seconds=10)
    logged = [r for r in caplog.records if r.name == "kafka.producer.sender"]
    assert len(logged) == CLIENT_LOG_LINES
