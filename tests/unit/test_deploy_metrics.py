"""The worker's metrics layer: Faust's sensor output made conventional, lag, table sizes, readiness.

Uses Faust's real ``FaustMetrics`` and monitor hooks on private registries (no broker), and
``promtool check metrics`` as the judge of conventions.
"""

from __future__ import annotations

import shutil
import subprocess
from types import SimpleNamespace
from typing import Any

import pytest
from faust.sensors.prometheus import FaustMetrics
from faust.types import TP
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric

from newsflow.processor.faust_prometheus import (
    FAMILIES,
    SOURCE_PREFIX,
    ConventionalFaustMetrics,
)
from newsflow.processor.sensor import NewsflowMonitor, WorkerStateCollector, is_ready

pytestmark = pytest.mark.clock


def exposition(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode()


def sensor() -> tuple[CollectorRegistry, FaustMetrics, CollectorRegistry]:
    private = CollectorRegistry()
    faust_metrics = FaustMetrics.create(private, SOURCE_PREFIX)
    public = CollectorRegistry()
    public.register(ConventionalFaustMetrics(private))
    return private, faust_metrics, public


def sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in output")


def test_every_faust_family_is_mapped() -> None:
    private, _, _ = sensor()
    created = {family.name.removeprefix(SOURCE_PREFIX + "_") for family in private.collect()}
    assert created == set(FAMILIES), "faust-streaming changed its metric set: update FAMILIES"


def test_milliseconds_become_seconds_and_counters_get_one_total() -> None:
    _, faust_metrics, public = sensor()
    faust_metrics.producer_send_latency.observe(250.0)  # Faust observes milliseconds
    faust_metrics.total_events.inc(3)
    faust_metrics.total_sent_messages.inc()
    text = exposition(public)
    assert "_total_total" not in text
    assert "_ms" not in text and "latency_ms" not in text
    assert sample(text, "newsflow_faust_events_total") == 3
    assert sample(text, "newsflow_faust_messages_sent_total") == 1
    assert sample(text, "newsflow_faust_producer_send_latency_seconds_sum") == 0.25
    assert 'newsflow_faust_producer_send_latency_seconds_bucket{le="0.25"} 1.0' in text
    assert 'newsflow_faust_producer_send_latency_seconds_bucket{le="0.1"} 0.0' in text
    assert 'newsflow_faust_producer_send_latency_seconds_bucket{le="+Inf"} 1.0' in text
    assert "# TYPE newsflow_faust_producer_send_latency_seconds histogram" in text
    assert "metrics_by_name" not in text  # never populated by Faust: not published


def test_faust_label_decorations_are_removed() -> None:
    _, faust_metrics, public = sensor()
    faust_metrics.topic_messages_sent.labels(topic="topic.news.raw.v1").inc()
    faust_metrics.table_operations.labels(table="table.dedupe-memory",
                                          operation="keys_updated").inc()
    faust_metrics.total_events_per_stream.labels(stream="stream.topic_news_raw_v1.events").inc()
    text = exposition(public)
    assert 'newsflow_faust_topic_messages_sent_total{topic="news.raw.v1"} 1.0' in text
    assert 'table="dedupe-memory"' in text
    assert 'newsflow_faust_stream_events_total{stream="topic_news_raw_v1"} 1.0' in text


def test_promtool_finds_no_convention_problems_where_faust_alone_has_them() -> None:
    private, faust_metrics, public = sensor()
    faust_metrics.total_events.inc()
    faust_metrics.events_runtime_latency.observe(12.0)
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: run `make deploy-tools`"

    def lint(text: str) -> str:
        result = subprocess.run([promtool, "check", "metrics"], input=text, text=True,
                                capture_output=True, timeout=60, check=False)
        return result.stdout + result.stderr

    assert lint(exposition(public)).strip() == ""
    assert lint(exposition(private)).strip() != ""  # the raw sensor output is what we fix


def fake_app(tables: dict[str, Any] | None = None, *, rebalancing: bool = False,
             in_recovery: bool = False) -> Any:
    return SimpleNamespace(tables=tables or {}, rebalancing=rebalancing, in_recovery=in_recovery,
                           rebalancing_count=1)


def monitor() -> NewsflowMonitor:
    return NewsflowMonitor(FaustMetrics.create(CollectorRegistry(), "probe"))


def test_lag_in_messages_and_seconds_per_partition() -> None:
    mon = monitor()
    behind, caught_up, fresh = TP("raw", 0), TP("raw", 1), TP("raw", 2)
    mon.tp_end_offsets.update({behind: 120, caught_up: 50, fresh: 9})
    mon.tp_committed_offsets.update({behind: 100, caught_up: 50})
    mon.tp_read_offsets.update({behind: 104, caught_up: 49, fresh: 4})  # fresh: no commit yet
    mon.last_read_timestamp.update({behind: 1000.0, caught_up: 1500.0, fresh: 1990.0})
    registry = CollectorRegistry()
    registry.register(WorkerStateCollector(fake_app({"dedupe-memory": {"a": 1, "b": 2}}), mon,
                                           clock=lambda: 2000.0))
    text = exposition(registry)
    lag = 'newsflow_processor_consumer_lag_messages{partition="%d",topic="raw"} %s'
    assert lag % (0, "20.0") in text  # end - committed
    assert lag % (1, "0.0") in text
    assert lag % (2, "4.0") in text  # end - (last read + 1) before the first commit
    seconds = 'newsflow_processor_consumer_lag_seconds{partition="%d",topic="raw"} %s'
    assert seconds % (0, "1000.0") in text
    assert seconds % (1, "0.0") in text  # caught up: no lag, however old the last message
    assert seconds % (2, "10.0") in text
    assert 'newsflow_processor_table_keys{table="dedupe-memory"} 2.0' in text


def test_rebalance_clears_positions_and_counts() -> None:
    from newsflow.processor import metrics

    mon = monitor()
    mon.last_read_timestamp[TP("raw", 0)] = 5.0
    before = metrics.REBALANCES._value.get()
    app = fake_app()
    state = mon.on_rebalance_start(app)
    assert metrics.REBALANCES._value.get() == before + 1
    assert mon.last_read_timestamp == {}
    assert is_ready(app, mon) == (False, "waiting for the first partition assignment")
    mon.on_rebalance_return(app, state)
    mon.on_rebalance_end(app, state)
    assert is_ready(app, mon) == (True, "ready")


def test_readiness_is_false_while_rebalancing_or_recovering() -> None:
    mon = monitor()
    mon.rebalanced_once = True
    assert is_ready(fake_app(), mon)[0] is True
    assert is_ready(fake_app(rebalancing=True), mon) == (False, "rebalancing")
    assert is_ready(fake_app(in_recovery=True), mon) == (False, "recovering tables")


def exposed_name(family: Metric) -> str:
    return family.name + "_total" if family.type == "counter" else family.name


def test_every_metric_and_alert_is_documented_in_the_readme() -> None:
    import yaml
    from prometheus_client.metrics import MetricWrapperBase

    from newsflow.fetcher import metrics as fetcher_metrics
    from newsflow.processor import metrics as worker_metrics
    from tests.helpers import REPO

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    names: set[str] = set()
    for module in (worker_metrics, fetcher_metrics):
        for value in vars(module).values():
            if isinstance(value, MetricWrapperBase):
                names.update(exposed_name(family) for family in value.describe())
    assert "newsflow_fetcher_fetches_total" in names and "newsflow_processor_ready" in names
    names.update(family.name for family in WorkerStateCollector(fake_app(), monitor()).collect())
    _, _, public = sensor()
    names.update(exposed_name(family) for family in public.collect())
    alerts = yaml.safe_load((REPO / "deploy" / "prometheus" / "alerts.yml").read_text())
    names.update(rule["alert"] for group in alerts["groups"] for rule in group["rules"])
    missing = sorted(name for name in names if f"`{name}" not in readme)
    assert not missing, f"not in the README: {missing}"
