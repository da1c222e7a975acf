"""Kafka plumbing shared by every adapter: topic declaration, and reading a topic back in
full."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from newsflow.config import Settings
from newsflow.errors import BrokerUnavailable
from newsflow.retry import Backoff, Retry
from newsflow.tls_probe import require_tls_answer

log = logging.getLogger(__name__)
SENTINEL_PREFIX = b"sentinel:"


def topic_configs(settings: Settings) -> dict[str, dict[str, str]]:
    """Topic configs set at creation. Compacted: topics whose latest value per key is the
    state — the fetcher's state, and the story roll-up (one record per story id, each a whole
    roll-up). Brokers that do not enforce compaction (Tansu) accept the setting."""
    compact = {"cleanup.policy": "compact"}
    return {settings.topic_fetcher_state: dict(compact), settings.topic_stories: dict(compact)}


def topic_partitions(settings: Settings) -> dict[str, int]:
    """Every topic the project writes, with an explicit partition count.

    Auto-created topics get a broker default that breaks Faust's co-partitioning check, so
    nothing is left to auto-creation.
    """
    parts = settings.topic_partitions
    return {
        settings.topic_raw: parts,
        settings.topic_articles: parts,
        settings.topic_duplicates: parts,
        settings.topic_deadletter: parts,
        settings.topic_stories: parts,
        # One partition: the fetcher reads its state back to a sentinel it wrote (fetcher/state.py).
        settings.topic_fetcher_state: 1,
    }


def ensure_topics(settings: Settings, timeout_seconds: float | None = None) -> list[str]:
    """Create the project's topics if missing; return the names created now. Gives up after
    ``timeout_seconds`` without a broker (default: ``NEWSFLOW_KAFKA_CONNECT_TIMEOUT_SECONDS``)."""
    if timeout_seconds is None:
        timeout_seconds = settings.kafka_connect_timeout_seconds
    retry = Retry(Backoff(0.2, 1.0), retry_on=(KafkaError,), timeout=timeout_seconds)
    def new_admin() -> KafkaAdminClient:
        require_tls_answer(settings, min(5.0, timeout_seconds))
        return KafkaAdminClient(
            bootstrap_servers=settings.require_bootstrap(), client_id="newsflow-admin",
            # The client's own bootstrap wait (30 s by default) would outlast a shorter timeout.
            bootstrap_timeout_ms=max(1000, int(timeout_seconds * 1000)),
            **settings.kafka_client_options())

    try:
        admin = retry.call(new_admin)
    except KafkaError as exc:
        raise BrokerUnavailable(f"no broker at {settings.kafka_bootstrap_servers} after "
                                f"{timeout_seconds:.0f} s ({exc})") from exc
    created = []
    wanted = topic_partitions(settings)
    try:
        existing = set(admin.list_topics())
        for name, partitions in wanted.items():
            if name in existing:
                continue
            try:
                create_topic(admin, settings, name, partitions)
                created.append(name)
            except TopicAlreadyExistsError:
                pass
            except KafkaError as exc:
                raise RuntimeError(f"cannot create topic {name}: {exc}") from exc
        try:
            unreadable = unreadable_partitions(settings, {name: wanted[name] for name in created})
        except KafkaError as exc:  # a check of a broker quirk: never a reason to stop here
            log.info("could not check the topics created for unreadable records: %s", exc)
            unreadable = {}
        for name, unread in unreadable.items():
            log.warning("topic %s held records written before it was created, which cannot be "
                        "read (partitions %s; a client wrote to it while the embedded broker "
                        "restarted), and the first write there would fail: created again",
                        name, ", ".join(map(str, unread)))
            try:
                recreate_topic(admin, settings, name, wanted[name], timeout_seconds)
            except KafkaError as exc:
                raise RuntimeError(f"cannot create topic {name} again: {exc}") from exc
    finally:
        admin.close()
    if created:
        log.info("created topics: %s", ", ".join(created))
    return created


def create_topic(admin: KafkaAdminClient, settings: Settings, name: str,
                 partitions: int) -> None:
    admin.create_topics([NewTopic(name, partitions, settings.topic_replication_factor,
                                  topic_configs=topic_configs(settings).get(name))])


def recreate_topic(admin: KafkaAdminClient, settings: Settings, name: str, partitions: int,
                   timeout_seconds: float) -> None:
    """Delete the topic and create it again (a broker may take a moment to finish deleting)."""
    admin.delete_topics([name])
    retry = Retry(Backoff(0.1, 1.0), retry_on=(TopicAlreadyExistsError,),
                  timeout=timeout_seconds)
    retry.call(lambda: create_topic(admin, settings, name, partitions))


def unreadable_partitions(settings: Settings, topics: Mapping[str, int],
                          wait_seconds: float = 2.0) -> dict[str, list[int]]:
    """For topics just created (name: partitions), the partitions that report records of which
    none can be read.

    Why: the embedded broker (Tansu 0.6.0) accepts a write to a topic it does not have, from a
    client that knew the topic before the broker restarted (a worker's or fetcher's producer
    sending again what it could not send while the broker was away), and keeps the record where
    the topic's first record goes once the topic is created. The topic then reports a record no
    fetch returns, and its first real write there fails (the producer gets "UnknownError", the
    record is lost; a table's changelog recovery waits for ever for the record it was told of).
    Deleted and created again, the topic is whole. Any other broker returns the records it
    reports, so nothing is found there. Reads only partitions that report records."""
    if not topics:
        return {}
    consumer = KafkaConsumer(bootstrap_servers=settings.require_bootstrap(),
                             enable_auto_commit=False, client_id="newsflow-topic-check",
                             fetch_max_wait_ms=100, **settings.kafka_client_options())
    try:
        partitions = [TopicPartition(name, p) for name, count in topics.items()
                      for p in range(count)]
        ends = consumer.end_offsets(partitions)
        reported = [tp for tp in partitions if ends.get(tp)]
        if not reported:
            return {}
        consumer.assign(reported)
        consumer.seek_to_beginning(*reported)
        unread = set(reported)
        deadline = time.monotonic() + wait_seconds
        while unread and time.monotonic() < deadline:
            for tp, messages in consumer.poll(timeout_ms=200).items():
                if messages:
                    unread.discard(TopicPartition(tp.topic, tp.partition))
        # Only a partition the broker answered for (a fetch response gives its high
        # watermark) and still returned nothing from: one a slow broker has not answered for
        # yet is readable as far as anyone knows, and deleting it would drop its records.
        answered = {tp for tp in unread if consumer.highwater(tp) is not None}
        if unread - answered:
            log.info("no answer in %.0f s about %d partitions just created; left as they are",
                     wait_seconds, len(unread - answered))
        unread = answered
    finally:
        consumer.close()
    found: dict[str, list[int]] = {}
    for tp in sorted(unread, key=lambda tp: (tp.topic, tp.partition)):
        found.setdefault(tp.topic, []).append(tp.partition)
    return found


def read_back(settings: Settings, producer: KafkaProducer, topic: str, partitions: Sequence[int],
              timeout_seconds: float, client_id: str = "newsflow-read-back") -> Iterator[Any]:
    """Every record of ``topic``'s ``partitions`` written before the call, known complete.

    A sentinel (key ``sentinel:<unique>``, no value) is written to each partition with
    ``producer``; the topic is read from the beginning until each partition reached the offset
    the broker acknowledged for its sentinel. End offsets are never trusted (under-reported on
    some brokers, see docs/architecture.md). Sentinels, this call's and earlier ones, are not
    yielded. Blocking (kafka-python); raises TimeoutError when ``timeout_seconds`` pass first.
    """
    deadline = time.monotonic() + timeout_seconds
    key = SENTINEL_PREFIX + uuid.uuid4().hex.encode()
    sent = {p: producer.send(topic, key=key, value=None, partition=p) for p in partitions}
    targets = {p: future.get(timeout=max(0.1, deadline - time.monotonic())).offset
               for p, future in sent.items()}
    consumer = KafkaConsumer(bootstrap_servers=settings.require_bootstrap(),
                             enable_auto_commit=False, client_id=client_id,
                             **settings.kafka_client_options())
    try:
        assigned = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        unread = set(partitions)
        while unread:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{topic}: sentinels at offsets {targets} not read back "
                                   f"within {timeout_seconds:g} s")
            for messages in consumer.poll(timeout_ms=int(min(remaining, 1.0) * 1000)).values():
                for message in messages:
                    if message.partition not in unread:
                        continue
                    if not (message.key or b"").startswith(SENTINEL_PREFIX):
                        yield message
                    if message.offset >= targets[message.partition]:
                        unread.discard(message.partition)
    finally:
        consumer.close()
