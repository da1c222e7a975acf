"""Settings -> a Faust app with the worker's Kafka settings, in one place.

The worker (``processor/app.py``) adds its topics and agents to it; ``benchmarks/pipeline.py``
builds its forward-only agent from it too, so the plumbing limit runs on the same settings.
"""

from __future__ import annotations

import ssl
from typing import Any

import faust
from faust.types import TP

from newsflow.config import Settings
from newsflow.processor.cleared_buffers import RereadingFlowControl
from newsflow.processor.fetch_wait import FetchWaitConsumer, FetchWaitTransport


def broker_credentials(settings: Settings) -> Any:
    """Faust's form of the SASL/TLS settings every kafka-python client gets too."""
    protocol = settings.kafka_security_protocol.upper()
    if protocol == "PLAINTEXT":
        return None
    context = ssl.create_default_context(cafile=settings.kafka_ssl_cafile)
    if protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username, password=settings.kafka_sasl_password,
            mechanism=settings.kafka_sasl_mechanism or "PLAIN",
            ssl_context=context if protocol == "SASL_SSL" else None)
    return faust.SSLCredentials(context)


# RocksDB's memory for the dedupe-memory table, whatever the window holds: two 4 MB write
# buffers and a 4 MB block cache (Faust's defaults, 3 x 64 MB and 2 GB, would let a rebuild's
# full read of the table fill gigabytes). The table is written once per article (a 4 MB buffer
# is still minutes of a busy stream) and read only by the pop of an expired article (random
# keys: a larger cache would seldom hit) and in full when the index is rebuilt after a
# recovery (a sequential read), so small buffers cost nothing. The 16 MB each before cost the
# worker ~25 B per remembered article more at a 1M window (``docs/dedupe.md``).
ROCKSDB_TABLE_OPTIONS: dict[str, int] = {
    "write_buffer_size": 4 * 1024 * 1024,
    "max_write_buffer_number": 2,
    "block_cache_size": 4 * 1024 * 1024,
    "block_cache_compressed_size": 0,
}


def table_options(settings: Settings) -> dict[str, Any]:
    """Options for the worker's tables: the store's own (a fresh dict each time: Faust's
    RocksDB store pops keys from the dict it is given)."""
    return dict(ROCKSDB_TABLE_OPTIONS) if settings.worker_table_store == "rocksdb://" else {}


def new_faust_app(settings: Settings) -> faust.App:
    """An app without topics or agents. Records are bytes both ways: codecs are ours."""
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
        web_bind=settings.worker_web_host,  # else Faust listens on every interface
        web_port=settings.worker_web_port,
        datadir=str(settings.worker_data_dir),
        store=settings.worker_table_store,
        table_cleanup_interval=60.0,
    )
    # Set before anything asks the app for its transport (its first topic does).
    app.transport = FetchWaitTransport(app.conf.broker_consumer, app,
                                       fetch_max_wait_ms=settings.worker_fetch_max_wait_ms)
    # Before any stream buffer exists: each one registers with the app's flow control.
    app.flow_control = RereadingFlowControl(lambda lowest: _cleared(app, lowest))
    return app


def _cleared(app: faust.App, lowest: dict[TP, int]) -> None:
    consumer = app.consumer
    if isinstance(consumer, FetchWaitConsumer):
        consumer.reread_cleared(lowest)
