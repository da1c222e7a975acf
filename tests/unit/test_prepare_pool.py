"""The prepare pool: pages run in child processes under the per-page time budget; a page that
overruns it, or a child that dies, costs one dead letter with the original key and bytes, and
the pool goes on with a fresh child."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from newsflow.config import Settings
from newsflow.core.pipeline import Origin, Prepared
from newsflow.processor.prepare_pool import PreparePool
from newsflow.records import DeadLetter
from tests.helpers import raw_record, wait_until

SLOW_HTML = "<html><body>" + "<p>word " * 400_000 + "</body></html>"  # minutes in trafilatura


def value(body: str, content_type: str = "text/plain") -> bytes:
    return json.dumps(raw_record(body, url="https://example.org/a", title="A title",
                                 content_type=content_type)).encode()


def children() -> set[int]:
    return {process.pid for process in multiprocessing.active_children() if process.pid}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def cpu_ticks(pid: int) -> int:
    """User CPU time of a process, in clock ticks (Linux /proc): grows only while it works."""
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[11])


@pytest.fixture
def pool_factory() -> Iterator[list[PreparePool]]:
    pools: list[PreparePool] = []
    yield pools
    for pool in pools:
        pool.close()


def new_pool(pools: list[PreparePool], **settings: float) -> PreparePool:
    pool = PreparePool(Settings(**settings))
    pools.append(pool)
    return pool


def test_valid_input_is_prepared_in_a_child(pool_factory: list[PreparePool]) -> None:
    pool = new_pool(pool_factory)
    result = asyncio.run(pool.prepare(b"k", value("Harbour cranes arrived on Monday."),
                                      Origin("raw", 0, 1)))
    assert isinstance(result, Prepared)
    assert result.article["title"] == "A title"
    assert result.origin == "raw:0:1"
    assert len(children()) == 1 and os.getpid() not in children()


def test_an_overrunning_page_is_stopped_and_a_fresh_child_prepares_the_next(
        pool_factory: list[PreparePool]) -> None:
    pool = new_pool(pool_factory, clean_time_budget_seconds=1.0)
    slow_value = value(SLOW_HTML, "text/html")

    async def run() -> tuple[DeadLetter | Prepared, float, set[int], Prepared | DeadLetter]:
        await pool.prepare(b"warm", value("Warm up the child."), Origin("raw", 0, 1))
        before = children()
        started = time.monotonic()
        slow = await pool.prepare(b"slow", slow_value, Origin("raw", 0, 2))
        took = time.monotonic() - started
        after = await pool.prepare(b"ok", value("Ferries resumed service."), Origin("raw", 0, 3))
        return slow, took, before, after

    slow, took, before, after = asyncio.run(run())
    assert isinstance(slow, DeadLetter)
    assert (slow.stage, slow.error_type) == ("clean", "PrepareTimeout")
    assert "1 s budget" in slow.error_message
    assert (slow.key, slow.value, slow.offset) == (b"slow", slow_value, 2)
    assert took < 10  # the page alone would take minutes
    # The child that ran the page was stopped, and another one prepared the next record.
    assert len(before) == 1 and not any(alive(pid) for pid in before)
    assert isinstance(after, Prepared)
    assert children() and not children() & before


def test_the_offline_path_enforces_the_same_budget(pool_factory: list[PreparePool]) -> None:
    pool = new_pool(pool_factory, clean_time_budget_seconds=1.0)
    now = datetime.now(UTC)
    slow = pool.prepare_blocking(b"slow", value(SLOW_HTML, "text/html"), Origin("p", None, 0), now)
    after = pool.prepare_blocking(b"ok", value("Tides were high."), Origin("p", None, 1), now)
    assert isinstance(slow, DeadLetter) and slow.error_type == "PrepareTimeout"
    assert isinstance(after, Prepared)


def test_a_child_killed_under_a_page_costs_that_page_only(pool_factory: list[PreparePool]) -> None:
    pool = new_pool(pool_factory, clean_time_budget_seconds=600.0)
    now = datetime.now(UTC)
    assert isinstance(pool.prepare_blocking(b"warm", value("Warm up."), Origin("raw", 0, 1), now),
                      Prepared)
    (child,) = children()
    idle = cpu_ticks(child)
    slow_value = value(SLOW_HTML, "text/html")
    results: list[Prepared | DeadLetter] = []
    worker = threading.Thread(target=lambda: results.append(
        pool.prepare_blocking(b"slow", slow_value, Origin("raw", 0, 2), now)))
    worker.start()
    # Killed while it works on the page (its CPU time grows), not while idle.
    wait_until(lambda: cpu_ticks(child) > idle + 20, 60, "the child to work on the page")
    os.kill(child, signal.SIGKILL)
    worker.join(60)
    (letter,) = results
    assert isinstance(letter, DeadLetter)
    assert (letter.stage, letter.error_type) == ("clean", "PrepareProcessDied")
    assert (letter.key, letter.value) == (b"slow", slow_value)
    after = pool.prepare_blocking(b"ok", value("Tides were high."), Origin("raw", 0, 3), now)
    assert isinstance(after, Prepared)
    assert children() and child not in children()


def test_a_pool_whose_idle_child_died_is_replaced(pool_factory: list[PreparePool]) -> None:
    pool = new_pool(pool_factory)

    async def run() -> Prepared | DeadLetter:
        await pool.prepare(b"warm", value("Warm up the child."), Origin("raw", 0, 4))
        for pid in children():
            os.kill(pid, signal.SIGKILL)
        return await pool.prepare(b"k", value("Tides were high."), Origin("raw", 0, 5))

    result = asyncio.run(run())
    assert isinstance(result, Prepared)


def test_close_stops_the_children() -> None:
    pool = PreparePool(Settings())
    asyncio.run(pool.prepare(b"k", value("Harbour cranes."), Origin("raw", 0, 1)))
    started = children()
    assert started
    pool.close()
    assert not any(alive(pid) for pid in started)
