"""The worker commits no offset past a record still in flight.

The rule is tested as a function, then through the worker's real Faust consumer: messages
tracked and acknowledged the way Faust's streams do, with the consumer's own commit choice.
"""

from __future__ import annotations

import pytest
from faust.transport.consumer import Consumer as FaustConsumer
from faust.types import TP, Message

from newsflow.processor.commit_offsets import commit_point
from newsflow.processor.fetch_wait import FetchWaitConsumer
from tests.unit.worker_consumer import raw_message, worker_consumer

pytestmark = pytest.mark.clock  # building the Faust app reads the clock



def test_consecutive_finished_records_are_committed() -> None:
    assert commit_point([10, 11, 12], committed=10, in_flight=[]) == 13


def test_a_record_still_in_flight_stops_the_commit() -> None:
    # 10 is being prepared by one actor while the other finished 11 and 12.
    assert commit_point([11, 12], committed=10, in_flight=[10]) is None
    assert commit_point([10, 11, 12, 14], committed=10, in_flight=[13]) == 13


def test_a_never_committed_partition_waits_for_its_first_record() -> None:
    assert commit_point([1, 2], committed=None, in_flight=[0]) is None
    assert commit_point([0, 1, 2], committed=None, in_flight=[]) == 3


def test_a_hole_below_the_finished_records_waits() -> None:
    assert commit_point([13, 14], committed=10, in_flight=[]) is None


def test_one_missing_offset_at_the_committed_position_is_passed_when_not_in_flight() -> None:
    # Faust's gap detection misses an offset absent from the log right at the committed
    # position; waiting for it would stop commits for good.
    assert commit_point([11, 12], committed=10, in_flight=[]) == 13


def test_gaps_and_redelivered_copies() -> None:
    assert commit_point([10, 11, 12, 13], committed=10, in_flight=[11]) == 14  # copy of 11
    assert commit_point([5, 6], committed=10, in_flight=[]) is None  # all below the commit
    assert commit_point([], committed=10, in_flight=[10]) is None


@pytest.fixture
def consumer_and_topic() -> tuple[FetchWaitConsumer, str]:
    return worker_consumer()


def tracked(consumer: FetchWaitConsumer, topic: str, offsets: tuple[int, ...]) -> list[Message]:
    """Messages at ``offsets`` delivered to a stream (tracked) on a partition committed at 10."""
    consumer._committed_offset[TP(topic, 0)] = 10
    messages = [raw_message(topic, offset) for offset in offsets]
    for each in messages:
        consumer.track_message(each)
    return messages


def test_the_worker_consumer_does_not_commit_past_a_record_in_flight(
    consumer_and_topic: tuple[FetchWaitConsumer, str],
) -> None:
    consumer, topic = consumer_and_topic
    tp = TP(topic, 0)
    first, second, third = tracked(consumer, topic, (10, 11, 12))
    consumer.ack(second)
    consumer.ack(third)
    assert consumer._new_offset(tp) is None  # 10 is still being processed
    consumer.ack(first)
    assert consumer._new_offset(tp) == 13
    assert not consumer._acked[tp] and not consumer._acked_index[tp]  # the commit forgot them


def test_faust_alone_would_commit_past_it(
    consumer_and_topic: tuple[FetchWaitConsumer, str],
) -> None:
    """Why the override exists; if a Faust upgrade fixes this, the override can go."""
    consumer, topic = consumer_and_topic
    tp = TP(topic, 0)
    _, second = tracked(consumer, topic, (10, 11))
    consumer.ack(second)
    assert FaustConsumer._new_offset(consumer, tp) == 12


def test_gaps_found_by_faust_count_as_done(
    consumer_and_topic: tuple[FetchWaitConsumer, str],
) -> None:
    consumer, topic = consumer_and_topic
    tp = TP(topic, 0)
    consumer._gap[tp].addi(11, 15)  # 11-14 are not in the log
    for each in tracked(consumer, topic, (10, 15)):
        consumer.ack(each)
    assert consumer._new_offset(tp) == 16
    assert not consumer._gap[tp]
