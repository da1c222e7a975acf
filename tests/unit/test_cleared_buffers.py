"""Records that Faust's flow control clears from the stream buffers after the last seek are
read again, not dropped.

The rules are tested as functions, then through the worker's real Faust app: its flow control
clears a real Faust stream buffer, and its consumer's batches come from the stand-in fetch of
``worker_consumer.py`` (seeks recorded instead of reaching aiokafka).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP
from mode.utils.queues import FlowControlQueue

from newsflow.processor import metrics
from newsflow.processor.cleared_buffers import lowest_offsets, rereads_after_clear
from newsflow.processor.fetch_wait import FetchWaitConsumer
from tests.unit.worker_consumer import Fetches, delivered, fetch_from, raw_message, worker_consumer

pytestmark = pytest.mark.clock  # building the Faust app reads the clock

RAW = TP("raw", 0)
OTHER = TP("raw", 1)


def event(topic: str, partition: int, offset: int) -> SimpleNamespace:
    message = raw_message(topic, offset)
    message.partition, message.tp = partition, TP(topic, partition)
    return SimpleNamespace(message=message)


def test_the_lowest_buffered_offset_per_partition() -> None:
    items = [event("raw", 0, 7), event("raw", 1, 3), event("raw", 0, 5), object()]
    assert lowest_offsets(items) == {RAW: 5, OTHER: 3}


def test_only_partitions_read_past_the_cleared_offset_are_read_again() -> None:
    cleared = {RAW: 5, OTHER: 3, TP("raw", 2): 9}
    # OTHER: a seek to the committed offset 3 came after the clearing; partition 2: nothing
    # read since a seek (a partition never committed).
    assert rereads_after_clear(cleared, {RAW: 8, OTHER: 3}) == {RAW: 5}


@pytest.fixture
def consumer_and_topic() -> tuple[FetchWaitConsumer, str]:
    return worker_consumer()


def buffered(consumer: FetchWaitConsumer, topic: str, offsets: list[int]) -> FlowControlQueue[Any]:
    """Events waiting in a real Faust stream buffer of the consumer's app (the flow control
    holds its buffers weakly: the caller keeps it)."""
    queue = consumer.app.FlowControlQueue(maxsize=100, clear_on_resume=True)
    for offset in offsets:
        queue.put_nowait(event(topic, 0, offset))
    return queue


async def test_records_cleared_after_the_seek_are_read_again(
    consumer_and_topic: tuple[FetchWaitConsumer, str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumer, topic = consumer_and_topic
    fetches = Fetches(topic, [[0, 1, 2, 3], [1, 2, 3], [4]])
    fetch_from(fetches, consumer, monkeypatch)
    monkeypatch.setattr(consumer, "assignment", lambda: {fetches.tp})
    await consumer.seek(fetches.tp, 0)  # as at the end of a table recovery
    reread = metrics.SKIPPED_REREAD.labels(topic, "cleared")._value.get()
    assert await delivered(consumer, 1) == [0, 1, 2, 3]
    # Records 1-3 still wait in a stream's buffer when the flow control resumes (the end of
    # the recovery) and clears it.
    buffer = buffered(consumer, topic, [1, 2, 3])
    consumer.app.flow_control.resume()
    assert buffer.empty()
    # (The stand-in hands out what a broker would after the seek back to 1.)
    assert await delivered(consumer, 2) == [1, 2, 3, 4]
    assert fetches.seeks == [0, 1]
    assert metrics.SKIPPED_REREAD.labels(topic, "cleared")._value.get() - reread == 3


async def test_a_seek_to_the_committed_offsets_after_the_clearing_makes_it_moot(
    consumer_and_topic: tuple[FetchWaitConsumer, str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumer, topic = consumer_and_topic
    fetches = Fetches(topic, [[0, 1, 2, 3], [1, 2, 3]])
    fetch_from(fetches, consumer, monkeypatch)
    monkeypatch.setattr(consumer, "assignment", lambda: {fetches.tp})
    await consumer.seek(fetches.tp, 0)
    await delivered(consumer, 1)
    buffer = buffered(consumer, topic, [2, 3])  # noqa: F841 (kept alive)
    consumer.app.flow_control.clear()  # a rebalance's clearing; its seek follows
    await consumer.seek(fetches.tp, 1)  # (the committed offset: due is 1 again)
    assert await delivered(consumer, 1) == [1, 2, 3]
    assert fetches.seeks == [0, 1]  # no seek to 2: the seek to 1 reads it again


async def test_no_seek_while_the_flow_is_stopped_nor_on_a_partition_no_longer_assigned(
    consumer_and_topic: tuple[FetchWaitConsumer, str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumer, topic = consumer_and_topic
    fetches = Fetches(topic, [[0, 1, 2, 3], [4], [4]])
    fetch_from(fetches, consumer, monkeypatch)
    assigned = {fetches.tp}
    monkeypatch.setattr(consumer, "assignment", lambda: assigned)
    await consumer.seek(fetches.tp, 0)
    await delivered(consumer, 1)
    buffer = buffered(consumer, topic, [2, 3])  # noqa: F841 (kept alive)
    consumer.app.flow_control.clear()
    consumer.stop_flow()  # a rebalance under way: its own seek will read them again
    await consumer._seek_back_to_cleared()
    assert fetches.seeks == [0]
    consumer.resume_flow()
    assigned.clear()  # ... and the partition went to another worker
    await delivered(consumer, 1)
    assert fetches.seeks == [0]
