"""Faust wiring: two agents around the pure core.

``prepare`` (stateless, one task per partition of news.raw.v1) decodes, validates, cleans,
tags and fingerprints; it forwards to a single-partition internal topic (``codecs.internal``:
the article, its fingerprint and the original raw message). ``dedupe`` (stateful)
reads that topic, so every candidate meets every other whatever worker or partition an article
came from, and keeps its memory in a changelog-backed table. Cleaning is the expensive part and
scales with partitions; the dedupe step is cheap (see benchmarks/pipeline.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import faust

from newsflow.codecs import DEAD_LETTERS
from newsflow.config import Settings
from newsflow.core.dates import parse_datetime
from newsflow.core.tagging import Topic
from newsflow.errors import ConfigError, PreparePoolClosed, TableWriteFailed
from newsflow.log_budget import WINDOW_SECONDS, LogBudget, client_log_filter
from newsflow.pipeline_setup import build_pipeline, build_tagger
from newsflow.processor import metrics
from newsflow.processor.bounded_stop import exit_at_once
from newsflow.processor.broker_reset import (
    ResetGuard,
    TopicWatch,
    reap_inherited_children,
    start_afresh,
    stop_before_exec,
)
from newsflow.processor.faust_app import new_faust_app, table_options
from newsflow.processor.fetch_wait import FetchWaitTransport
from newsflow.processor.index_rebuild import IndexRebuild
from newsflow.processor.prepare_pool import PreparePool
from newsflow.processor.stages import decide_message, dedupe_original
from newsflow.records import DeadLetter, RawMessage, letter_key

log = logging.getLogger(__name__)
PREPARED_KEY = b"dedupe"  # one partition: the key only names the hand-over
MEMORY_TABLE = "dedupe-memory"
MEMORY_TABLE_PARTITIONS = 1  # one dedupe stage: every candidate meets every other
PREPARED_PARTITIONS = 1  # the dedupe stage's input: the table's partitions
# A dead letter's WARNING line: the first 20 a minute, then one line with the count
# (log_budget.py; the Kafka client's own lines have a budget there too).
DEAD_LETTER_LOG_LINES = 20


@contextmanager
def table_write(article_id: str) -> Iterator[None]:
    """The store's own errors (rocksdict raises plain Exception) as TableWriteFailed: only the
    table write itself is wrapped, so a bug elsewhere is still one record's dead letter."""
    try:
        yield
    except Exception as exc:
        raise TableWriteFailed(f"the dedupe memory table could not be written "
                               f"({type(exc).__name__}: {exc}; article {article_id})") from exc


def _stopped_before_restart(signal_name: str) -> NoReturn:
    """Nothing was committed since the topics were lost: the stop loses nothing."""
    exit_at_once(f"newsflow worker: stopped by {signal_name}, which came while the worker was "
                 f"to start afresh (the broker lost its topics)", status=0)


def prepared_topic_name(settings: Settings) -> str:
    return f"{settings.app_id}-prepared"


