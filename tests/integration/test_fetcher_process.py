"""The `newsflow fetch` process on the real broker: restarts, metrics and health, and a broker
paused with SIGSTOP while the fetcher keeps fetching."""

from __future__ import annotations

import json
import os
import re
import signal
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from newsflow.broker import EmbeddedBroker, free_port
from newsflow.config import Settings
from newsflow.topics import ensure_topics
from tests.helpers import ManagedProcess, Route, isolated_settings, run_fetch_once, wait_until, write_sources
from tests.integration.fetcher_servers import ScriptedServer, page, read_whole_topic, rss

pytestmark = pytest.mark.integration


def fetcher_settings(bootstrap: str, tmp_path: Path) -> Settings:
    return isolated_settings(bootstrap, tmp_path,
                             topic_fetcher_state=f"state-{uuid.uuid4().hex[:8]}",
                             fetch_host_min_delay_seconds=0.0, fetch_backoff_base_seconds=0.05)


def growing_feed(server: ScriptedServer, items: list[tuple[str, str]]) -> None:
    """/feed lists ``items`` as they are at each request (no validators: always a full read)."""

    def feed(_: BaseHTTPRequestHandler) -> Route:
        return Route(200, rss(server.base_url, list(items)),
                     {"Content-Type": "application/rss+xml"})

    server.routes["/feed"] = feed


def add_items(server: ScriptedServer, items: list[tuple[str, str]], names: list[str]) -> None:
    for name in names:
        server.routes[f"/{name}"] = page(name.replace("-", " ").title())
        items.append((name, name.replace("-", " ").title()))


def start_wire_fetcher(server: ScriptedServer, settings: Settings, tmp_path: Path,
                       items: list[tuple[str, str]],
                       first: tuple[str, ...] = ("before-one", "before-two"),
                       ) -> tuple[ManagedProcess, Callable[[], float]]:
    """A long-running fetcher polling /feed every 0.5 s, which lists the articles ``first`` to
    begin with, and a reading of how many raw articles it has published."""
    growing_feed(server, items)
    add_items(server, items, list(first))
    sources = write_sources(tmp_path / "sources.yaml", [
        {"id": "wire", "name": "Wire", "kind": "rss", "url": server.url("/feed"),
         "poll_interval_seconds": 0.5}])
    process = ManagedProcess(["fetch", "--sources", str(sources)], settings,
                             tmp_path / "fetch.log").start()
    metrics_url = f"http://{settings.fetch_metrics_host}:{settings.fetch_metrics_port}/metrics"

    def published() -> float:
        return metric(get(metrics_url)[1], "newsflow_fetcher_articles_published_total",
                      source="wire")

    return process, published


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))  # exposition order
    pattern = "^" + re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if wanted else "") + r" (\S+)"
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_a_restarted_fetcher_republishes_nothing(
    broker: EmbeddedBroker, server: ScriptedServer, tmp_path: Path,
) -> None:
    settings = fetcher_settings(broker.bootstrap, tmp_path)
    items: list[tuple[str, str]] = []
    growing_feed(server, items)
    add_items(server, items, ["port-one", "port-two", "port-three"])
    sources = write_sources(tmp_path / "sources.yaml", [
        {"id": "wire", "name": "Wire", "kind": "rss", "url": server.url("/feed")}])
    assert "published 3 raw articles" in run_fetch_once(settings, sources, tmp_path / "f1.log")
    assert "published 0 raw articles" in run_fetch_once(settings, sources, tmp_path / "f2.log")
    assert server.paths().count("/feed") == 2  # the restarted fetcher really read the feed
    assert server.paths().count("/port-one") == 1  # ...and knew not to fetch the pages again
    add_items(server, items, ["port-four"])
    assert "published 1 raw articles" in run_fetch_once(settings, sources, tmp_path / "f3.log")
    records = read_whole_topic(settings, settings.topic_raw, settings.topic_partitions)
    assert sorted(r["title"] for r in records) == ["Port Four", "Port One", "Port Three",
                                                   "Port Two"]


