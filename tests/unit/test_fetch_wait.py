"""The worker's Kafka consumer waits at most NEWSFLOW_WORKER_FETCH_MAX_WAIT_MS per fetch, and is
otherwise built exactly as Faust builds it.

aiokafka keeps the wait private once a consumer exists, so these tests record the arguments the
consumer is constructed with (its constructor replaced by a recorder: nothing connects).
"""

from __future__ import annotations

from typing import Any, ClassVar

import aiokafka
import faust
import pytest
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

from newsflow.config import Settings
from newsflow.processor.app import create_app
from newsflow.processor.faust_app import new_faust_app
from newsflow.processor.fetch_wait import (
    FetchWaitConsumer,
    FetchWaitTransport,
    uncommitted_stream_partitions,
)

pytestmark = pytest.mark.clock

BOOTSTRAP = "127.0.0.1:9,127.0.0.1:10"  # never contacted


class Recorder:
    calls: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, **kwargs: Any) -> None:
        Recorder.calls.append(kwargs)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    Recorder.calls = []
    monkeypatch.setattr(aiokafka, "AIOKafkaConsumer", Recorder)
    return Recorder.calls


def worker_consumer_arguments(app: faust.App, recorded: list[dict[str, Any]],
                              build: Any = None) -> dict[str, Any]:
    """The arguments the app's consumer thread gives aiokafka for the worker's consumer."""
    consumer, transport = app.consumer, app.transport
    assert isinstance(consumer, FetchWaitConsumer) and isinstance(transport, FetchWaitTransport)
    thread = consumer._new_consumer_thread()
    (build or type(thread)._create_worker_consumer)(thread, transport)
    return recorded.pop()


def test_the_worker_consumer_waits_as_configured(recorded: list[dict[str, Any]]) -> None:
    for wait in (40, 250):
        app = create_app(Settings(kafka_bootstrap_servers=BOOTSTRAP,
                                  worker_fetch_max_wait_ms=wait))
        assert worker_consumer_arguments(app, recorded)["fetch_max_wait_ms"] == wait


def test_default_wait_is_far_below_fausts_hard_coded_wait() -> None:
    assert Settings().worker_fetch_max_wait_ms <= 200  # Faust's own: 1500


def with_table(settings: Settings) -> faust.App:
    app = new_faust_app(settings)
    app.Table("memory", partitions=1, key_type=bytes, value_type=bytes)
    return app


@pytest.mark.parametrize("make_app", [new_faust_app, with_table], ids=["plain", "table"])
@pytest.mark.parametrize("security", ["PLAINTEXT", "SASL_SSL"])
def test_every_other_argument_is_fausts_own(recorded: list[dict[str, Any]], make_app: Any,
                                            security: Any) -> None:
    """Fails when a Faust upgrade changes how it builds the consumer: fetch_wait.py must
    follow it."""
    settings = Settings(kafka_bootstrap_servers=BOOTSTRAP, kafka_security_protocol=security,
                        kafka_sasl_username="svc", kafka_sasl_password="secret",
                        worker_fetch_max_wait_ms=70)
    app = make_app(settings)
    ours = worker_consumer_arguments(app, recorded)
    fausts = worker_consumer_arguments(app, recorded, AIOKafkaConsumerThread._create_worker_consumer)
    assert (ours.pop("fetch_max_wait_ms"), fausts.pop("fetch_max_wait_ms")) == (70, 1500)
    assert ours == fausts


def test_never_committed_stream_partitions_restart_from_their_beginning() -> None:
    raw = [aiokafka.TopicPartition("news.raw.v1", n) for n in range(3)]
    changelog = aiokafka.TopicPartition("app-dedupe-memory-changelog", 0)
    committed = {raw[0]: 5, raw[1]: None, raw[2]: 0, changelog: None}
    changelogs = {"app-dedupe-memory-changelog"}
    # The two without a commit past 0; the changelog is Faust's recovery's to position.
    assert uncommitted_stream_partitions(committed, changelogs, "earliest") == [raw[1], raw[2]]
    # With "latest", what arrived before the assignment is skipped by choice.
    assert uncommitted_stream_partitions(committed, changelogs, "latest") == []
