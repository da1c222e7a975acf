"""Publishing raw articles with kafka-python: acks=all, idempotent, keyed by article id."""

from __future__ import annotations

import json
import logging
from typing import Any

from kafka import KafkaProducer
from kafka.producer.future import FutureRecordMetadata

from newsflow.config import Settings

log = logging.getLogger(__name__)


class Publisher:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.producer = KafkaProducer(
            bootstrap_servers=settings.require_bootstrap(),
            client_id="newsflow-fetcher",
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            retries=2**31 - 1,
            delivery_timeout_ms=120_000,
            **settings.kafka_client_options(),
        )

    def publish(self, record: dict[str, Any]) -> FutureRecordMetadata:
        """Send one raw article; the returned future resolves when the broker acknowledged it."""
        value = json.dumps(record, ensure_ascii=False).encode("utf-8")
        future: FutureRecordMetadata = self.producer.send(
            self.settings.topic_raw, key=record["id"].encode("utf-8"), value=value
        )
        return future

    def flush(self, timeout_seconds: float | None = None) -> None:
        self.producer.flush(timeout=timeout_seconds)

    def close(self) -> None:
        self.producer.close()