def test_metrics_and_health_endpoints(
    broker: EmbeddedBroker, server: ScriptedServer, tmp_path: Path,
) -> None:
    settings = fetcher_settings(broker.bootstrap, tmp_path)
    items: list[tuple[str, str]] = []
    server.routes["/robots.txt"] = Route(200, b"User-agent: *\nDisallow: /secret\n")
    process, published = start_wire_fetcher(server, settings, tmp_path, items,
                                            first=("dock-strike-ends",))
    base = f"http://{settings.fetch_metrics_host}:{settings.fetch_metrics_port}"
    try:
        wait_until(lambda: get(base + "/healthz")[0] == 200, 30, "/healthz")
        health = json.loads(get(base + "/healthz")[1])
        assert health["status"] == "ok" and health["sources"] == 1
        wait_until(lambda: published() == 1, 30, "the published counter")
        # The second poll counted, not only requested: the server logs the request before the
        # fetcher has read the answer and counted the fetch.
        wait_until(lambda: server.paths().count("/feed") >= 2 and metric(
            get(base + "/metrics")[1], "newsflow_fetcher_fetches_total", source="wire",
            kind="rss", outcome="ok") >= 2, 30, "a second poll")
        wait_until(lambda: metric(get(base + "/metrics")[1], "newsflow_fetcher_not_modified_total",
                                kind="rss") == 0 and server.paths().count("/feed") >= 2,
                 30, "a second poll")
        text = get(base + "/metrics")[1]
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        code = process.wait(20)
    assert code == 0, process.log()[-2000:]  # SIGTERM: drained and closed cleanly
    for name in ["newsflow_fetcher_fetches_total", "newsflow_fetcher_http_responses_total",
                 "newsflow_fetcher_fetch_duration_seconds_bucket",
                 "newsflow_fetcher_fetched_bytes_total", "newsflow_fetcher_retries_total",
                 "newsflow_fetcher_robots_denials_total", "newsflow_fetcher_publish_errors_total",
                 "newsflow_fetcher_outbox_records", "newsflow_fetcher_broker_available",
                 "newsflow_fetcher_not_modified_ratio",
                 "newsflow_fetcher_source_last_success_timestamp_seconds"]:
        assert name in text, name
    assert metric(text, "newsflow_fetcher_fetches_total", source="wire", kind="rss",
                  outcome="ok") >= 2
    assert metric(text, "newsflow_fetcher_http_responses_total", kind="page",
                  status_class="2xx") == 1
    assert metric(text, "newsflow_fetcher_broker_available") == 1
    assert metric(text, "newsflow_fetcher_source_last_success_timestamp_seconds",
                  source="wire") > time.time() - 60
    # Per-source health, exported by the real process.
    assert 'newsflow_fetcher_source_consecutive_failures{source="wire"} 0.0' in text
    assert 'newsflow_fetcher_source_deferred_items{source="wire"} 0.0' in text
    assert metric(text, "newsflow_fetcher_source_last_attempt_timestamp_seconds",
                  source="wire") > time.time() - 60
    assert "127.0.0.1" not in "".join(  # no URL ever becomes a label
        line for line in text.splitlines() if line.startswith("newsflow_"))


def test_a_fetcher_whose_last_source_is_retired_keeps_running_until_stopped(
    broker: EmbeddedBroker, server: ScriptedServer, tmp_path: Path,
) -> None:
    """Its only source answers 410 Gone: the source is retired, and the service stays up,
    healthy and scrapeable, rather than ending with exit 0 (which a supervisor restarts for
    ever, every start finding the source still retired)."""
    settings = fetcher_settings(broker.bootstrap, tmp_path)
    server.routes["/feed"] = Route(410, b"")
    sources = write_sources(tmp_path / "sources.yaml", [
        {"id": "wire", "name": "Wire", "kind": "rss", "url": server.url("/feed"),
         "poll_interval_seconds": 0.5}])
    base = f"http://{settings.fetch_metrics_host}:{settings.fetch_metrics_port}"
    for run in ("first", "restarted"):  # retired by its 410, then retired at start
        process = ManagedProcess(["fetch", "--sources", str(sources)], settings,
                                 tmp_path / f"{run}.log").start()
        try:
            def out_of_sources(p: ManagedProcess = process) -> bool:
                return "no source left to poll" in p.log() or not p.alive()

            wait_until(out_of_sources, 30, "the fetcher to run out of sources")
            assert process.alive(), process.log()[-2000:]
            status, body = get(base + "/healthz")
            assert status == 200 and json.loads(body)["retired"] == ["wire"], body
            assert metric(get(base + "/metrics")[1], "newsflow_fetcher_source_retired",
                          source="wire") == 1
        finally:
            process.stop()
        assert process.wait(1) == 0, process.log()[-2000:]  # stopped by SIGTERM, as always
    assert server.paths().count("/feed") == 1
    # A sources file that no longer names it: /healthz lists what this file configures only.
    server.routes["/other"] = Route(200, rss(server.base_url, [], full=True),
                                    {"Content-Type": "application/rss+xml"})
    write_sources(sources, [{"id": "other", "name": "Other", "kind": "rss",
                             "url": server.url("/other"), "poll_interval_seconds": 60}])
    process = ManagedProcess(["fetch", "--sources", str(sources)], settings,
                             tmp_path / "other.log").start()
    try:
        def healthy() -> bool:
            assert process.alive(), process.log()[-2000:]
            return get(base + "/healthz")[0] == 200

        wait_until(healthy, 30, "the fetcher of the other source to be healthy")
        health = json.loads(get(base + "/healthz")[1])
        assert (health["sources"], health["retired"]) == (1, []), health
    finally:
        process.stop()


