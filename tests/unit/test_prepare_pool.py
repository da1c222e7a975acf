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
from typing import Any

import pytest

from newsflow.codecs.internal import PREPARED
from newsflow.config import Settings
from newsflow.core.pipeline import Prepared
from newsflow.errors import PreparePoolClosed
from newsflow.processor.prepare_pool import Outcome, PreparePool
from newsflow.processor.stages import PreparedMessage
from newsflow.records import DeadLetter, RawMessage
from tests.helpers import alive, cpu_seconds, raw_record, wait_until

pytestmark = pytest.mark.clock

SLOW_HTML = "<html><body>" + "<p>word " * 400_000 + "</body></html>"  # minutes in trafilatura


def value(body: str, content_type: str = "text/plain") -> bytes:
    return json.dumps(raw_record(body, url="https://example.org/a", title="A title",
                                 content_type=content_type)).encode()


def children() -> set[int]:
    return {process.pid for process in multiprocessing.active_children() if process.pid}


@pytest.fixture
def pool_factory() -> Iterator[list[PreparePool]]:
    pools: list[PreparePool] = []
    yield pools
    for pool in pools:
        pool.close()


def new_pool(pools: list[PreparePool], **settings: float) -> PreparePool:
    overrides: dict[str, Any] = dict(settings)  # each names its own field, checked by Settings
    pool = PreparePool(Settings(**overrides))
    pools.append(pool)
    return pool


def test_valid_input_is_prepared_in_a_child(pool_factory: list[PreparePool]) -> None:
    pool = new_pool(pool_factory)
    data = value("Harbour cranes arrived on Monday.")
    result = asyncio.run(pool.prepare(RawMessage("raw", 0, 1, b"k", data)))
    assert isinstance(result, PreparedMessage)  # encoded in the child for the internal topic
    record = PREPARED.decode(result.value)
    assert record.prepared.article["title"] == "A title"
    assert record.prepared.origin == "raw:0:1"
    assert (record.raw.key, record.raw.value) == (b"k", data)
    assert len(children()) == 1 and os.getpid() not in children()


def test_an_overrunning_page_is_stopped_and_a_fresh_child_prepares_the_next(
        pool_factory: list[PreparePool]) -> None:
    pool = new_pool(pool_factory, clean_time_budget_seconds=1.0)
    slow_value = value(SLOW_HTML, "text/html")

    async def run() -> tuple[PreparedMessage | DeadLetter, float, set[int],
                             PreparedMessage | DeadLetter]:
        await pool.prepare(RawMessage("raw", 0, 1, b"warm", value("Warm up the child.")))
        before = children()
        started = time.monotonic()
        slow = await pool.prepare(RawMessage("raw", 0, 2, b"slow", slow_value))
        took = time.monotonic() - started
        after = await pool.prepare(RawMessage("raw", 0, 3, b"ok",
                                              value("Ferries resumed service.")))
        return slow, took, before, after

    slow, took, before, after = asyncio.run(run())
    assert isinstance(slow, DeadLetter)
    assert (slow.stage, slow.error_type) == ("clean", "PrepareTimeout")
    assert "1 s budget" in slow.error_message
    assert (slow.key, slow.value, slow.offset) == (b"slow", slow_value, 2)
    assert took < 10  # the page alone would take minutes
    # The child that ran the page was stopped, and another one prepared the next record.
    assert len(before) == 1 and not any(alive(pid) for pid in before)
    assert isinstance(after, PreparedMessage)
    assert children() and not children() & before


def test_the_offline_path_enforces_the_same_budget(pool_factory: list[PreparePool]) -> None:
    pool = new_pool(pool_factory, clean_time_budget_seconds=1.0)
    now = datetime.now(UTC)
    slow = pool.prepare_blocking(RawMessage("p", None, 0, b"slow", value(SLOW_HTML, "text/html")),
                                 now)
    after = pool.prepare_blocking(RawMessage("p", None, 1, b"ok", value("Tides were high.")), now)
    assert isinstance(slow, DeadLetter) and slow.error_type == "PrepareTimeout"
    assert isinstance(after, Prepared)


def test_a_child_killed_under_a_page_costs_that_page_only(pool_factory: list[PreparePool]) -> None:
    pool = new_pool(pool_factory, clean_time_budget_seconds=600.0)
    now = datetime.now(UTC)
    warm = pool.prepare_blocking(RawMessage("raw", 0, 1, b"warm", value("Warm up.")), now)
    assert isinstance(warm, Prepared)
    (child,) = children()
    idle = cpu_seconds(child)
    slow_value = value(SLOW_HTML, "text/html")
    results: list[Prepared | DeadLetter] = []
    worker = threading.Thread(target=lambda: results.append(
        pool.prepare_blocking(RawMessage("raw", 0, 2, b"slow", slow_value), now)))
    worker.start()
    # Killed while it works on the page (its CPU time grows), not while idle.
    wait_until(lambda: cpu_seconds(child) > idle + 0.2, 60, "the child to work on the page")
    os.kill(child, signal.SIGKILL)
    worker.join(60)
    (letter,) = results
    assert isinstance(letter, DeadLetter)
    assert (letter.stage, letter.error_type) == ("clean", "PrepareProcessDied")
    assert (letter.key, letter.value) == (b"slow", slow_value)
    after = pool.prepare_blocking(RawMessage("raw", 0, 3, b"ok", value("Tides were high.")), now)
    assert isinstance(after, Prepared)
    assert children() and child not in children()


