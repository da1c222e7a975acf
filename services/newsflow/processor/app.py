"""Faust wiring: two agents around the pure core.

``prepare`` (stateless, one task per partition of news.raw.v1) decodes, validates, cleans,
tags and fingerprints; it forwards to a single-partition internal topic. ``dedupe`` (stateful)
reads that topic, so every candidate meets every other whatever worker or partition an article
came from, and keeps its memory in a changelog-backed table. Cleaning is the expensive part and
scales with partitions; the dedupe step is cheap (see benchmarks/pipeline.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any

import faust
from faust.types import EventT

from newsflow import PIPELINE_VERSION
from newsflow.config import Settings
from newsflow.core.dates import parse_datetime
from newsflow.core.dedupe import DedupeIndex, Memory
from newsflow.core.pipeline import Origin, Prepared
from newsflow.pipeline_setup import build_pipeline
from newsflow.processor import metrics
from newsflow.processor.prepare_pool import PreparePool
from newsflow.records import DeadLetter

log = logging.getLogger(__name__)
PREPARED_KEY = b"dedupe"


def _json(record: dict[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode("utf-8")


def broker_credentials(settings: Settings) -> Any:
    """Faust's form of the SASL/TLS settings every kafka-python client gets too."""
    protocol = settings.kafka_security_protocol.upper()
    if protocol == "PLAINTEXT":
        return None
    import ssl

    context = ssl.create_default_context(cafile=settings.kafka_ssl_cafile)
    if protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username, password=settings.kafka_sasl_password,
            mechanism=settings.kafka_sasl_mechanism or "PLAIN",
            ssl_context=context if protocol == "SASL_SSL" else None)
    return faust.SSLCredentials(context)


