"""The fetcher's probe pages: /livez (process and event loop alive, broker or not), /readyz
(started and the broker acknowledges), /healthz (started and polling).

k8s points its liveness probe at /livez: a fetcher waiting for an unreachable broker must stay
alive (and retry) instead of being restarted in a loop.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from newsflow.broker import free_port
from newsflow.config import Settings
from newsflow.fetcher import metrics
from tests.helpers import ManagedProcess, wait_until, write_sources

pytestmark = pytest.mark.clock


def get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def pages() -> Iterator[tuple[str, Clock, dict[str, Any]]]:
    """A served probe endpoint whose health answer and clock the test sets."""
    clock = Clock()
    state: dict[str, Any] = {"ok": False, "detail": {"started": False, "broker_available": False}}
    port = free_port()
    server = metrics.serve("127.0.0.1", port, lambda: (state["ok"], dict(state["detail"])),
                           metrics.Heartbeat(clock))
    try:
        yield f"http://127.0.0.1:{port}", clock, state
    finally:
        server.stop()


def test_livez_depends_on_the_event_loop_not_on_the_broker(
    pages: tuple[str, Clock, dict[str, Any]],
) -> None:
    base, clock, _ = pages
    assert get(base + "/healthz")[0] == 503  # not started: the broker is unreachable
    assert get(base + "/readyz")[0] == 503
    status, body = get(base + "/livez")
    assert status == 200 and body["live"] is True
    clock.now += metrics.LIVENESS_STALL_SECONDS - 1
    assert get(base + "/livez")[0] == 200
    clock.now += 2  # no beat for longer than the stall limit: the loop is stuck
    status, body = get(base + "/livez")
    assert status == 503 and body["live"] is False


def test_readyz_needs_a_started_fetcher_and_an_acknowledging_broker(
    pages: tuple[str, Clock, dict[str, Any]],
) -> None:
    base, _, state = pages
    state["ok"], state["detail"] = True, {"started": True, "broker_available": False}
    assert get(base + "/healthz")[0] == 200
    status, body = get(base + "/readyz")
    assert status == 503 and body["ready"] is False
    state["detail"]["broker_available"] = True
    status, body = get(base + "/readyz")
    assert status == 200 and body["ready"] is True


async def test_heartbeat_task_beats() -> None:
    clock = Clock()
    heartbeat = metrics.Heartbeat(clock)
    clock.now += 100
    assert heartbeat.age() == 100
    task = asyncio.create_task(heartbeat.run(interval=0.01))
    await asyncio.sleep(0)  # the task's first step beats
    assert heartbeat.age() == 0
    task.cancel()


def test_fetcher_process_waiting_for_the_broker_is_live_but_not_ready(tmp_path: Path) -> None:
    """The real `newsflow fetch` with nothing listening on the bootstrap port."""
    settings = Settings(kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",
                        fetch_metrics_host="127.0.0.1", fetch_metrics_port=free_port(),
                        worker_data_dir=tmp_path / "worker")
    sources = write_sources(tmp_path / "sources.yaml", [{
        "id": "local", "name": "Local", "kind": "rss", "url": "http://127.0.0.1:9/feed.xml"}])
    fetcher = ManagedProcess(["fetch", "--sources", str(sources)], settings,
                             tmp_path / "fetch.log").start()
    base = f"http://127.0.0.1:{settings.fetch_metrics_port}"
    try:
        wait_until(lambda: "unreachable" in fetcher.log(), 60, "a failed broker connection")
        status, body = get(base + "/livez")
        assert status == 200, body
        assert get(base + "/healthz")[0] == 503
        status, body = get(base + "/readyz")
        assert status == 503 and body["broker_available"] is False
        assert fetcher.alive()
    finally:
        fetcher.stop()
    assert fetcher.wait(5) == 0, fetcher.log()[-2000:]
