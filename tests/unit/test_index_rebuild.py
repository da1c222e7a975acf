"""The worker's index rebuild runs off the event loop: the loop keeps serving (``/healthz``,
``/metrics``) while a large memory table is read and indexed, and a recovery during a rebuild
makes the worker rebuild again from the recovered table."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from newsflow.codecs.internal import MEMORY
from newsflow.config import Settings
from newsflow.core.pipeline import Origin, Pipeline
from newsflow.pipeline_setup import build_pipeline
from newsflow.processor.index_rebuild import IndexRebuild
from tests.helpers import raw_record

pytestmark = pytest.mark.clock


def remembered(pipeline: Pipeline, count: int) -> list[bytes]:
    index = pipeline.new_index()
    values = []
    for n in range(count):
        prepared = pipeline.prepare(raw_record(f"Report {n}: harbour cranes number {n} arrived.",
                                               url=f"https://example.org/cranes/{n}"),
                                    Origin("raw", 0, n), datetime.now(UTC))
        memory, _ = pipeline.decide(prepared, index, datetime.now(UTC))
        values.append(MEMORY.encode(memory))
    return values


async def test_the_rebuild_leaves_the_event_loop_free() -> None:
    """The table's values are read while a coroutine on the loop has to run for the read to
    go on: a rebuild on the loop would wait for it forever (here: fail after 10 s)."""
    pipeline = build_pipeline(Settings())
    values = remembered(pipeline, 3)
    loop_ran = threading.Event()

    def table_values() -> Iterator[bytes]:
        yield values[0]
        assert loop_ran.wait(timeout=10), "the event loop was blocked by the rebuild"
        yield from values[1:]

    async def served_meanwhile() -> None:
        loop_ran.set()

    rebuild = IndexRebuild(pipeline.new_index, table_values)
    rebuilding = asyncio.create_task(rebuild.get())  # scheduled first: it starts first
    served = asyncio.create_task(served_meanwhile())
    index = await rebuilding
    await served
    assert len(index) == 3
    assert await rebuild.get() is index  # built once, until the next recovery


async def test_a_recovery_during_a_rebuild_rebuilds_from_the_recovered_table() -> None:
    pipeline = build_pipeline(Settings())
    values = remembered(pipeline, 4)
    table = values[:2]
    started, recovered = threading.Event(), threading.Event()

    def table_values() -> Iterator[bytes]:
        snapshot = list(table)
        started.set()
        assert recovered.wait(timeout=10)
        yield from snapshot

    rebuild = IndexRebuild(pipeline.new_index, table_values)
    rebuilding = asyncio.create_task(rebuild.get())
    await asyncio.to_thread(started.wait, 10)
    table.extend(values[2:])  # the recovery brings two more entries
    rebuild.invalidate()
    recovered.set()
    assert len(await rebuilding) == 4
