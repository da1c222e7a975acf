"""Observability end to end: a real Prometheus scrapes a real fetcher and worker on 127.0.0.1.

The broker, the bundled sample site (plus a broken feed), `newsflow fetch` looping, `newsflow
worker` and a Prometheus server with its own temporary config and our alert rules all run as
real processes. After articles, duplicates and a dead letter went through, every PromQL
expression of the dashboard and the alert rules must parse, every dashboard query must return
data, both `/metrics` pages must pass `promtool check metrics`, and the health pages must answer.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from kafka import KafkaProducer

from newsflow.broker import EmbeddedBroker, free_port
from newsflow.config import Settings
from newsflow.sample_site import SampleSite
from tests.helpers import (
    REPO,
    ManagedProcess,
    Route,
    TopicReader,
    ago,
    isolated_settings,
    listening_addresses,
    raw_record,
    write_sources,
)
from tests.integration.fetcher_servers import ScriptedServer

pytestmark = [pytest.mark.integration, pytest.mark.clock]

DEPLOY = REPO / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "newsflow.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
# What Grafana would put in place of the dashboard's variables for this Prometheus.
VARIABLES = {"$__rate_interval": "1m", "$source": ".*"}
T = TypeVar("T")


def poll_until(probe: Callable[[], T | None], timeout: float, what: str,
               describe: Callable[[], str] = lambda: "") -> T:
    """Re-check ``probe`` until it returns a value, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}. {describe()}")
        pause.wait(0.5)  # between probes of an HTTP API; the deadline bounds the wait


def http_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


