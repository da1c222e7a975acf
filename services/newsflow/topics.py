"""Kafka plumbing shared by every adapter: topic declaration and client options."""

from __future__ import annotations

import logging

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from newsflow.config import Settings
from newsflow.errors import BrokerUnavailable
from newsflow.retry import Backoff, Retry

log = logging.getLogger(__name__)


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


def ensure_topics(settings: Settings, timeout_seconds: float = 30.0) -> list[str]:
    """Create the project's topics if missing; return the names created now."""
    retry = Retry(Backoff(0.2, 1.0), retry_on=(KafkaError,), timeout=timeout_seconds)
    try:
        admin = retry.call(lambda: KafkaAdminClient(
            bootstrap_servers=settings.require_bootstrap(), client_id="newsflow-admin",
            **settings.kafka_client_options()))
    except KafkaError as exc:
        raise BrokerUnavailable(f"no broker at {settings.kafka_bootstrap_servers} after "
                                f"{timeout_seconds:.0f} s ({exc})") from exc
    created = []
    try:
        existing = set(admin.list_topics())
        for name, partitions in topic_partitions(settings).items():
            if name in existing:
                continue
            try:
                configs = topic_configs(settings).get(name)
                admin.create_topics([NewTopic(name, partitions, settings.topic_replication_factor,
                                              topic_configs=configs)])
                created.append(name)
            except TopicAlreadyExistsError:
                pass
            except KafkaError as exc:
                raise RuntimeError(f"cannot create topic {name}: {exc}") from exc
    finally:
        admin.close()
    if created:
        log.info("created topics: %s", ", ".join(created))
    return created