def create_app(settings: Settings) -> faust.App:
    bootstrap = settings.require_bootstrap()
    app = faust.App(
        settings.app_id,
        broker=";".join(f"kafka://{server}" for server in bootstrap.split(",")),
        broker_credentials=broker_credentials(settings),
        broker_session_timeout=settings.broker_session_timeout_seconds,
        broker_heartbeat_interval=settings.broker_heartbeat_interval_seconds,
        producer_max_batch_size=settings.producer_max_batch_size,
        producer_max_request_size=settings.max_message_bytes,
        consumer_max_fetch_size=settings.max_message_bytes,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,
        key_serializer="raw",
        value_serializer="raw",
        web_host=settings.worker_web_host,
        web_port=settings.worker_web_port,
        datadir=str(settings.worker_data_dir),
        store="memory://",
        table_cleanup_interval=60.0,
    )
    pipeline = build_pipeline(settings)
    parts = settings.topic_partitions
    raw_topic = app.topic(settings.topic_raw, partitions=parts)
    prepared_topic = app.topic(f"{settings.app_id}-prepared", partitions=1, internal=True)
    outputs = {
        "articles": app.topic(settings.topic_articles, partitions=parts),
        "duplicates": app.topic(settings.topic_duplicates, partitions=parts),
        "stories": app.topic(settings.topic_stories, partitions=parts),
    }
    deadletter_topic = app.topic(settings.topic_deadletter, partitions=parts)
    memory_table = app.Table("dedupe-memory", partitions=1, key_type=bytes, value_type=bytes)
    state: dict[str, DedupeIndex | None] = {"index": None}
    # Cleaning runs in child processes: off the event loop (heartbeats keep flowing), on other
    # cores, and under a per-page time limit.
    prepare_pool = PreparePool(settings)

    @app.on_before_shutdown.connect
    async def _stop_children(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        await asyncio.to_thread(prepare_pool.close)

    async def dead_letter(letter: DeadLetter, key: bytes | None) -> None:
        metrics.DEAD_LETTERS.labels(letter.stage, letter.error_type).inc()
        log.warning("dead letter (%s): %s: %s", letter.stage, letter.error_type,
                    letter.error_message[:200])
        await deadletter_topic.send(key=key, value=_json(letter.to_dict(PIPELINE_VERSION)))

    @app.agent(raw_topic, concurrency=settings.prepare_processes)
    async def prepare(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            message = event.message
            origin = Origin(message.topic, message.partition, message.offset)
            metrics.ARTICLES_IN.labels("prepare").inc()
            with metrics.STAGE_SECONDS.labels("prepare").time():
                result = await prepare_pool.prepare(message.key, event.value, origin)
            if isinstance(result, DeadLetter):
                await dead_letter(result, message.key)
                continue
            for rule, count in result.article["removed_lines"].items():
                metrics.REMOVED_LINES.labels(rule).inc(count)
            await prepared_topic.send(key=PREPARED_KEY, value=result.to_json())

    def current_index() -> DedupeIndex:
        index = state["index"]
        if index is None:
            index = pipeline.new_index()
            index.restore([Memory.from_dict(json.loads(v)) for v in memory_table.values()])
            log.info("dedupe index rebuilt from table: %d articles", len(index))
            state["index"] = index
        return index

    @memory_table.on_recover
    async def _recovered() -> None:
        state["index"] = None  # rebuilt lazily from the recovered table

    async def decide(event: EventT[bytes]) -> None:
        prepared = Prepared.from_json(event.value)
        index = current_index()
        now = datetime.now(UTC)
        with metrics.STAGE_SECONDS.labels("dedupe").time():
            memory, emissions = pipeline.decide(prepared, index, now)
            memory_table[memory.fingerprint.id.encode()] = _json(memory.to_dict())
            for expired in index.expired_ids():
                index.forget(expired)
                memory_table.pop(expired.encode(), None)
        if memory.fingerprint.seen_at != prepared.fingerprint.seen_at:
            early = prepared.fingerprint.seen_at > memory.fingerprint.seen_at
            metrics.REFILED.labels("future" if early else "late").inc()
        for emission in emissions:
            await outputs[emission.topic].send(key=emission.key.encode(),
                                               value=_json(emission.record))
            metrics.EMITTED.labels(emission.topic).inc()
            if emission.topic == "duplicates":
                metrics.DUPLICATES.labels(emission.record["level"],
                                          emission.record["method"]).inc()
            elif emission.topic == "articles":
                observe_article(emission.record, now)
        metrics.DEDUPE_MEMORY.set(len(index))
        metrics.STORIES.set(len(index.stories))

    def observe_article(record: dict[str, Any], now: datetime) -> None:
        for tag in record["tags"]:
            metrics.TAGS.labels(tag["name"]).inc()
        for since in ("fetched", "published"):
            moment = parse_datetime(record.get(f"{since}_at"))
            if moment is not None:
                metrics.FRESHNESS.labels(since).observe(max(0.0, (now - moment).total_seconds()))

    @app.agent(prepared_topic)
    async def dedupe(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            metrics.ARTICLES_IN.labels("dedupe").inc()
            try:
                await decide(event)
            except Exception as exc:  # a poisoned record must not stop the stream
                message = event.message
                log.exception("dedupe failed")
                await dead_letter(DeadLetter(
                    "dedupe", type(exc).__name__, str(exc), message.topic, message.partition,
                    message.offset, message.key, event.value), message.key)

    return app


def run_worker(settings: Settings, loglevel: str = "info") -> int:
    from faust.worker import Worker

    from newsflow.processor.health import install_health
    from newsflow.processor.sensor import install_metrics
    from newsflow.topics import ensure_topics

    ensure_topics(settings, settings.kafka_connect_timeout_seconds)
    # Faust creates its data directory without parents: a fresh folder has no .newsflow/ yet.
    settings.worker_data_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(settings)
    install_health(app, install_metrics(app))  # /metrics, /healthz, /readyz
    worker = Worker(app, loglevel=loglevel, quiet=True)
    worker.execute_from_commandline()
    return 0
