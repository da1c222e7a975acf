"""The worker's producer: a flush returns only once everything buffered before it was written.

Why this exists: Faust flushes its producer before it commits offsets, so that nothing a
committed input caused is lost. But faust-streaming 0.15.3's buffer flush (``ProducerBuffer``,
which carries every table write: the dedupe memory's changelog) gives up as soon as no message
left the buffer for 0.1 s, and returns with messages still in it. Under load (the worker's own
logs show producer flushes of 0.5–1.3 s) the commit then covered inputs whose dedupe memories
were not yet written, and a worker killed at that moment lost them: later copies of those
articles could no longer be recognised. Here the flush also waits for every message that was in
the buffer when it began to be acknowledged (or to fail); messages put meanwhile are left to the
next flush, so a busy worker still gets to commit.
"""

from __future__ import annotations

import asyncio
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.transport.producer import ProducerBuffer
from faust.types.tuples import FutureMessage


class DrainingProducerBuffer(ProducerBuffer):
    def __post_init__(self) -> None:
        super().__post_init__()
        self.unacknowledged: set[FutureMessage] = set()

    def put(self, fut: FutureMessage) -> None:
        self.unacknowledged.add(fut)
        fut.add_done_callback(self.unacknowledged.discard)
        super().put(fut)

    async def flush(self) -> None:
        waiting = list(self.unacknowledged)
        await super().flush()
        # Only while running: once the buffer stops, its sending task ends and what is left
        # would never be acknowledged (Faust's own flush refuses then).
        if waiting and self.state == "running":
            await asyncio.wait(waiting)


class DrainingProducer(faust_aiokafka.Producer):
    """Faust's aiokafka producer with a ``DrainingProducerBuffer``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.threaded_producer is None:  # the worker's case; a threaded one keeps Faust's
            self.buffer = DrainingProducerBuffer(loop=self.loop, beacon=self.beacon)
            self.buffer.app = self.app
