"""Faults around the worker: a paused broker, a restarted fetcher, a consumer that stops reading."""

from __future__ import annotations

import os
import random
import resource
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from kafka import KafkaConsumer

from newsflow.broker import EmbeddedBroker
from newsflow.config import Settings
from tests.e2e.streams import (
    TracedWorker,
    article_text,
    check_outputs,
    describe,
    growth_per_item,
    traffic,
    wait_for_every_input,
)
from tests.helpers import (
    ManagedProcess,
    Route,
    TopicReader,
    ago,
    isolated_settings,
    produce,
    write_sources,
)
from tests.integration.fetcher_servers import ScriptedServer, rss

pytestmark = pytest.mark.e2e

BROKER_PAUSE_SECONDS = 20  # the fault under test: how long the broker is frozen


def write_articles(folder: Path, start: int, count: int, seed: int) -> set[str]:
    """Plain-text articles the directory source picks up; returns their titles."""
    rng = random.Random(seed + start)
    titles = set()
    for n in range(start, start + count):
        title = f"Dispatch {seed}-{n}"
        (folder / f"dispatch-{n:05d}.txt").write_text(f"{title}\n{article_text(rng)}\n")
        titles.add(title)
    return titles


def test_broker_paused_twenty_seconds_then_everything_arrives(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as broker:
        settings = isolated_settings(broker.bootstrap, tmp_path)
        sources = write_sources(tmp_path / "sources.yaml", [
            {"id": "inbox", "name": "Inbox", "kind": "directory", "path": str(inbox),
             "poll_interval_seconds": 1}])
        titles = write_articles(inbox, 0, 100, seed=1)
        reader = TopicReader(settings, ["articles", "duplicates"])
        worker = ManagedProcess(["worker"], settings, tmp_path / "worker.log").start()
        fetcher = ManagedProcess(["fetch", "--sources", str(sources)], settings,
                                 tmp_path / "fetch.log").start()
        try:
            reader.wait_for(lambda r: len(r["articles"]) >= 50, 180, "50 articles before the pause")
            assert broker.process is not None
            os.kill(broker.process.pid, signal.SIGSTOP)
            titles |= write_articles(inbox, 100, 100, seed=1)  # fetched while the broker is frozen
            time.sleep(BROKER_PAUSE_SECONDS)
            os.kill(broker.process.pid, signal.SIGCONT)
            records = reader.wait_for(
                lambda r: titles <= {a["title"] for a in r["articles"]}, 300,
                "every article after the broker resumed")
            assert worker.alive() and fetcher.alive(), "both recover on their own"
        finally:
            fetcher.stop()
            worker.stop()
            reader.close()
    ids = Counter(a["id"] for a in records["articles"])
    assert len(ids) == len(titles)
    assert not records["duplicates"], "nothing was published twice as new"


def test_restarted_fetcher_republishes_nothing_as_new(
    settings: Settings, worker: ManagedProcess, reader: TopicReader, tmp_path: Path,
) -> None:
    server = ScriptedServer()
    items: list[tuple[str, str]] = []
    server.routes["/feed"] = lambda _: Route(200, rss(server.base_url, list(items)),
                                             {"Content-Type": "application/rss+xml"})

    rng = random.Random(4)

    def add(start: int, count: int) -> set[str]:
        for n in range(start, start + count):
            name, title = f"dispatch-{n:03d}", f"Dispatch {n:03d}"
            paragraphs = "".join(f"<p>{line}</p>" for line in article_text(rng).split("\n"))
            html = f"<html><body><article><h1>{title}</h1>{paragraphs}</article></body></html>"
            server.routes[f"/{name}"] = Route(200, html.encode(), {"Content-Type": "text/html"})
            items.append((name, title))
        return {f"Dispatch {n:03d}" for n in range(start, start + count)}

    titles = add(0, 60)
    sources = write_sources(tmp_path / "sources.yaml", [
        {"id": "wire", "name": "Wire", "kind": "rss", "url": server.url("/feed"),
         "poll_interval_seconds": 1}])
    settings = settings.model_copy(update={"fetch_host_min_delay_seconds": 0.0})
    fetcher = ManagedProcess(["fetch", "--sources", str(sources)], settings, tmp_path / "f1.log")
    restarted = ManagedProcess(["fetch", "--sources", str(sources)], settings, tmp_path / "f2.log")
    try:
        fetcher.start()
        reader.wait_for(lambda r: len(r["articles"]) >= 30, 180, "30 articles before the kill")
        fetcher.kill()  # mid-run: some pages fetched, some not
        titles |= add(60, 40)
        restarted.start()
        records = reader.wait_for(lambda r: titles <= {a["title"] for a in r["articles"]}, 240,
                                  "all 100 articles after the restart")
    finally:
        restarted.stop()
        server.close()
    ids = Counter(a["id"] for a in records["articles"])
    assert len(ids) == 100 and max(ids.values()) == 1, "nothing came out twice as new"
    # At most what was in flight at the kill (acknowledged, state not yet saved) is sent again,
    # and the worker recognises it; the 30+ articles published before are not re-fetched.
    assert all(d["level"] == "exact" for d in records["duplicates"])
    assert len(records["duplicates"]) <= 100 - 30
    page_hits = Counter(path for path in server.paths() if path.startswith("/dispatch-"))
    assert sum(1 for hits in page_hits.values() if hits > 1) <= len(records["duplicates"])


# The stalled-consumer run: inputs fetched a minute apart, a dedupe window of 144 of them, so
# the window (and the memory it legitimately takes) is full after the warm-up and stays so.
STALL_STEP_SECONDS = 60
STALL_WINDOW_DAYS = 0.1
STALL_WARM_UP = 600  # 400 was too few: the first 400 after it still grew ~600 B each
STALL_BATCH = 400
STALL_BATCHES = 4
# Bytes the worker may keep per input once the window is full. Measured: traced memory within
# +-170 KiB of its mean over 2,400 inputs (slope ~30 B per input, noise) on a quiet machine;
# under a full CI run's load one run (ci67, 1 Dec) rose 900 KiB over the 1,600 inputs measured
# here, a slope of 562 B, with the worker's code the same as in the run before, which passed.
# An article record kept for the stalled consumer would be ~2 KB per input, the index without
# eviction ~9 KB: twice and nine times this limit. (Each traced input costs ~45-65 ms of the
# suite's time: 2,200 rather than 3,000 save 40 s or more.)
STALL_GROWTH_LIMIT = 1000


def test_consumer_that_stops_reading_does_not_grow_the_worker(
    broker: EmbeddedBroker, tmp_path: Path,
) -> None:
    settings = isolated_settings(broker.bootstrap, tmp_path, dedupe_window_days=STALL_WINDOW_DAYS)
    total = STALL_WARM_UP + STALL_BATCH * STALL_BATCHES
    items = traffic(total, seed=12, fetched_at=lambda n: ago(
        seconds=(total - n) * STALL_STEP_SECONDS))
    worker = TracedWorker(settings, tmp_path / "worker.log").start()
    reader = TopicReader(settings, ["articles", "duplicates"])
    stalled = KafkaConsumer(settings.topic_articles, bootstrap_servers=settings.require_bootstrap(),
                            group_id=f"{settings.app_id}-stalled", auto_offset_reset="earliest",
                            session_timeout_ms=6000, heartbeat_interval_ms=1000)

    def decided(count: int) -> None:
        reader.wait_for(lambda r: len(r["articles"]) + len(r["duplicates"]) >= count, 600,
                        f"{count} decisions")

    try:
        produce(settings, [(k, v) for k, v, _ in items[:STALL_WARM_UP]])
        decided(STALL_WARM_UP)
        assert stalled.poll(timeout_ms=5000, max_records=1)  # reads once, then stops reading
        samples = [(STALL_WARM_UP, worker.traced_bytes())]
        for start in range(STALL_WARM_UP, total, STALL_BATCH):
            produce(settings, [(k, v) for k, v, _ in items[start:start + STALL_BATCH]])
            decided(start + STALL_BATCH)
            samples.append((start + STALL_BATCH, worker.traced_bytes()))
        records = reader.wait_for(lambda r: True, 1, "the outputs")
        assert worker.alive()
    finally:
        stalled.close()
        reader.close()
        worker.stop()
    check_outputs(records, {url for *_, url in items})
    print(f"worker memory by inputs decided: {describe(samples)}")
    growth = growth_per_item(samples)
    assert growth < STALL_GROWTH_LIMIT, (
        f"the worker kept {growth:.0f} bytes per input while a consumer stalled: "
        f"{describe(samples)}")


def test_a_table_the_worker_cannot_write_stops_it_and_loses_nothing(
    broker: EmbeddedBroker, tmp_path: Path,
) -> None:
    # A full or failing disk under the worker's table is not the records' fault: dead-lettering
    # them diverted every later input for good while the worker said it was healthy. The
    # worker stops with one line instead, and started again with room, it takes every input.
    settings = isolated_settings(broker.bootstrap, tmp_path)
    items = traffic(600, seed=21)
    produce(settings, [(k, v) for k, v, _ in items[:200]])
    reader = TopicReader(settings, ["articles", "duplicates", "deadletter"])
    log = tmp_path / "limited.log"
    limited = ManagedProcess(["worker"], settings, log,
                             module="tests.e2e.file_size_limited").start()
    try:
        wait_for_every_input(reader, settings, {url for *_, url in items[:200]}, 300,
                             "the first inputs")
        # From now on no file of the worker may grow 100 KB past the largest it has: the table's
        # write-ahead log reaches that within the next inputs, the worker's log does not.
        largest = max(f.stat().st_size for f in [log, *settings.worker_data_dir.rglob("*")]
                      if f.is_file())
        limit = largest + 100_000
        resource.prlimit(limited.pid, resource.RLIMIT_FSIZE, (limit, limit))
        produce(settings, [(k, v) for k, v, _ in items[200:]])
        assert limited.wait(240) == 1, limited.log()[-3000:]
        last = limited.log().rstrip().splitlines()[-1]
        # (Faust's worker hands what is written to stderr to its logger: a log line.)
        assert "newsflow worker: the dedupe memory table could not be written (" in last, last
        assert "File too large" in last, last
        restarted = ManagedProcess(["worker"], settings, tmp_path / "worker.log").start()
        try:
            records = wait_for_every_input(reader, settings, {url for *_, url in items}, 300,
                                           "every input after the restart")
        finally:
            restarted.stop()
    finally:
        limited.kill()
        reader.close()
    assert records["deadletter"] == []
    check_outputs(records, {url for *_, url in items})