class Prometheus:
    """A real Prometheus server on a free 127.0.0.1 port with its own config and storage."""

    def __init__(self, tmp: Path, targets: dict[str, str], rules: Path) -> None:
        binary = shutil.which("prometheus")
        assert binary, "prometheus is missing: run `make deploy-tools`"
        self.port = free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(rules)],
            "scrape_configs": [{"job_name": job, "static_configs": [{"targets": [target]}]}
                               for job, target in targets.items()],
        }
        config_path = tmp / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.log_path = tmp / "prometheus.log"
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child
        self.process = subprocess.Popen(
            [binary, f"--config.file={config_path}", f"--storage.tsdb.path={tmp / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.base = f"http://127.0.0.1:{self.port}"

    def api(self, path: str, **params: str) -> dict[str, Any]:
        query = urllib.parse.urlencode(params)
        status, body = http_get(f"{self.base}/api/v1/{path}?{query}")
        if not body:
            return {"status": "unreachable", "code": status}
        data: dict[str, Any] = json.loads(body)
        return data

    def query(self, expr: str) -> dict[str, Any]:
        return self.api("query", query=expr)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, expression with the variables substituted) for every dashboard target."""
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    queries = []
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable, value in VARIABLES.items():
                expr = expr.replace(variable, value)
            assert "$" not in expr, f"unsubstituted variable in {panel['title']}: {expr}"
            queries.append((panel["title"], expr))
    return queries


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"]]


def has_data(result: dict[str, Any]) -> bool:
    """A successful query with at least one sample that is a number (not NaN)."""
    if result.get("status") != "success":
        return False
    data = result["data"]
    if data["resultType"] == "scalar":
        return not math.isnan(float(data["result"][1]))
    samples = [s["value"][1] for s in data["result"]] if data["resultType"] == "vector" else []
    return any(not math.isnan(float(value)) for value in samples)


class Trickle:
    """Keeps articles flowing while the test looks at rates: every half second a new article
    and an exact copy of it, every fifth time also a message that cannot decode. Rates and
    percentiles over a window need observations inside that window, as in production."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.producer = KafkaProducer(bootstrap_servers=settings.require_bootstrap(), acks="all")
        self.stopped = threading.Event()
        self.sent = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped.is_set():
            n = self.sent
            record = json.dumps(raw_record(
                f"Dock workers in port number {n} unloaded {n * 7 % 90 + 10} containers of "
                f"grain on shift {n}, the harbour master's office said in its bulletin.",
                url=f"https://example.org/harbour/{n}", title=f"Harbour bulletin {n}",
                published_at=ago(hours=6))).encode()
            items = [(f"h{n}".encode(), record), (f"h{n}-copy".encode(), record)]
            if n % 5 == 0:
                items.append((b"garbage", b"\xff not json"))
            for key, value in items:
                self.producer.send(self.settings.topic_raw, key=key, value=value)
            self.producer.flush()
            self.sent += 1
            self.stopped.wait(0.5)  # pacing of the traffic, not synchronisation

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(10)
        self.producer.close()


def declared_metric_names() -> set[str]:
    """Every sample name the fetcher's and worker's metric objects can expose."""
    from prometheus_client.metrics import MetricWrapperBase

    from newsflow.fetcher import metrics as fetcher_metrics
    from newsflow.processor import metrics as worker_metrics

    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
    names: set[str] = set()
    for module in (fetcher_metrics, worker_metrics):
        for value in vars(module).values():
            if isinstance(value, MetricWrapperBase):
                for family in value.describe():
                    names.update(family.name + suffix
                                 for suffix in suffixes.get(family.type, [""]))
    return names


def promtool_check_metrics(text: str) -> str:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: run `make deploy-tools`"
    result = subprocess.run([promtool, "check", "metrics"], input=text, text=True,
                            capture_output=True, timeout=60, check=False)
    return (result.stdout + result.stderr).strip()


@pytest.fixture
def obs_settings(broker: EmbeddedBroker, tmp_path: Path) -> Settings:
    # The fetcher's state topic is isolated too, so no other test's "seen" set hides articles.
    return isolated_settings(broker.bootstrap, tmp_path,
                             topic_fetcher_state=f"fetcher-state-{uuid.uuid4().hex[:8]}",
                             fetch_host_min_delay_seconds=0.05)


@pytest.fixture
def stack(obs_settings: Settings, tmp_path: Path, server: ScriptedServer
          ) -> Iterator[dict[str, Any]]:
    site = SampleSite(port=0).start()
    server.routes["/broken.xml"] = Route(404, b"gone fishing")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "harbour.txt").write_text(
        "Harbour office reopens\nThe harbour office reopened its doors on Monday after a "
        "month of repairs to the roof, the port authority said.\n", encoding="utf-8")
    sources = write_sources(tmp_path / "sources.yaml", [
        {"id": "sample-wire", "name": "Sample wire", "kind": "rss", "url": site.feed_url,
         "poll_interval_seconds": 1},
        {"id": "broken-wire", "name": "Broken wire", "kind": "rss",
         "url": server.url("/broken.xml"), "poll_interval_seconds": 1},
        {"id": "inbox", "name": "Inbox", "kind": "directory", "path": str(inbox),
         "poll_interval_seconds": 1},
    ])
    worker = ManagedProcess(["worker"], obs_settings, tmp_path / "worker.log").start()
    fetcher = ManagedProcess(["fetch", "--sources", str(sources)], obs_settings,
                             tmp_path / "fetcher.log").start()
    worker_url = f"127.0.0.1:{obs_settings.worker_web_port}"
    fetcher_url = f"127.0.0.1:{obs_settings.fetch_metrics_port}"
    prometheus = Prometheus(tmp_path, {"newsflow-worker": worker_url,
                                       "newsflow-fetcher": fetcher_url}, ALERTS)
    try:
        yield {"worker": worker, "fetcher": fetcher, "prometheus": prometheus,
               "worker_url": f"http://{worker_url}", "fetcher_url": f"http://{fetcher_url}"}
    finally:
        prometheus.stop()
        fetcher.stop()
        worker.stop()
        site.stop()


