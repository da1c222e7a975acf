"""The prepare pool: pages run in child processes under a hard time limit; a dying child costs
one dead letter at most, never the stream."""

from __future__ import annotations

import asyncio
import json
import os
import signal

from newsflow.codecs.internal import PREPARED
from newsflow.config import Settings
from newsflow.processor.prepare_pool import PreparePool
from newsflow.processor.stages import PreparedMessage
from newsflow.records import DeadLetter, RawMessage
from tests.helpers import raw_record

SLOW_HTML = "<html><body>" + "<p>word " * 400_000 + "</body></html>"  # minutes in trafilatura


def value(body: str, content_type: str = "text/plain") -> bytes:
    return json.dumps(raw_record(body, url="https://example.org/a", title="A title",
                                 content_type=content_type)).encode()


def message(key: bytes, data: bytes, offset: int) -> RawMessage:
    return RawMessage("raw", 0, offset, key, data)


def test_valid_input_is_prepared_and_encoded_in_a_child() -> None:
    data = value("Harbour cranes arrived on Monday.")

    async def run() -> PreparedMessage | DeadLetter:
        pool = PreparePool(Settings())
        try:
            return await pool.prepare(message(b"k", data, 1))
        finally:
            pool.close()

    result = asyncio.run(run())
    assert isinstance(result, PreparedMessage)
    record = PREPARED.decode(result.value)
    assert record.prepared.article["title"] == "A title"
    assert record.prepared.origin == "raw:0:1"
    assert (record.raw.key, record.raw.value) == (b"k", data)


def test_runaway_page_is_stopped_by_the_hard_limit_and_the_pool_goes_on() -> None:
    slow_value = value(SLOW_HTML, "text/html")

    async def run() -> tuple[PreparedMessage | DeadLetter, PreparedMessage | DeadLetter]:
        pool = PreparePool(Settings(clean_time_budget_seconds=1.0))
        try:
            slow = await pool.prepare(message(b"slow", slow_value, 2))
            after = await pool.prepare(message(b"ok", value("Ferries resumed service."), 3))
            return slow, after
        finally:
            pool.close()

    slow, after = asyncio.run(run())
    assert isinstance(slow, DeadLetter)
    assert slow.stage == "clean"
    assert slow.error_type == "CleanTimeout"
    assert slow.value == slow_value
    assert isinstance(after, PreparedMessage)


def test_a_killed_child_is_replaced_and_the_task_retried() -> None:
    async def run() -> PreparedMessage | DeadLetter:
        pool = PreparePool(Settings())
        try:
            await pool.prepare(message(b"warm", value("Warm up the child."), 4))
            for process in list(pool.executor._processes.values()):
                os.kill(process.pid, signal.SIGKILL)
            return await pool.prepare(message(b"k", value("Tides were high."), 5))
        finally:
            pool.close()

    result = asyncio.run(run())
    assert isinstance(result, PreparedMessage)
