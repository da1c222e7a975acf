"""The worker's producer flush (run before every commit) returns only once what was buffered
before it was written.

Faust's own buffer and the worker's are started for real; only the channel the messages are
published to is a stand-in, which acknowledges each message 0.3 s after it is handed over (a
slow broker), so that no message leaves the buffer for longer than Faust's 0.1 s.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from faust.transport.producer import ProducerBuffer
from faust.types.tuples import FutureMessage, PendingMessage

from newsflow.config import Settings
from newsflow.processor.app import create_app
from newsflow.processor.draining_producer import DrainingProducer, DrainingProducerBuffer

pytestmark = pytest.mark.clock  # building the Faust app reads the clock

ACK_DELAY = 0.3  # above Faust's 0.1 s without a message leaving the buffer


class SlowChannel:
    """Publishes by acknowledging the message ``ACK_DELAY`` later, in order."""

    def __init__(self) -> None:
        self.acknowledged: list[int] = []

    async def publish_message(self, fut: FutureMessage, wait: bool = False) -> None:
        await asyncio.sleep(ACK_DELAY)  # the slow broker being simulated, not a synchronisation
        number = fut.message.value
        assert isinstance(number, int)
        self.acknowledged.append(number)
        fut.set_result(None)  # type: ignore[arg-type]


def message(channel: SlowChannel, number: int) -> FutureMessage:
    stand_in: Any = channel  # publish_message is all the buffer uses of a channel
    return FutureMessage(PendingMessage(stand_in, None, number, None, None, None, None, None,
                                        None))


async def flush_three(buffer: ProducerBuffer) -> list[int]:
    buffer.app = create_app(Settings(kafka_bootstrap_servers="127.0.0.1:9"))
    channel = SlowChannel()
    await buffer.start()
    try:
        for number in range(3):
            buffer.put(message(channel, number))
        await buffer.flush()
        return list(channel.acknowledged)
    finally:
        # Faust's buffer refuses to stop with messages left ("Cannot flush: Producer not
        # Running"): cleanup only, after the result was taken.
        with contextlib.suppress(RuntimeError):
            await buffer.stop()


async def test_the_flush_waits_for_every_buffered_message() -> None:
    assert await flush_three(DrainingProducerBuffer()) == [0, 1, 2]


async def test_fausts_own_flush_returns_with_messages_left() -> None:
    """Why the worker's buffer exists; if a Faust upgrade fixes this, it can go."""
    assert len(await flush_three(ProducerBuffer())) < 3


def test_the_worker_uses_it() -> None:
    app = create_app(Settings(kafka_bootstrap_servers="127.0.0.1:9"))
    producer: Any = app.producer
    assert isinstance(producer, DrainingProducer)
    assert isinstance(producer.buffer, DrainingProducerBuffer)