def test_invalid_sources_file_is_rejected_at_start(broker: EmbeddedBroker, tmp_path: Path) -> None:
    settings = fetcher_settings(broker.bootstrap, tmp_path)
    sources = write_sources(tmp_path / "sources.yaml", [
        {"id": "api", "name": "API", "kind": "json", "url": "https://x.example/api",
         "fields": {"headline": "title"}}])
    process = ManagedProcess(["fetch", "--sources", str(sources)], settings,
                             tmp_path / "fetch.log").start()
    assert process.wait(30) == 2
    assert re.search(r"source api: fields: .*unknown keys \['headline'\]", process.log())


def test_broker_paused_for_20s_then_every_fetched_article_is_published_once(
    server: ScriptedServer, tmp_path: Path,
) -> None:
    paused_for = 20.0
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as own_broker:
        settings = fetcher_settings(own_broker.bootstrap, tmp_path)
        items: list[tuple[str, str]] = []
        process, published = start_wire_fetcher(server, settings, tmp_path, items)
        metrics_url = f"http://{settings.fetch_metrics_host}:{settings.fetch_metrics_port}/metrics"
        try:
            wait_until(lambda: published() == 2, 60, "the first two articles")
            assert own_broker.process is not None
            os.kill(own_broker.process.pid, signal.SIGSTOP)
            paused_at = time.monotonic()
            try:
                add_items(server, items, ["during-one", "during-two", "during-three"])
                # The fetcher keeps polling and fetching while the broker does not answer...
                wait_until(lambda: all(f"/during-{n}" in server.paths()
                                     for n in ("one", "two", "three")), 15, "pages fetched")
                polls_before = server.paths().count("/feed")
                wait_until(lambda: server.paths().count("/feed") >= polls_before + 3, 10,
                         "further polls during the pause")
                # ...and reports the articles it holds for the broker.
                text = get(metrics_url)[1]
                assert metric(text, "newsflow_fetcher_outbox_records") == 3
                assert metric(text, "newsflow_fetcher_articles_published_total",
                              source="wire") == 2
                # The pause itself is the scenario under test: hold the broker for 20 s.
                time.sleep(max(0.0, paused_for - (time.monotonic() - paused_at)))
            finally:
                os.kill(own_broker.process.pid, signal.SIGCONT)
            wait_until(lambda: published() == 5, 60, "the held articles after resume")
            assert metric(get(metrics_url)[1], "newsflow_fetcher_outbox_records") == 0
        finally:
            process.stop()
        assert process.process is not None and process.process.returncode == 0, \
            process.log()[-3000:]
        records = read_whole_topic(settings, settings.topic_raw, settings.topic_partitions)
    counts = Counter(r["url"].removeprefix(server.base_url) for r in records)
    assert counts == {f"/{name}": 1 for name in
                      ["before-one", "before-two", "during-one", "during-two", "during-three"]}




def test_a_fetcher_stopped_while_the_broker_is_away_stops_in_time_and_cleanly(
    server: ScriptedServer, tmp_path: Path,
) -> None:
    """With the broker frozen and articles held for it, SIGTERM took over a minute (each step
    of the stop waited its own time; Kubernetes kills at 30 s) and ended in a traceback and
    exit 1. Now one budget, exit 0 and one WARNING saying what comes again."""
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as own_broker:
        settings = fetcher_settings(own_broker.bootstrap, tmp_path)
        items: list[tuple[str, str]] = []
        process, published = start_wire_fetcher(server, settings, tmp_path, items)
        metrics_url = f"http://{settings.fetch_metrics_host}:{settings.fetch_metrics_port}/metrics"
        assert own_broker.process is not None
        try:
            wait_until(lambda: published() == 2, 60, "the first two articles")
            os.kill(own_broker.process.pid, signal.SIGSTOP)
            add_items(server, items, ["held-one", "held-two"])
            wait_until(lambda: metric(get(metrics_url)[1],
                                      "newsflow_fetcher_outbox_records") == 2, 30,
                       "two articles held for the frozen broker")
            stopping = time.monotonic()
            process.stop(timeout=60)
            took = time.monotonic() - stopping
        finally:
            os.kill(own_broker.process.pid, signal.SIGCONT)
            process.kill()
    log = process.log()
    assert process.process is not None and process.process.returncode == 0, log[-3000:]
    assert took < 25, f"the stop took {took:.0f} s: {log[-4000:]}"
    assert "Traceback" not in log and "Exception ignored" not in log, log[-3000:]
    assert re.search(r"WARNING .*stopped with 2 fetched records .* the broker had not "
                     r"acknowledged .*fetched again at the next start", log), log[-3000:]


