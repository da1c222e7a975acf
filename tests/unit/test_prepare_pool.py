"""The prepare pool: pages run in child processes under a hard time limit; a dying child costs
one dead letter at most, never the stream."""

from __future__ import annotations

import asyncio
import json
import os
import signal

from newsflow.config import Settings
from newsflow.core.pipeline import Origin, Prepared
from newsflow.processor.prepare_pool import PreparePool
from newsflow.records import DeadLetter
from tests.helpers import raw_record

SLOW_HTML = "<html><body>" + "<p>word " * 400_000 + "</body></html>"  # minutes in trafilatura


def value(body: str, content_type: str = "text/plain") -> bytes:
    return json.dumps(raw_record(body, url="https://example.org/a", title="A title",
                                 content_type=content_type)).encode()


def test_valid_input_is_prepared_in_a_child() -> None:
    async def run() -> Prepared | DeadLetter:
        pool = PreparePool(Settings())
        try:
            return await pool.prepare(b"k", value("Harbour cranes arrived on Monday."),
                                      Origin("raw", 0, 1))
        finally:
            pool.close()

    result = asyncio.run(run())
    assert isinstance(result, Prepared)
    assert result.article["title"] == "A title"
    assert result.origin == "raw:0:1"


def test_runaway_page_is_stopped_by_the_hard_limit_and_the_pool_goes_on() -> None:
    slow_value = value(SLOW_HTML, "text/html")

    async def run() -> tuple[Prepared | DeadLetter, Prepared | DeadLetter]:
        pool = PreparePool(Settings(clean_time_budget_seconds=1.0))
        try:
            slow = await pool.prepare(b"slow", slow_value, Origin("raw", 0, 2))
            after = await pool.prepare(b"ok", value("Ferries resumed service."), Origin("raw", 0, 3))
            return slow, after
        finally:
            pool.close()

    slow, after = asyncio.run(run())
    assert isinstance(slow, DeadLetter)
    assert slow.stage == "clean"
    assert slow.error_type == "CleanTimeout"
    assert slow.value == slow_value
    assert isinstance(after, Prepared)


def test_a_killed_child_is_replaced_and_the_task_retried() -> None:
    async def run() -> Prepared | DeadLetter:
        pool = PreparePool(Settings())
        try:
            await pool.prepare(b"warm", value("Warm up the child."), Origin("raw", 0, 4))
            for process in list(pool.executor._processes.values()):
                os.kill(process.pid, signal.SIGKILL)
            return await pool.prepare(b"k", value("Tides were high."), Origin("raw", 0, 5))
        finally:
            pool.close()

    result = asyncio.run(run())
    assert isinstance(result, Prepared)