def test_tasks_queued_on_a_pool_whose_children_died_are_prepared_on_the_next(
        pool_factory: list[PreparePool]) -> None:
    # `newsflow process` keeps two tasks in flight per child: when every child dies (the OOM
    # killer), the replaced pool's queued tasks were left pending, and the command hung.
    pool = new_pool(pool_factory, clean_time_budget_seconds=600.0, prepare_processes=2)
    now = datetime.now(UTC)
    warm = pool.prepare_blocking(RawMessage("raw", 0, 0, b"warm", value("Warm up.")), now)
    assert isinstance(warm, Prepared)
    busy = children()
    assert len(busy) == 2
    idle = {pid: cpu_seconds(pid) for pid in busy}
    # Seconds of work, not minutes: a page may be prepared once more on the fresh pool.
    slow_value = value("<html><body>" + "<p>word " * 60_000 + "</body></html>", "text/html")
    waits = [pool.submit_blocking(RawMessage("raw", 0, 1 + n, b"slow", slow_value), now)
             for n in range(2)]
    waits += [pool.submit_blocking(RawMessage("raw", 0, 3 + n, b"ok", value("Tides were high.")),
                                   now) for n in range(2)]
    wait_until(lambda: all(cpu_seconds(pid) > idle[pid] + 0.2 for pid in busy), 60,
               "both children to work on the slow pages")
    for pid in busy:
        os.kill(pid, signal.SIGKILL)
    results: list[Prepared | DeadLetter] = []
    taker = threading.Thread(target=lambda: results.extend(wait() for wait in waits),
                             daemon=True)
    taker.start()
    taker.join(120)
    assert not taker.is_alive(), f"stuck after {len(results)} of 4 results"
    # A slow page is a PrepareProcessDied letter, or prepared once more on the fresh pool when
    # pebble reports the pool broken rather than the page's process dead; the queued ones are
    # prepared there.
    assert all(isinstance(r, Prepared) or r.error_type == "PrepareProcessDied"
               for r in results[:2])
    assert [type(r).__name__ for r in results[2:]] == ["Prepared", "Prepared"]
    assert not children() & busy


def test_a_pool_whose_idle_child_died_is_replaced(pool_factory: list[PreparePool]) -> None:
    pool = new_pool(pool_factory)

    async def run() -> PreparedMessage | DeadLetter:
        await pool.prepare(RawMessage("raw", 0, 4, b"warm", value("Warm up the child.")))
        for pid in children():
            os.kill(pid, signal.SIGKILL)
        return await pool.prepare(RawMessage("raw", 0, 5, b"k", value("Tides were high.")))

    result = asyncio.run(run())
    assert isinstance(result, PreparedMessage)


def test_close_stops_the_children() -> None:
    pool = PreparePool(Settings())
    asyncio.run(pool.prepare(RawMessage("raw", 0, 1, b"k", value("Harbour cranes."))))
    started = children()
    assert started
    pool.close()
    assert not any(alive(pid) for pid in started)


def test_a_pool_is_replaced_once_however_many_of_its_tasks_notice(
        pool_factory: list[PreparePool]) -> None:
    """Two tasks of a broken pool both ask for its replacement: the second must not stop the
    new pool, on which the first has scheduled its retry since."""
    pool = new_pool(pool_factory)
    broken = pool.pool
    pool._replace_pool(broken)
    fresh = pool.pool
    assert fresh is not broken and not broken.active
    pool._replace_pool(broken)  # the second task's late request
    assert pool.pool is fresh and fresh.active
    now = datetime.now(UTC)
    assert isinstance(pool.prepare_blocking(RawMessage("raw", 0, 9, b"k", value("Tides.")), now),
                      Prepared)


