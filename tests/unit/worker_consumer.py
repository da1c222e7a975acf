"""The worker's real Faust consumer, built without a broker, for tests of its offset rules."""

from __future__ import annotations

from faust.types import Message

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
