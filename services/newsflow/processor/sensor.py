"""Worker metrics wiring: Faust's Prometheus sensor, lag and table sizes, one ``/metrics`` page.

Faust's sensor records into a private registry; ``faust_prometheus`` re-publishes it with
conventional names. What Faust does not measure (lag in messages and seconds, table sizes,
rebalance count, readiness) is derived here from the monitor and the app at scrape time, so it
is always current and costs nothing between scrapes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import faust
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP, AppT, Message
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from newsflow.processor import metrics
from newsflow.processor.faust_prometheus import SOURCE_PREFIX, ConventionalFaustMetrics


class NewsflowMonitor(PrometheusMonitor):
    """Faust's Prometheus monitor, plus what readiness and lag in seconds need."""

    def __init__(self, faust_metrics: FaustMetrics, **kwargs: Any) -> None:
        super().__init__(metrics=faust_metrics, **kwargs)
        self.last_read_timestamp: dict[TP, float] = {}  # broker timestamp of the last read
        self.rebalanced_once = False  # True once a rebalance (and its recovery) completed

    def on_message_in(self, tp: TP, offset: int, message: Message) -> None:
        super().on_message_in(tp, offset, message)
        if message.timestamp is not None:
            self.last_read_timestamp[tp] = message.timestamp

    def on_rebalance_start(self, app: AppT) -> dict[Any, Any]:
        metrics.REBALANCES.inc()
        self.last_read_timestamp.clear()  # partitions may move: forget the old positions
        return super().on_rebalance_start(app)

    def on_rebalance_end(self, app: AppT, state: dict[Any, Any]) -> None:
        super().on_rebalance_end(app, state)
        self.rebalanced_once = True


def is_ready(app: AppT, monitor: NewsflowMonitor) -> tuple[bool, str]:
    """Ready: the first assignment completed, and no rebalance or table recovery is running."""
    if not monitor.rebalanced_once:
        return False, "waiting for the first partition assignment"
    if app.rebalancing:
        return False, "rebalancing"
    if app.in_recovery:
        return False, "recovering tables"
    return True, "ready"


class WorkerStateCollector(Collector):
    """Consumer lag per topic partition and table sizes, read from the app when scraped."""

    def __init__(self, app: AppT, monitor: NewsflowMonitor,
                 clock: Callable[[], float] = time.time) -> None:
        self.app = app
        self.monitor = monitor
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        lag = GaugeMetricFamily(
            "newsflow_processor_consumer_lag_messages",
            "Messages in the partition after this worker's committed position.",
            labels=["topic", "partition"])
        lag_seconds = GaugeMetricFamily(
            "newsflow_processor_consumer_lag_seconds",
            "While behind: age of the last message read (broker timestamp); 0 when caught up.",
            labels=["topic", "partition"])
        now = self.clock()
        for tp, end in sorted(self.monitor.tp_end_offsets.items()):
            # Kafka's definition: end offset minus the committed position (Faust commits the
            # next offset to read); before the first commit, the position after the last read.
            position = self.monitor.tp_committed_offsets.get(tp)
            if position is None:
                read = self.monitor.tp_read_offsets.get(tp)
                if read is None:
                    continue
                position = read + 1
            behind = max(0, end - position)
            labels = [tp.topic, str(tp.partition)]
            lag.add_metric(labels, behind)
            read_at = self.monitor.last_read_timestamp.get(tp)
            lag_seconds.add_metric(labels, max(0.0, now - read_at) if behind and read_at else 0.0)
        yield lag
        yield lag_seconds
        tables = GaugeMetricFamily("newsflow_processor_table_keys",
                                   "Keys held in a Faust table (this worker's copy).",
                                   labels=["table"])
        for name, table in sorted(self.app.tables.items()):
            tables.add_metric([name], len(table))
        yield tables


def install_metrics(app: faust.App, registry: CollectorRegistry = REGISTRY) -> NewsflowMonitor:
    """Attach the monitor to ``app`` and serve ``registry`` on the worker's ``/metrics``."""
    private = CollectorRegistry(auto_describe=True)
    monitor = NewsflowMonitor(FaustMetrics.create(private, SOURCE_PREFIX))
    app.monitor = monitor
    registry.register(ConventionalFaustMetrics(private))
    registry.register(WorkerStateCollector(app, monitor))
    metrics.READY.set_function(lambda: float(is_ready(app, monitor)[0]))

    @app.page("/metrics")
    async def metrics_page(self: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        # aiohttp refuses a charset in content_type=, so the header is set as is.
        return self.bytes(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    return monitor