def test_a_closed_pool_starts_no_pool_again_and_says_so() -> None:
    """Shutting down: a call after ``close`` must not start a pool that nothing would stop,
    nor turn its record into a dead letter (the worker leaves it uncommitted)."""
    pool = PreparePool(Settings())
    asyncio.run(pool.prepare(RawMessage("raw", 0, 1, b"k", value("Harbour cranes."))))
    pool.close()
    now = datetime.now(UTC)
    with pytest.raises(PreparePoolClosed, match="raw:0:2 was not prepared"):
        asyncio.run(pool.prepare(RawMessage("raw", 0, 2, b"k", value("Tides were high."))))
    with pytest.raises(PreparePoolClosed, match="raw:0:3 was not prepared"):
        pool.prepare_blocking(RawMessage("raw", 0, 3, b"k", value("Tides were high.")), now)
    assert not children() and not pool.pool.active
    pool.close()  # again: nothing to do


def test_a_page_in_progress_when_the_pool_closes_is_abandoned_not_dead_lettered() -> None:
    """As in the worker: the pool closes from a thread while the event loop awaits a page."""
    others = children()
    pool = PreparePool(Settings(clean_time_budget_seconds=600.0))

    async def run() -> tuple[int, BaseException | PreparedMessage | DeadLetter]:
        await pool.prepare(RawMessage("raw", 0, 1, b"warm", value("Warm up the child.")))
        (child,) = children() - others
        idle = cpu_seconds(child)
        slow = asyncio.create_task(pool.prepare(
            RawMessage("raw", 0, 2, b"slow", value(SLOW_HTML, "text/html"))))
        # Closed while the child works on the page (its CPU time grows), not while idle.
        await asyncio.to_thread(wait_until, lambda: cpu_seconds(child) > idle + 0.2, 60,
                                "the child to work on the page")
        await asyncio.to_thread(pool.close)
        finished, _ = await asyncio.wait([slow], timeout=60)
        assert finished, "the page's caller still waits (pebble leaves its future pending)"
        return child, slow.exception() or slow.result()

    child, outcome = asyncio.run(run())
    assert isinstance(outcome, PreparePoolClosed), outcome
    assert "raw:0:2 was not prepared" in str(outcome)
    assert not children() - others and not alive(child)


STRIKES = """topics:
  - name: strikes
    iptc: "medtop:20000523"
    description: Labour strikes.
    threshold: 0.5
    terms:
      - {phrase: "walkout~", weight: 1.0}
"""


def tag_names_of(outcome: object) -> list[str]:
    assert isinstance(outcome, Prepared), outcome
    return [tag["name"] for tag in outcome.article["tags"]]


def test_children_keep_the_taxonomy_loaded_at_start_when_the_overlay_changes(
        pool_factory: list[PreparePool], tmp_path: Any) -> None:
    overlay = tmp_path / "newsroom.yaml"
    overlay.write_text(STRIKES, encoding="utf-8")
    pool = PreparePool(Settings(taxonomy_path=overlay, clean_time_budget_seconds=1.0))
    pool_factory.append(pool)
    now = datetime.now(UTC)
    strike = value("Dock workers began a walkout on Monday.\n\nThe walkout closed the port.")
    assert tag_names_of(pool.prepare_blocking(RawMessage("p", None, 0, b"a", strike), now)) == [
        "strikes"]
    overlay.write_text("topics: [\n", encoding="utf-8")  # a half-saved edit
    # A page over the budget: its child is replaced, and the new one starts after the edit.
    slow = pool.prepare_blocking(RawMessage("p", None, 1, b"slow", value(SLOW_HTML, "text/html")),
                                 now)
    assert isinstance(slow, DeadLetter) and slow.error_type == "PrepareTimeout"
    again = pool.prepare_blocking(RawMessage("p", None, 2, b"b", strike), now)
    assert tag_names_of(again) == ["strikes"]


def test_a_newsroom_regex_that_backtracks_for_ever_costs_pages_not_the_pool(
        pool_factory: list[PreparePool], tmp_path: Any) -> None:
    # The regex backtracks exponentially on any run of words without "walkout!", such as the
    # warm-up page, which names the harbour: the warm-up runs outside any budget.
    overlay = tmp_path / "newsroom.yaml"
    overlay.write_text(STRIKES + '      - {regex: "(\\\\w+\\\\s?)+walkout!", needs: [harbour], '
                       "weight: 1.0}\n", encoding="utf-8")
    pool = PreparePool(Settings(taxonomy_path=overlay, clean_time_budget_seconds=2.0))
    pool_factory.append(pool)

    async def run() -> tuple[Outcome, Outcome]:
        calm = await asyncio.wait_for(pool.prepare(RawMessage(
            "raw", 0, 1, b"calm", value("Ferries resumed service after the storm."))), 60)
        stuck = await asyncio.wait_for(pool.prepare(RawMessage(
            "raw", 0, 2, b"stuck", value("The harbour master praised the crews of the tugs "
                                          "that worked through the night in the storm."))), 60)
        return calm, stuck

    calm, stuck = asyncio.run(run())
    assert isinstance(calm, PreparedMessage)
    assert isinstance(stuck, DeadLetter) and stuck.error_type == "PrepareTimeout"