def test_prometheus_scrapes_the_pipeline_and_every_dashboard_query_has_data(
    obs_settings: Settings, stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    prometheus: Prometheus = stack["prometheus"]
    worker: ManagedProcess = stack["worker"]
    fetcher: ManagedProcess = stack["fetcher"]

    # The worker becomes ready once it holds its partitions; liveness answers meanwhile too.
    def ready() -> bool | None:
        status, body = http_get(stack["worker_url"] + "/readyz")
        return True if status == 200 and json.loads(body)["ready"] is True else None

    poll_until(ready, 90, "worker /readyz", lambda: worker.log()[-2000:])
    assert http_get(stack["worker_url"] + "/healthz")[0] == 200
    # NEWSFLOW_WORKER_WEB_HOST defaults to loopback: the pages are not served on every
    # interface (Faust binds 0.0.0.0 unless told otherwise).
    assert listening_addresses(obs_settings.worker_web_port) == {"127.0.0.1"}

    # Beside the sample site's feed: a steady trickle of articles, exact copies and garbage.
    trickle = Trickle(obs_settings)
    request.addfinalizer(trickle.stop)
    reader = TopicReader(obs_settings, ["articles", "duplicates", "deadletter"])
    try:
        records = reader.wait_for(
            lambda r: len(r["articles"]) >= 8 and len(r["duplicates"]) >= 3
            and len(r["deadletter"]) >= 1
            and any(a["source"]["id"] == "sample-wire" for a in r["articles"]), 180,
            "sample-site articles, trickled articles, duplicates and a dead letter")
    finally:
        reader.close()
    assert {d["level"] for d in records["duplicates"]} >= {"exact"}

    # Both targets are scraped.
    def targets_up() -> bool | None:
        active = prometheus.api("targets").get("data", {}).get("activeTargets", [])
        healthy = {t["labels"]["job"] for t in active if t["health"] == "up"}
        return True if healthy == {"newsflow-worker", "newsflow-fetcher"} else None

    poll_until(targets_up, 60, "both scrape targets up",
               lambda: json.dumps(prometheus.api("targets"))[:2000] + prometheus.log())
    assert listening_addresses(obs_settings.fetch_metrics_port) == {"127.0.0.1"}  # the same

    # Every expression parses (a parse error is a 400 "bad_data" answer).
    expressions = [expr for _, expr in dashboard_queries()] + [r["expr"] for r in alert_rules()]
    for expr in expressions:
        answer = prometheus.query(expr)
        assert answer.get("status") == "success", f"{expr}: {answer}"

    # Prometheus loaded every alert rule and evaluates it without error.
    def rules_evaluated() -> list[dict[str, Any]] | None:
        groups = prometheus.api("rules").get("data", {}).get("groups", [])
        loaded = [rule for group in groups for rule in group["rules"]]
        evaluated = [r for r in loaded if r.get("lastEvaluation", "").startswith("0001") is False]
        return loaded if len(evaluated) == len(alert_rules()) else None

    loaded = poll_until(rules_evaluated, 30, "alert rules evaluated")
    assert {r["name"] for r in loaded} == {r["alert"] for r in alert_rules()}
    assert all(r["health"] == "ok" for r in loaded), [(r["name"], r.get("lastError"))
                                                      for r in loaded]

    # Every dashboard query returns data (waits for scrapes to cover the activity).
    queries = dashboard_queries()
    missing: list[str] = []

    def all_have_data() -> bool | None:
        missing[:] = [f"{title}: {expr}" for title, expr in queries
                      if not has_data(prometheus.query(expr))]
        return True if not missing else None

    poll_until(all_have_data, 120, "every dashboard query to return data",
               lambda: "missing:\n" + "\n".join(missing) + "\nfetcher log:\n"
               + fetcher.log()[-1500:])
    # The directory source's file was read once, then skipped as unchanged by later polls.
    def directory_counts() -> dict[str, float] | None:
        counts = {sample["metric"]["outcome"]: float(sample["value"][1]) for sample in
                  prometheus.query('newsflow_fetcher_directory_files_total{source="inbox"}')
                  ["data"]["result"]}
        return counts if counts.get("unchanged", 0) >= 1 else None

    counted = poll_until(directory_counts, 60, "a poll that skipped the unchanged file")
    assert counted["read"] == 1, counted

    # Every metric an alert or panel names exists (a misspelt name would parse and silently
    # never fire): scraped now, or declared by the code (labelled counters appear only once
    # counted). The poll-interval metric is optional (see NewsflowSourceStale).
    known = set(prometheus.api("label/__name__/values")["data"]) | declared_metric_names()
    named = set(re.findall(r"\bnewsflow_[a-z_]+", " ".join(expressions)))
    assert named - known <= {"newsflow_fetcher_source_poll_interval_seconds"}

    # The dashboard's source variable lists the configured sources.
    labels = prometheus.api("label/source/values",
                            **{"match[]": "newsflow_fetcher_source_consecutive_failures"})
    assert {"sample-wire", "broken-wire", "inbox"} <= set(labels["data"])

    # Both /metrics pages follow Prometheus conventions.
    for name in ("worker_url", "fetcher_url"):
        status, body = http_get(stack[name] + "/metrics")
        assert status == 200
        text = body.decode()
        assert "_total_total" not in text
        assert promtool_check_metrics(text) == "", f"{name}: {promtool_check_metrics(text)}"

    # The container health check (deploy/healthcheck.py) finds both services' health pages.
    spec = importlib.util.spec_from_file_location("healthcheck", DEPLOY / "healthcheck.py")
    assert spec and spec.loader
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    monkeypatch.setenv("NEWSFLOW_WORKER_WEB_PORT", str(obs_settings.worker_web_port))
    monkeypatch.setenv("NEWSFLOW_FETCH_METRICS_PORT", str(obs_settings.fetch_metrics_port))
    for command in ([b"newsflow", b"worker"], [b"newsflow", b"fetch", b"--sources", b"s.yaml"]):
        status, body = http_get(check.target(command))
        assert status == 200, (command, body)
    assert worker.alive() and fetcher.alive()
