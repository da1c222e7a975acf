"""Readiness follows the consumer group: a worker is not ready while it rebalances.

Two real workers in one group on the real broker. When the second joins, the first must answer
503 on /readyz while the group rebalances (and both come back to 200 afterwards); liveness
stays 200 throughout.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from newsflow.broker import free_port
from newsflow.config import Settings
from tests.helpers import ManagedProcess

pytestmark = pytest.mark.integration


def probe(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, json.loads(response.read()).get("reason", "")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}").get("reason", "")
    except OSError:
        return 0, "unreachable"


@dataclass
class ReadinessWatch:
    """Polls a worker's /readyz and /healthz every 50 ms in a thread and keeps every answer."""

    base: str
    answers: list[tuple[float, int, str]] = field(default_factory=list)
    liveness: list[int] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)
    stopped: threading.Event = field(default_factory=threading.Event)

    def start(self) -> ReadinessWatch:
        threading.Thread(target=self._run, daemon=True).start()
        return self

    def _run(self) -> None:
        while not self.stopped.is_set():
            status, reason = probe(self.base + "/readyz")
            live, _ = probe(self.base + "/healthz")
            with self.changed:
                self.answers.append((time.monotonic(), status, reason))
                if status:
                    self.liveness.append(live)
                self.changed.notify_all()
            self.stopped.wait(0.05)  # probe cadence, not synchronisation

    def wait_for(self, status: int, after: float, timeout: float) -> tuple[float, int, str]:
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for answer in self.answers:
                    if answer[0] >= after and answer[1] == status:
                        return answer
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{self.base}: no {status} after t={after:.1f}; "
                                         f"last answers {self.answers[-5:]}")
                self.changed.wait(min(remaining, 0.5))

    def stop(self) -> None:
        self.stopped.set()


@pytest.fixture
def watch_first(worker: ManagedProcess, settings: Settings) -> Iterator[ReadinessWatch]:
    watch = ReadinessWatch(f"http://127.0.0.1:{settings.worker_web_port}").start()
    yield watch
    watch.stop()


def test_readiness_drops_while_the_group_rebalances(
    settings: Settings, worker: ManagedProcess, watch_first: ReadinessWatch, tmp_path: Path,
) -> None:
    ready_at, _, _ = watch_first.wait_for(200, 0.0, 90)
    # Before its first assignment the worker said why it was not ready.
    early = [reason for _, status, reason in watch_first.answers if status == 503]
    assert set(early) <= {"waiting for the first partition assignment", "rebalancing",
                          "recovering tables"}

    second_settings = settings.model_copy(update={"worker_web_port": free_port(),
                                                  "worker_data_dir": tmp_path / "worker-2"})
    second = ManagedProcess(["worker"], second_settings, tmp_path / "worker2.log").start()
    watch_second = ReadinessWatch(f"http://127.0.0.1:{second_settings.worker_web_port}").start()
    try:
        joined = time.monotonic()
        dropped, _, reason = watch_first.wait_for(503, joined, 90)
        assert reason in {"rebalancing", "recovering tables"}, reason
        watch_first.wait_for(200, dropped, 90)
        watch_second.wait_for(200, joined, 90)
        second_reasons = {r for _, s, r in watch_second.answers if s == 503}
        assert second_reasons, "the joining worker was never seen not ready"
        assert second_reasons <= {"waiting for the first partition assignment", "rebalancing",
                                  "recovering tables"}
    finally:
        watch_second.stop()
        second.stop()
    # Liveness never failed while readiness went up and down.
    assert watch_first.liveness and set(watch_first.liveness) == {200}
    assert worker.alive()
    assert ready_at < joined