def test_a_running_fetcher_publishes_again_after_the_broker_restarts(
    server: ScriptedServer, tmp_path: Path,
) -> None:
    # The embedded broker forgets everything when it restarts, producer ids included: the
    # fetcher's idempotent producer then failed every send for good, its outbox growing.
    port = free_port()
    first = EmbeddedBroker(port=port, log_path=tmp_path / "broker1.log").start()
    settings = fetcher_settings(first.bootstrap, tmp_path)
    ensure_topics(settings)
    items: list[tuple[str, str]] = []
    process, published = start_wire_fetcher(server, settings, tmp_path, items)
    second: EmbeddedBroker | None = None
    try:
        wait_until(lambda: published() == 2, 60, "the first two articles")
        first.stop()
        second = EmbeddedBroker(port=port, log_path=tmp_path / "broker2.log").start()
        ensure_topics(settings)  # as `newsflow broker` does at every start
        add_items(server, items, ["after-one", "after-two"])
        wait_until(lambda: published() == 4, 120, "the articles fetched after the restart")
        records = read_whole_topic(settings, settings.topic_raw, settings.topic_partitions)
    finally:
        process.stop()
        first.stop()
        if second is not None:
            second.stop()
    assert {r["url"].removeprefix(server.base_url) for r in records} == {
        "/after-one", "/after-two"}  # the restarted broker holds only what came after


def test_an_interrupted_fetch_once_exits_130_saying_so(
    server: ScriptedServer, tmp_path: Path,
) -> None:
    # A one-off run (cron) stopped before it finished must not look like a success.
    sources = write_sources(tmp_path / "sources.yaml", [
        {"id": "wire", "name": "Wire", "kind": "rss", "url": server.url("/feed")}])
    away = EmbeddedBroker(log_path=tmp_path / "broker.log")  # its port is chosen, never opened
    settings = Settings(kafka_bootstrap_servers=away.bootstrap, fetch_metrics_port=free_port(),
                        fetch_allow_networks="127.0.0.0/8", kafka_connect_timeout_seconds=120)
    process = ManagedProcess(["fetch", "--sources", str(sources), "--once"], settings,
                             tmp_path / "fetch.log").start()
    try:
        wait_until(lambda: "unreachable" in process.log(), 30, "the outage in the log")
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(30) == 130, process.log()[-2000:]
    finally:
        process.kill()
    assert process.log().rstrip().splitlines()[-1] == (
        "newsflow fetch: interrupted before the broker was reached; nothing was published")


def test_broker_unreachable_at_start_is_reported_and_retried(
    server: ScriptedServer, tmp_path: Path,
) -> None:
    items: list[tuple[str, str]] = []
    growing_feed(server, items)
    add_items(server, items, ["late-broker-story"])
    sources = write_sources(tmp_path / "sources.yaml", [
        {"id": "wire", "name": "Wire", "kind": "rss", "url": server.url("/feed")}])
    late = EmbeddedBroker(log_path=tmp_path / "broker.log")  # its port is chosen, not yet open
    suffix = uuid.uuid4().hex[:8]
    settings = Settings(kafka_bootstrap_servers=late.bootstrap, topic_raw=f"raw-{suffix}",
                        topic_fetcher_state=f"state-{suffix}", fetch_metrics_port=free_port(),
                        fetch_allow_networks="127.0.0.0/8", fetch_host_min_delay_seconds=0.0,
                        kafka_connect_timeout_seconds=60)  # --once waits this long, then exits 3
    process = ManagedProcess(["fetch", "--sources", str(sources), "--once"], settings,
                             tmp_path / "fetch.log").start()
    base = f"http://{settings.fetch_metrics_host}:{settings.fetch_metrics_port}"
    try:
        wait_until(lambda: get(base + "/healthz")[0] == 503, 30, "/healthz while the broker is away")
        assert json.loads(get(base + "/healthz")[1])["broker_available"] is False
        # The sources' series are there before the broker is: dashboards and alerts see what
        # the fetcher would poll, beside broker_available 0.
        exposed = get(base + "/metrics")[1]
        assert 'newsflow_fetcher_source_consecutive_failures{source="wire"} 0.0' in exposed
        assert 'newsflow_fetcher_articles_published_total{source="wire"} 0.0' in exposed
        assert "newsflow_fetcher_broker_available 0.0" in exposed
        wait_until(lambda: "unreachable" in process.log(), 30, "the outage in the log")
        assert process.alive()  # backing off, not crashed
        with late:
            assert process.wait(90) == 0, process.log()[-3000:]
            assert "published 1 raw articles" in process.log()
            records = read_whole_topic(settings, settings.topic_raw, settings.topic_partitions)
    finally:
        process.kill()
    assert [r["title"] for r in records] == ["Late Broker Story"]
