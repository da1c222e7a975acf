"""The worker's data directory (RocksDB table store) against real brokers: kept across a worker
restart, discarded when the broker no longer holds its changelog, and one worker at a time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from newsflow.broker import EmbeddedBroker, free_port
from newsflow.config import Settings
from newsflow.processor.local_state import LOCK_FILE
from newsflow.topics import ensure_topics
from tests.helpers import (
    ManagedProcess,
    decision_for,
    isolated_settings,
    seed_text,
    send_raw,
    wait_until,
)

pytestmark = pytest.mark.integration
DISCARDED = "discarding the local table store"



@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """A broker of this test's own: it is stopped and replaced by a fresh one."""
    with EmbeddedBroker(log_path=tmp_path / "broker-a.log") as running:
        yield running


def run_worker(settings: Settings, log_path: Path) -> ManagedProcess:
    return ManagedProcess(["worker"], settings, log_path).start()


def test_store_kept_on_the_same_broker_and_discarded_on_a_fresh_one(
    own_broker: EmbeddedBroker, tmp_path: Path,
) -> None:
    on_a = isolated_settings(own_broker.bootstrap, tmp_path)
    remembered = seed_text("004")
    worker = run_worker(on_a, tmp_path / "a1.log")
    try:
        send_raw(on_a, remembered, "https://first.example/a")
        assert decision_for(on_a, "https://first.example/a")[0] == "articles"
    finally:
        worker.stop()
    # Restarted on its directory, same broker: the store is kept, its memory still counts.
    worker = run_worker(on_a, tmp_path / "a2.log")
    try:
        send_raw(on_a, remembered, "https://copy.example/a")
        role, record = decision_for(on_a, "https://copy.example/a")
        assert (role, record["level"]) == ("duplicates", "exact")
        assert DISCARDED not in worker.log()
    finally:
        worker.stop()
    own_broker.stop()

    # A fresh broker (the embedded one keeps nothing): another worker writes a changelog longer
    # than the one the old store applied, so Faust's own offset check would not notice.
    with EmbeddedBroker(log_path=tmp_path / "broker-b.log") as fresh:
        on_b = on_a.model_copy(update={"kafka_bootstrap_servers": fresh.bootstrap})
        ensure_topics(on_b)
        other = run_worker(on_b.model_copy(update={"worker_data_dir": tmp_path / "other"}),
                           tmp_path / "b-other.log")
        try:
            for label in ("000", "001", "002"):
                send_raw(on_b, seed_text(label), f"https://b.example/{label}")
            for label in ("000", "001", "002"):
                decision_for(on_b, f"https://b.example/{label}")
        finally:
            other.stop()
        worker = run_worker(on_b, tmp_path / "b-old-dir.log")
        try:
            # Broker A's memory must be gone: its article has no output here.
            send_raw(on_b, remembered, "https://again.example/a")
            assert decision_for(on_b, "https://again.example/a")[0] == "articles"
            # Broker B's memory must be whole: its first article too.
            send_raw(on_b, seed_text("000"), "https://copy.example/b000")
            role, record = decision_for(on_b, "https://copy.example/b000")
            assert (role, record["level"]) == ("duplicates", "exact")
            assert DISCARDED in worker.log()
        finally:
            worker.stop()


def test_second_worker_on_the_same_directory_exits_with_one_line(
    settings: Settings, tmp_path: Path,
) -> None:
    first = run_worker(settings, tmp_path / "first.log")
    try:
        lock = settings.worker_data_dir / LOCK_FILE
        wait_until(lambda: lock.exists() and lock.read_text().strip() == str(first.pid), 60,
                   "the first worker to hold its data directory")
        second = ManagedProcess(["worker"], settings.model_copy(update={
            "worker_web_port": free_port()}), tmp_path / "second.log").start()
        assert second.wait(60) == 2
        assert second.log().strip() == (
            f"newsflow worker: data directory {settings.worker_data_dir} is in use by another "
            f"worker (pid {first.pid}); give each worker on this machine its own "
            f"NEWSFLOW_WORKER_DATA_DIR")
        assert first.alive()
    finally:
        first.stop()
