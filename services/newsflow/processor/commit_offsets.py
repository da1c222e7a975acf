"""Which offset the worker may commit for a partition: never one past a record still in flight.

Why this exists: faust-streaming 0.15.3 commits the first run of consecutive acknowledged
offsets, and lets that run start one past the committed offset (it compares the lowest
acknowledged offset with the committed one as if the committed offset were the last one
processed; Kafka's is the next one to read); on a partition never committed it does not compare
at all. With ``NEWSFLOW_PREPARE_PROCESSES`` above 1 the ``prepare`` actors finish records out of
order, so a commit covered a record still being cleaned, and a worker killed before that
record's output was flushed lost it for good (with this override removed, the held-page test
in ``tests/e2e/test_worker_faults.py`` saw the commit pass the slow page). Here a commit stops
at the lowest record delivered to a stream and not yet acknowledged.

Faust's other rules are kept: offsets it found missing from the log (``gaps``) count as done,
and a hole of more than one offset below the lowest acknowledged one waits (it is filled only by
a re-read after a seek).
"""

from __future__ import annotations

from collections.abc import Iterable


def commit_point(done: Iterable[int], committed: int | None,
                 in_flight: Iterable[int]) -> int | None:
    """The offset to commit (the next one to read), or None when nothing new can be.

    ``done``: acknowledged offsets and gap offsets; ``committed``: the partition's committed
    offset (None when never committed, or at 0); ``in_flight``: offsets delivered to a stream
    and not acknowledged (a re-delivered copy of a done offset is not in flight: its first copy
    finished).
    """
    finished = sorted(set(done))
    if not finished:
        return None
    pending = sorted(set(in_flight).difference(finished))
    start = committed if committed is not None else min([finished[0], *pending[:1]])
    finished = [offset for offset in finished if offset >= start]
    pending = [offset for offset in pending if offset >= start]
    if not finished:
        return None
    if finished[0] > start and (finished[0] - start > 1 or start in pending):
        return None  # the record at ``start`` (or more) is not finished
    end = finished[0]
    for offset in finished:
        if offset != end:
            break
        end += 1
    if pending and pending[0] < end:
        end = pending[0]
    if end <= start or (committed is not None and end <= committed):
        return None
    return end
