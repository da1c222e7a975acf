"""Records the fetch skipped on a stream partition are read again, not committed past.

The rule is tested as a function, then through the worker's real Faust consumer: its batches
come from a stand-in for the broker fetch (``_wait_next_records``) and its seeks are recorded
instead of reaching aiokafka (and the high-water mark, for Faust's lag metric, is a constant);
what is tested, the consumer's ``getmany`` and Faust's
bookkeeping of read offsets, is the worker's own.
"""

from __future__ import annotations

import pytest

from newsflow.processor import metrics
from newsflow.processor.fetch_wait import FetchWaitConsumer
from newsflow.processor.skipped_records import first_skipped
from tests.unit.worker_consumer import Fetches, delivered, fetch_from, worker_consumer

pytestmark = pytest.mark.clock  # building the Faust app reads the clock


def test_a_record_past_the_offset_due_starts_a_reread() -> None:
    assert first_skipped(181, 212, None) == 181


def test_records_in_order_or_repeated_do_not() -> None:
    assert first_skipped(181, 181, None) is None
    assert first_skipped(181, 150, None) is None  # a repeat: Faust drops or redelivers it
    assert first_skipped(None, 212, None) is None  # nothing known to be due


def test_a_hole_still_there_after_one_reread_is_a_gap_in_the_log() -> None:
    assert first_skipped(181, 212, 181) is None
    assert first_skipped(250, 260, 181) == 250  # another hole later on


@pytest.fixture
def consumer_and_topic() -> tuple[FetchWaitConsumer, str]:
    return worker_consumer()


async def test_the_worker_consumer_reads_a_skipped_range_again(
    consumer_and_topic: tuple[FetchWaitConsumer, str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumer, topic = consumer_and_topic
    fetches = Fetches(topic, [[212, 213, 214], [181, 182], [183]])
    fetch_from(fetches, consumer, monkeypatch)
    await consumer.seek(fetches.tp, 181)  # as after the seek to the committed offset
    reread = metrics.SKIPPED_REREAD.labels(topic, "fetch")._value.get()
    offsets = await delivered(consumer, 3)
    assert metrics.SKIPPED_REREAD.labels(topic, "fetch")._value.get() - reread == 31
    assert fetches.seeks == [181, 181]  # the committed offset, then the reread
    assert offsets == [181, 182, 183]  # nothing past the hole went out before it
    assert consumer._read_offset[fetches.tp] == 181  # Faust reads the reread records


async def test_a_gap_that_is_really_in_the_log_is_passed_after_one_reread(
    consumer_and_topic: tuple[FetchWaitConsumer, str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumer, topic = consumer_and_topic
    fetches = Fetches(topic, [[212, 213], [212, 213]])
    fetch_from(fetches, consumer, monkeypatch)
    await consumer.seek(fetches.tp, 181)
    assert await delivered(consumer, 2) == [212, 213]
    assert fetches.seeks == [181, 181]


def test_the_stream_topics_counts_exist_at_zero_from_the_start() -> None:
    """A dashboard's increase() over the counter has data before the first re-read: the worker
    app creates a series for each stream topic (raw and internal), and no other."""
    from prometheus_client import REGISTRY

    from newsflow.config import Settings
    from newsflow.processor.app import create_app

    settings = Settings(kafka_bootstrap_servers="127.0.0.1:9", app_id="zero-series-app",
                        topic_raw="zero-series.raw")
    create_app(settings)
    name = "newsflow_processor_skipped_records_reread_total"
    for topic in ("zero-series.raw", "zero-series-app-prepared"):
        for cause in ("fetch", "cleared"):
            assert REGISTRY.get_sample_value(name, {"topic": topic, "cause": cause}) == 0.0
    assert REGISTRY.get_sample_value(name, {"topic": settings.topic_articles,
                                            "cause": "fetch"}) is None
