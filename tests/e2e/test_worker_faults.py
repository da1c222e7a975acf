"""Worker crashes and hand-overs on the real broker: nothing lost, repeats identifiable."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from newsflow.broker import free_port
from newsflow.config import Settings
from tests.e2e.streams import (
    check_copies_grouped,
    check_outputs,
    copy_pairs,
    traffic,
    wait_for_every_input,
)
from tests.helpers import ManagedProcess, TopicReader, produce

pytestmark = pytest.mark.e2e

CRASH_ARTICLES = 5000
KILLS = 5


def outputs(reader: TopicReader) -> int:
    return len(reader.records["articles"]) + len(reader.records["duplicates"])


def outputs_reach(count: int) -> Callable[[dict[str, list[dict[str, Any]]]], bool]:
    return lambda records: len(records["articles"]) + len(records["duplicates"]) >= count


def test_worker_killed_five_times_loses_nothing(
    settings: Settings, reader: TopicReader, tmp_path: Path,
) -> None:
    items = traffic(CRASH_ARTICLES, seed=8)
    urls = {url for _, _, url in items}
    produce(settings, [(key, value) for key, value, _ in items])
    rng = random.Random(5)
    kill_points = sorted(rng.sample(range(200, CRASH_ARTICLES - 300), KILLS))
    worker = ManagedProcess(["worker"], settings, tmp_path / "worker-0.log").start()
    restarts = 0
    try:
        for point in kill_points:
            reader.wait_for(outputs_reach(point),
                            300, f"{point} outputs before kill #{restarts + 1}")
            worker.kill()
            restarts += 1
            worker = ManagedProcess(["worker"], settings,
                                    tmp_path / f"worker-{restarts}.log").start()
        records = wait_for_every_input(reader, settings, urls, 600,
                                       "every input after the last restart")
    finally:
        worker.stop()
    assert restarts == KILLS
    check_outputs(records, urls)
    pairs = copy_pairs(urls, seed=8)
    assert len(pairs) == CRASH_ARTICLES // 10
    check_copies_grouped(records, pairs)


def test_survivor_takes_over_when_one_of_two_workers_dies(
    settings: Settings, reader: TopicReader, tmp_path: Path,
) -> None:
    items = traffic(1500, seed=9)
    urls = {url for _, _, url in items}
    first = ManagedProcess(["worker"], settings, tmp_path / "a.log").start()
    second = ManagedProcess(
        ["worker"], settings.model_copy(update={"worker_web_port": free_port(),
                                                "worker_data_dir": tmp_path / "worker-b"}),
        tmp_path / "b.log").start()
    try:
        produce(settings, [(key, value) for key, value, _ in items])
        reader.wait_for(lambda r: len(r["articles"]) + len(r["duplicates"]) >= 300, 300,
                        "300 outputs from two workers")
        second.kill()
        records = wait_for_every_input(reader, settings, urls, 600,
                                       "every input from the survivor")
        assert first.alive()
    finally:
        first.stop()
        second.stop()
    check_outputs(records, urls)
    check_copies_grouped(records, copy_pairs(urls, seed=9))
