"""The worker's real Faust consumer, built without a broker, for tests of its offset rules;
and a stand-in for the broker fetch it reads from."""

from __future__ import annotations

from typing import Any

import pytest
from faust.types import TP, Message

from newsflow.config import Settings
from newsflow.processor.app import create_app
from newsflow.processor.fetch_wait import FetchWaitConsumer

BOOTSTRAP = "127.0.0.1:9"  # never contacted


def worker_consumer() -> tuple[FetchWaitConsumer, str]:
    """The worker app's consumer, and its raw topic with acknowledgements counted."""
    settings = Settings(kafka_bootstrap_servers=BOOTSTRAP)
    app = create_app(settings)
    consumer = app.consumer
    assert isinstance(consumer, FetchWaitConsumer)
    # What Faust's conductor does for the raw topic's acking channel when the worker
    # subscribes (which needs a broker): acknowledgements on it are then counted.
    app.topics._acking_topics.add(settings.topic_raw)  # type: ignore[attr-defined]
    return consumer, settings.topic_raw


def raw_message(topic: str, offset: int) -> Message:
    """A consumed message at ``offset`` of partition 0."""
    return Message(topic, 0, offset, 0.0, 0, None, b"k", b"v", None)


class Fetches:
    """Stand-in for the broker fetch: hands out prepared batches, records seeks."""

    def __init__(self, topic: str, batches: list[list[int]]) -> None:
        self.tp = TP(topic, 0)
        self.batches = batches
        self.seeks: list[int] = []

    async def next_records(self, timeout: float) -> tuple[dict[TP, list[Any]], set[TP]]:
        offsets = self.batches.pop(0)
        return {self.tp: [raw_message(self.tp.topic, offset) for offset in offsets]}, {self.tp}

    async def seek(self, partition: TP, offset: int) -> None:
        self.seeks.append(offset)


def fetch_from(fetches: Fetches, consumer: FetchWaitConsumer,
               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consumer, "_wait_next_records", fetches.next_records)
    monkeypatch.setattr(consumer, "_seek", fetches.seek)
    monkeypatch.setattr(consumer, "_to_message", lambda tp, message: message)
    monkeypatch.setattr(consumer, "highwater", lambda tp: 1000)  # for Faust's lag metric


async def delivered(consumer: FetchWaitConsumer, rounds: int) -> list[int]:
    offsets = []
    for _ in range(rounds):
        offsets += [message.offset async for _, message in consumer.getmany(1.0)]
    return offsets
