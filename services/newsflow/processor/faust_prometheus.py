"""Faust's Prometheus sensor, made to follow Prometheus conventions.

faust-streaming's ``FaustMetrics`` observes latencies in milliseconds, names counters
``total_events`` (exposed as ``..._total_events_total``), uses gauges named ``total_rebalances``
for "in progress", and prefixes label values (``topic.news.raw.v1``). Rather than expose that,
the sensor writes into a private registry and this collector re-publishes every family under a
conventional name: seconds instead of milliseconds, one ``_total`` per counter, plain label
values. The mapping is explicit so an upgrade that adds a family shows up in the unit tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

SOURCE_PREFIX = "newsflow_faust_raw"  # the sensor's own (private) prefix
TARGET_PREFIX = "newsflow_faust"


@dataclass(frozen=True, slots=True)
class Target:
    name: str  # without prefix and without the counter's _total
    kind: str  # counter | gauge | histogram
    help: str
    ms_to_seconds: bool = False


# Faust family (after the prefix) -> what we publish. None: dropped (never populated by Faust).
FAMILIES: dict[str, Target | None] = {
    "messages_received": Target("messages_received", "counter", "Messages received from Kafka."),
    "active_messages": Target("active_messages", "gauge", "Messages received and not yet acked."),
    "messages_received_per_topic": Target(
        "topic_messages_received", "counter", "Messages received, by topic."),
    "messages_received_per_topics_partition": Target(
        "topic_partition_read_offset", "gauge", "Offset of the last message read, by partition."),
    "events_runtime_ms": Target(
        "event_processing_seconds", "histogram", "Time an agent spent on one event.", True),
    "total_events": Target("events", "counter", "Events delivered to streams."),
    "total_active_events": Target("active_events", "gauge", "Events being processed now."),
    "total_events_per_stream": Target("stream_events", "counter", "Events, by stream."),
    "table_operations": Target(
        "table_operations", "counter", "Table key reads, updates and deletes, by table."),
    "topic_messages_sent": Target("topic_messages_sent", "counter", "Messages sent, by topic."),
    "total_sent_messages": Target("messages_sent", "counter", "Messages the producer sent."),
    "producer_send_latency": Target(
        "producer_send_latency_seconds", "histogram", "Producer send latency.", True),
    "total_error_messages_sent": Target(
        "messages_send_errors", "counter", "Messages the producer failed to send."),
    "producer_error_send_latency": Target(
        "producer_error_send_latency_seconds", "histogram", "Latency of failed sends.", True),
    "assignment_operations": Target(
        "assignments", "counter", "Partition assignments, by outcome (completed, error)."),
    "assign_latency": Target(
        "assignment_latency_seconds", "histogram", "Partition assignment latency.", True),
    "total_rebalances": Target("rebalances_in_progress", "gauge", "Rebalances in progress."),
    "total_rebalances_recovering": Target(
        "rebalances_recovering", "gauge", "Rebalances whose table recovery is in progress."),
    "rebalance_done_consumer_latency": Target(
        "rebalance_consumer_latency_seconds", "histogram",
        "Time from rebalance start to the consumer's reply.", True),
    "rebalance_done_latency": Target(
        "rebalance_latency_seconds", "histogram", "Time from rebalance start to its end.", True),
    "metrics_by_name": None,
    "http_status_codes": Target("http_responses", "counter", "Web responses, by status code."),
    "http_latency": Target("http_latency_seconds", "histogram", "Web response latency.", True),
    "topic_partition_end_offset": Target(
        "topic_partition_end_offset", "gauge", "End offset (high water mark), by partition."),
    "topic_partition_offset_commited": Target(
        "topic_partition_committed_offset", "gauge", "Committed offset, by partition."),
    "consumer_commit_latency": Target(
        "consumer_commit_latency_seconds", "histogram", "Offset commit latency.", True),
}

# Faust decorates label values; the plain name is what a dashboard wants to show.
_LABEL_DECORATIONS = {"topic": ("topic.", ""), "table": ("table.", ""),
                      "stream": ("stream.", ".events")}


def _plain(labels: dict[str, str]) -> dict[str, str]:
    out = dict(labels)
    for label, (head, tail) in _LABEL_DECORATIONS.items():
        value = out.get(label)
        if value is not None:
            value = value.removeprefix(head)
            out[label] = value.removesuffix(tail) if tail else value
    return out


def translate(family: Metric) -> Metric | None:
    """One Faust family under its conventional name and units; None if it is not published."""
    base = family.name.removeprefix(SOURCE_PREFIX + "_")
    if base == family.name or base not in FAMILIES:
        return family  # not the sensor's: leave it alone
    target = FAMILIES[base]
    if target is None:
        return None
    name = f"{TARGET_PREFIX}_{target.name}"
    out = Metric(name, target.help, target.kind)
    for sample in family.samples:
        suffix = sample.name[len(family.name):]
        labels = _plain(sample.labels)
        value = sample.value
        if target.ms_to_seconds:
            if suffix == "_bucket" and labels.get("le") not in (None, "+Inf"):
                labels["le"] = repr(float(labels["le"]) / 1000.0)
            elif suffix == "_sum":
                value = value / 1000.0
        out.samples.append(sample._replace(name=name + suffix, labels=labels, value=value))
    return out


class ConventionalFaustMetrics(Collector):
    """Re-publishes the sensor's private registry with conventional names and units."""

    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        for family in self.source.collect():
            translated = translate(family)
            if translated is not None:
                yield translated
