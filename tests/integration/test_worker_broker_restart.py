"""A running worker whose broker restarts empty (`newsflow broker` keeps nothing): the worker
starts afresh by itself, with a table that matches the new broker, and goes on processing; and
the worker's internal topics, made fit to serve when a broker restart left them unfit."""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path
from typing import Literal

import pytest
from aiokafka import AIOKafkaProducer
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic

from newsflow.broker import EmbeddedBroker, free_port
from newsflow.config import Settings
from newsflow.processor import broker_reset
from newsflow.processor.local_state import ensure_internal_topics
from newsflow.topics import ensure_topics, unreadable_partitions
from tests.helpers import (
    ManagedProcess,
    decision_for,
    produce,
    seed_text,
    send_raw,
    start_broker_command,
    stop_broker_command,
    wait_until,
    zombie_children,
)

pytestmark = pytest.mark.integration
RESTART_LINE = broker_reset.RESTART_LINE.split("{lost}")[0]
DISCARDED = "discarding the local table store"



@pytest.mark.parametrize("store", ["rocksdb://", "memory://"])
def test_a_running_worker_starts_afresh_when_the_broker_restarts_empty(
    store: Literal["rocksdb://", "memory://"], tmp_path: Path,
) -> None:
    port = free_port()
    # The project's topic names, on a broker of this test's own.
    settings = Settings(kafka_bootstrap_servers=f"127.0.0.1:{port}",
                        app_id=f"newsflow-test-{uuid.uuid4().hex[:8]}",
                        worker_web_port=free_port(), worker_data_dir=tmp_path / "worker",
                        worker_table_store=store)
    brokers = [start_broker_command(port, tmp_path / "broker-1.log")]
    worker = ManagedProcess(["worker"], settings, tmp_path / "worker.log").start()
    try:
        remembered = seed_text("004")
        send_raw(settings, remembered, "https://before.example/a")
        assert decision_for(settings, "https://before.example/a")[0] == "articles"

        stop_broker_command(brokers[0])
        brokers.append(start_broker_command(port, tmp_path / "broker-2.log"))
        wait_until(lambda: RESTART_LINE in worker.log() or not worker.alive(), 120,
                   "the worker to notice the broker's restart")
        assert worker.alive(), worker.log()[-3000:]

        # The old broker's memory is gone with its outputs: the same text is a new article.
        send_raw(settings, remembered, "https://after.example/a")
        assert decision_for(settings, "https://after.example/a")[0] == "articles"
        # The new memory works: a copy of it is an exact duplicate.
        send_raw(settings, remembered, "https://copy.example/a")
        role, record = decision_for(settings, "https://copy.example/a")
        assert (role, record["level"]) == ("duplicates", "exact")
        assert worker.alive(), worker.log()[-3000:]
        # Started afresh in the same process: its previous image's children leave no zombie.
        wait_until(lambda: not zombie_children(worker.pid), 30, "no zombie child of the worker")
    finally:
        worker.stop()
        for broker in brokers:
            broker.stop()
    log = worker.log()
    assert worker.process is not None and worker.process.returncode == 0, log[-3000:]
    restarts = [line for line in log.splitlines() if RESTART_LINE in line]
    assert len(restarts) == 1, restarts
    assert "ConsistencyError" not in log and "Traceback" not in log, log[-5000:]
    if store == "rocksdb://":  # the old store was the previous broker's: discarded at start
        assert DISCARDED in log


def end_offset(bootstrap: str, topic: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        partition = TopicPartition(topic, 0)
        return int(consumer.end_offsets([partition])[partition])
    finally:
        consumer.close()


async def write_across_a_restart(port: int, topics: list[str],
                                 tmp_path: Path) -> EmbeddedBroker:
    """What a running worker's (or fetcher's) producer does when the embedded broker restarts:
    a record sent while the broker is away goes to the new broker, which takes it though it has
    no such topic (Tansu 0.6.0), and keeps it where the topic's first record will go. Returns
    the new broker, running."""
    with EmbeddedBroker(port=port, log_path=tmp_path / "broker-1.log") as first:
        admin = KafkaAdminClient(bootstrap_servers=first.bootstrap)
        admin.create_topics([NewTopic(topic, 1, 1) for topic in topics])
        admin.close()
        producer = AIOKafkaProducer(bootstrap_servers=first.bootstrap,
                                    request_timeout_ms=30000)
        await producer.start()
        for topic in topics:
            await producer.send_and_wait(topic, b"before", partition=0)
    second = EmbeddedBroker(port=port, log_path=tmp_path / "broker-2.log")
    try:
        away = [await producer.send(topic, b"while away", partition=0) for topic in topics]
        await asyncio.to_thread(second.start)
        await asyncio.wait_for(asyncio.gather(*away), 30)
    except BaseException:
        second.stop()
        raise
    finally:
        await producer.stop()
    return second


async def test_topics_a_broker_restart_left_unfit_are_made_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()
    settings = Settings(kafka_bootstrap_servers=f"127.0.0.1:{port}",
                        app_id=f"newsflow-test-{uuid.uuid4().hex[:8]}", topic_partitions=1)
    prepared, changelog = f"{settings.app_id}-prepared", f"{settings.app_id}-changelog"
    articles = settings.topic_articles
    broker = await write_across_a_restart(port, [prepared, articles], tmp_path)
    try:
        # A topic the broker makes with its default partition count on a first write.
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(changelog, b"auto-created")
        finally:
            await producer.stop()
        # As `newsflow broker` does at start, then the worker.
        with caplog.at_level(logging.WARNING):
            assert articles in await asyncio.to_thread(ensure_topics, settings)
            await asyncio.to_thread(ensure_internal_topics, settings, {
                prepared: (1, {}), changelog: (1, {"cleanup.policy": "compact"})})
        said = caplog.messages
        assert any(m.startswith(f"topic {articles} held records written before it was created, "
                                "which cannot be read") for m in said), said
        assert any(m.startswith(f"recreating topic {prepared}: it held records written before "
                                "it was created") for m in said), said
        assert any(m.startswith(f"recreating topic {changelog}: it has 4 partitions, the worker "
                                "needs 1") for m in said), said
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        try:
            described = {t["name"]: len(t["partitions"])
                         for t in admin.describe_topics([prepared, changelog, articles])}
        finally:
            admin.close()
        assert described == {prepared: 1, changelog: 1, articles: 1}
        # Each is whole: the first record written now is its first (before, that write failed
        # with "UnknownError" and the record was lost).
        for topic in (prepared, changelog, articles):
            assert end_offset(broker.bootstrap, topic) == 0
            assert produce(settings, [(b"k", b"after")], topic=topic) == [(0, 0)]
    finally:
        broker.stop()


def test_a_partition_the_broker_has_not_answered_for_is_not_judged_unreadable(
        settings: Settings) -> None:
    # Records that can be read, but no fetch answered within the wait (here: no wait at all,
    # as a slow broker's would not answer): before, every such partition was "unreadable",
    # and the topic deleted with its records.
    topic = f"readable-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=settings.require_bootstrap())
    try:
        admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        admin.close()
    assert produce(settings, [(b"k", b"kept")], topic=topic) == [(0, 0)]
    assert unreadable_partitions(settings, {topic: 1}, wait_seconds=0) == {}
    assert unreadable_partitions(settings, {topic: 1}) == {}  # answered: readable
    assert end_offset(settings.require_bootstrap(), topic) == 1