def create_app(settings: Settings,
               on_lost_topics: Callable[[Sequence[str]], NoReturn] | None = None,
               topics: tuple[Topic, ...] | None = None) -> faust.App:
    """``on_lost_topics``: called (after the preparing children are stopped) when the broker no
    longer holds a topic the worker reads, or holds one created again (``broker_reset.py``);
    the worker process starts afresh there. None: not checked. ``topics``: the taxonomy, when
    the caller has loaded it already (else loaded here)."""
    app = new_faust_app(settings)
    pipeline = build_pipeline(settings, topics)
    parts = settings.topic_partitions
    raw_topic = app.topic(settings.topic_raw, partitions=parts)
    prepared_topic = app.topic(prepared_topic_name(settings), partitions=PREPARED_PARTITIONS,
                               internal=True)
    outputs = {
        "articles": app.topic(settings.topic_articles, partitions=parts),
        "duplicates": app.topic(settings.topic_duplicates, partitions=parts),
        "stories": app.topic(settings.topic_stories, partitions=parts),
    }
    deadletter_topic = app.topic(settings.topic_deadletter, partitions=parts)
    # The stream topics' re-read counts exist from the start at 0, so that a dashboard's
    # increase() over them has data before the first re-read (processor/fetch_wait.py).
    for stream_topic in (raw_topic, prepared_topic):
        for cause in metrics.REREAD_CAUSES:
            metrics.SKIPPED_REREAD.labels(stream_topic.get_topic_name(), cause)
    memory_table = app.Table(MEMORY_TABLE, partitions=MEMORY_TABLE_PARTITIONS, key_type=bytes,
                             value_type=bytes, options=table_options(settings))
    rebuilt = IndexRebuild(pipeline.new_index, memory_table.values)
    # Cleaning runs in child processes: off the event loop (heartbeats keep flowing), on other
    # cores, and under a per-page time limit.
    prepare_pool = PreparePool(settings, pipeline.tagger.topics)

    @app.on_before_shutdown.connect
    async def _stop_children(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        await asyncio.to_thread(prepare_pool.close)

    if on_lost_topics is not None:
        watch = TopicWatch(settings, [raw_topic.get_topic_name(), prepared_topic.get_topic_name(),
                                      memory_table.changelog_topic.get_topic_name()])

        def _lost(lost: Sequence[str]) -> NoReturn:
            # Blocking: nothing else runs until the worker starts afresh, or stops when it was
            # asked to meanwhile (nothing was committed: the stop loses nothing).
            stop_before_exec(prepare_pool.close, _stopped_before_restart)
            on_lost_topics(lost)

        transport = app.transport
        assert isinstance(transport, FetchWaitTransport)
        transport.topic_guard = ResetGuard(watch, _lost)

    dead_letter_log = LogBudget(DEAD_LETTER_LOG_LINES, WINDOW_SECONDS, time.monotonic)

    def report_held_back(count: int) -> None:
        if count:
            log.warning("%d more dead letters were not logged in the last %.0f s "
                        "(newsflow_processor_dead_letters_total counts every one)",
                        count, WINDOW_SECONDS)

    client_log = client_log_filter("aiokafka", log, time.monotonic)
    client_log.install("aiokafka")

    @app.timer(interval=WINDOW_SECONDS)
    async def _report_held_back_dead_letters() -> None:
        report_held_back(dead_letter_log.roll())
        client_log.flush()
        client_log.install("aiokafka")  # again: for loggers of modules imported since

    @app.on_before_shutdown.connect
    async def _report_held_back_at_stop(sender: Any, /, *args: Any, signal: Any,
                                        **kwargs: Any) -> None:
        report_held_back(dead_letter_log.roll(final=True))
        client_log.flush(final=True)

    async def dead_letter(letter: DeadLetter) -> None:
        metrics.DEAD_LETTERS.labels(letter.stage, letter.error_type).inc()
        logged, held_back = dead_letter_log.spend()
        report_held_back(held_back)
        if logged:
            log.warning("dead letter (%s): %s: %s", letter.stage, letter.error_type,
                        letter.error_message[:200])
        value = DEAD_LETTERS.encode_letter(letter, settings.max_message_bytes)
        if letter.value is not None and len(value) < len(letter.value):  # sent without it
            log.warning("dead letter for %s partition %s offset %s sent without its original "
                        "(%d bytes): too large to copy under NEWSFLOW_MAX_MESSAGE_BYTES",
                        letter.topic, letter.partition, letter.offset, len(letter.value))
        await deadletter_topic.send(key=letter_key(letter.key), value=value)

    @app.agent(raw_topic, concurrency=settings.prepare_processes)
    async def prepare(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            message = event.message
            raw = RawMessage(message.topic, message.partition, message.offset, message.key,
                             event.value)
            metrics.ARTICLES_IN.labels("prepare").inc()
            try:
                with metrics.STAGE_SECONDS.labels("prepare").time():
                    result = await prepare_pool.prepare(raw)
            except PreparePoolClosed as exc:  # shutting down: this record is not ours to end
                # The stream acks the event when this agent ends, and the consumer commits an
                # offset only once every holder of its message has acked it: holding one more
                # keeps the offset uncommitted, so the record is read again after a restart.
                message.incref()
                log.info("%s; left uncommitted, to be read again after a restart", exc)
                return
            if isinstance(result, DeadLetter):
                await dead_letter(result)
                continue
            for rule, count in result.removed_lines.items():
                metrics.REMOVED_LINES.labels(rule).inc(count)
            await prepared_topic.send(key=PREPARED_KEY, value=result.value)

    @memory_table.on_recover
    async def _recovered() -> None:
        rebuilt.invalidate()  # rebuilt from the recovered table, in a thread, when next needed

    async def decide(value: bytes | None) -> None:
        index = await rebuilt.get()
        now = datetime.now(UTC)
        with metrics.STAGE_SECONDS.labels("dedupe").time():
            decided = decide_message(pipeline, index, value, now)
            memory = decided.memory
            if decided.memory_value is not None:  # None: the table holds the id's memory
                with table_write(memory.fingerprint.id):
                    memory_table[memory.fingerprint.id.encode()] = decided.memory_value
            for expired in pipeline.evict(index):  # the core's own errors stay dead letters
                with table_write(expired):
                    memory_table.pop(expired.encode(), None)
        fetched_at = decided.record.prepared.fingerprint.seen_at
        # An undated record is filed at the newest time by rule (``Pipeline.decide``): no clock
        # to fix, so not counted as a late or future one.
        dated = decided.record.prepared.article.get("fetched_at") is not None
        if dated and memory.fingerprint.seen_at != fetched_at:
            early = fetched_at > memory.fingerprint.seen_at
            metrics.REFILED.labels("future" if early else "late").inc()
        for emission, encoded in decided.outputs:
            await outputs[emission.topic].send(key=emission.key.encode(), value=encoded)
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
                await decide(event.value)
            except TableWriteFailed as exc:
                # Not this record's fault: dead-lettering it would divert every record after
                # it too (a full disk), and the index now holds a decision the table lacks. The
                # worker exits at once, committing nothing more (an orderly stop would wait on
                # this record, and write the table again): started again once the disk is
                # fixed, it reads this record, and any decided since the last commit, again.
                exit_at_once(f"newsflow worker: {exc}")
            except Exception as exc:  # a poisoned record must not stop the stream
                log.exception("dedupe failed")
                message = event.message
                # The dead letter carries the raw input (key, bytes, raw topic position), as
                # every stage's does.
                original = dedupe_original(event.value, RawMessage(
                    message.topic, message.partition, message.offset, message.key, event.value))
                await dead_letter(DeadLetter.of(original, "dedupe", type(exc).__name__,
                                                str(exc)))

    return app


def run_worker(settings: Settings, loglevel: str = "info") -> int:
    from newsflow.broker import ensure_port_free
    from newsflow.processor.bounded_stop import BoundedStopWorker
    from newsflow.processor.health import install_health
    from newsflow.processor.local_state import (
        ensure_internal_topics,
        lock_data_dir,
        reconcile_table_store,
    )
    from newsflow.processor.malloc import pin_mmap_threshold
    from newsflow.processor.sensor import install_metrics
    from newsflow.topics import ensure_topics

    pin_mmap_threshold()  # before the index allocates: see processor/malloc.py
    reap_inherited_children()  # after a start afresh (broker_reset.py): none left a zombie
    # What this machine must offer is checked before the broker is asked for anything.
    ensure_port_free(settings.worker_web_host, settings.worker_web_port,
                     "NEWSFLOW_WORKER_WEB_PORT", "NEWSFLOW_WORKER_WEB_HOST")
    # Faust creates its data directory without parents: a fresh folder has no .newsflow/ yet.
    try:
        settings.worker_data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file in the way, no permission
        raise ConfigError(f"NEWSFLOW_WORKER_DATA_DIR: cannot use {settings.worker_data_dir} as a "
                          f"directory: {exc.strerror or exc}") from None
    # The taxonomy too: a malformed overlay is a configuration error (exit 2) whether or not
    # the broker is up, not one found only once it answers.
    topics = build_tagger(settings).topics
    ensure_topics(settings)
    on_disk = settings.worker_table_store == "rocksdb://"
    # Held until the process exits (the name keeps the file open); before anything starts.
    data_dir_lock = lock_data_dir(settings.worker_data_dir) if on_disk else None  # noqa: F841
    app = create_app(settings, on_lost_topics=start_afresh, topics=topics)
    table: Any = app.tables[MEMORY_TABLE]  # a Table: its store (``data``) knows its path
    changelog = table.changelog_topic.get_topic_name()
    ensure_internal_topics(settings, {
        prepared_topic_name(settings): (PREPARED_PARTITIONS, {}),
        changelog: (MEMORY_TABLE_PARTITIONS, {"cleanup.policy": "compact"})})
    if on_disk:
        reconcile_table_store(settings, changelog, MEMORY_TABLE_PARTITIONS,
                              Path(app.conf.tabledir), Path(table.data.partition_path(0)))
    install_health(app, install_metrics(app))  # /metrics, /healthz, /readyz
    worker = BoundedStopWorker(app, loglevel=loglevel, quiet=True,
                               stop_timeout_seconds=settings.worker_stop_timeout_seconds)
    worker.execute_from_commandline()
    return 0
