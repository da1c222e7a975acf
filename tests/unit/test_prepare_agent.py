"""The worker's prepare agent when its pool is closed (shutting down): the record it took is
neither prepared, dead-lettered nor acknowledged, so its offset stays uncommitted and it is
read again after a restart."""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing

import pytest
from faust.types import Message

from newsflow.config import Settings
from newsflow.processor.app import create_app
from tests.helpers import raw_record

pytestmark = pytest.mark.clock


class _Seen(logging.Handler):
    """Sets ``event`` when a log line contains ``text``."""

    def __init__(self, text: str, event: asyncio.Event) -> None:
        super().__init__()
        self.text, self.event = text, event

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.event.set()


def test_a_record_met_after_the_pool_closed_stays_unacknowledged(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="newsflow.processor.app")
    before = {process.pid for process in multiprocessing.active_children()}
    app = create_app(Settings(kafka_bootstrap_servers="127.0.0.1:1"))  # never connected
    prepare = app.agents["newsflow.processor.app.prepare"]
    value = json.dumps(raw_record("Harbour cranes arrived.", url="https://example.org/a",
                                  title="A title")).encode()
    app_log = logging.getLogger("newsflow.processor.app")

    async def run() -> Message:
        held = asyncio.Event()
        seen = _Seen("left uncommitted", held)
        app_log.addHandler(seen)
        try:
            await app.on_before_shutdown.send()  # the worker's own hook closes the pool
            async with prepare.test_context() as agent:
                channel = agent.stream().channel
                message: Message = agent.to_message(b"k", value, offset=0)
                message.incref()  # as Faust's conductor does for the one stream it feeds
                await channel.put(await channel.decode(message))
                await asyncio.wait_for(held.wait(), 60)
        finally:
            app_log.removeHandler(seen)
        return message

    # asyncio.run ends by closing every async generator, the stream's too: any ack the
    # stream would make for the event has been made by the time it returns.
    message = asyncio.run(run())
    assert not message.acked and message.refcount == 1  # never committed
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert {process.pid for process in multiprocessing.active_children()} <= before
