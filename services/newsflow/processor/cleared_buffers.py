"""Records that Faust's flow control clears from the streams' buffers are read again.

Why this exists: faust-streaming 0.15.3 empties every stream buffer whenever its flow control
resumes, assuming that a seek to the committed offsets follows and delivers the records again.
At the end of a table recovery it is the other way round: the stream partitions are resumed
and sought first, the buffers cleared after. Records fetched and delivered in between were
dropped without a seek back, so they were never processed by that worker (seen: a replacement
worker lost the one near copy sent while it recovered, on a partition never committed). Where
later records followed, a committed partition stopped committing at the dropped ones, and a
never-committed one could commit past them.

Here the flow control notes the lowest offset it cleared per partition, and the worker's
consumer (``processor/fetch_wait.py``) seeks back to it before its next fetch, when it has read
past it and no seek to the committed offsets came in between.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from faust.types import TP, Message
from mode.utils.queues import FlowControlEvent


class RereadingFlowControl(FlowControlEvent):
    """Faust's flow control, which tells ``on_cleared`` what its clearing dropped."""

    def __init__(self, on_cleared: Callable[[dict[TP, int]], None]) -> None:
        super().__init__()  # the event loop is looked up when first waited on, as in Faust
        self._on_cleared = on_cleared

    def clear(self) -> None:
        # The queues' own deques: mode's FlowControlQueue.clear() empties the same.
        lowest = lowest_offsets(item for queue in list(self._queues)
                                for item in list(queue._queue))  # type: ignore[attr-defined]
        super().clear()
        if lowest:
            self._on_cleared(lowest)


def lowest_offsets(items: Iterable[object]) -> dict[TP, int]:
    """Per partition, the lowest offset among buffered events (items with a ``message``)."""
    lowest: dict[TP, int] = {}
    for item in items:
        message = getattr(item, "message", None)
        if isinstance(message, Message):
            lowest[message.tp] = min(message.offset, lowest.get(message.tp, message.offset))
    return lowest


def rereads_after_clear(cleared: Mapping[TP, int], due: Mapping[TP, int]) -> dict[TP, int]:
    """The partitions to read again from a cleared offset: those read past it (``due``, the
    offset expected next, is beyond it). Where a seek to the committed offsets came after the
    clearing, ``due`` is at or before the committed offset, which is never past a record not
    processed (``processor/commit_offsets.py``): nothing to do there."""
    return {tp: offset for tp, offset in cleared.items()
            if (next_offset := due.get(tp)) is not None and offset < next_offset}
