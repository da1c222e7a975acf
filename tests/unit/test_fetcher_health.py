"""The fetcher's /healthz verdict over its poll loops (Fetcher.health), without a broker: the
loops are tasks whose ends are set here."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from newsflow.config import Settings
from newsflow.fetcher.publisher import Publisher
from newsflow.fetcher.service import Fetcher
from newsflow.fetcher.sources import SourceConfig

pytestmark = pytest.mark.clock  # the fetcher's modules read the clock (these tests do not)


def _fetcher(tmp_path: Path, ids: list[str]) -> Fetcher:
    sources = [SourceConfig(id=i, name=i, kind="directory", path=tmp_path) for i in ids]
    # No broker is reached: health reads the loops and the state only.
    return Fetcher(Settings(kafka_bootstrap_servers="127.0.0.1:9"), sources,
                   Publisher.__new__(Publisher))


async def test_one_poll_loop_that_died_makes_the_fetcher_unhealthy(tmp_path: Path) -> None:
    """README: /healthz fails when "a poll loop died"; it stayed 200 while any other ran."""
    fetcher = _fetcher(tmp_path, ["a", "b"])
    fetcher.started = True

    async def dies() -> None:
        raise RuntimeError("a bug in a poll loop")

    async def runs() -> None:
        await asyncio.Event().wait()

    running = asyncio.create_task(runs())
    died = asyncio.create_task(dies())
    await asyncio.wait([died])
    try:
        fetcher.tasks = [running]
        assert fetcher.health()[0]
        fetcher.tasks = [running, died]
        assert not fetcher.health()[0]
    finally:
        running.cancel()
        await fetcher.http.aclose()


async def test_loops_that_ended_because_their_sources_were_retired_stay_healthy(
        tmp_path: Path) -> None:
    fetcher = _fetcher(tmp_path, ["a"])
    fetcher.started = True
    fetcher.state.retired["a"] = "HTTP 410 Gone"
    ended = asyncio.create_task(asyncio.sleep(0))
    await ended
    try:
        fetcher.tasks = [ended]
        ok, detail = fetcher.health()
        assert ok and detail["retired"] == ["a"] and detail["sources"] == 0
    finally:
        await fetcher.http.aclose()
