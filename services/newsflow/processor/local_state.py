"""The worker's data directory: one worker at a time, and a table store that matches the broker;
and the worker's internal topics with the partitions Faust needs.

All run before Faust starts. The lock turns a second worker on the same directory into one
clear line (RocksDB would refuse its lock file deep inside Faust, with a long traceback). The
store check (``table_store_check``) discards a store built from a changelog the broker no
longer holds, so Faust recovers the table from the changelog the broker has. The internal
topics (the prepared hand-over and the table's changelog, one partition each) are created, and
created again when they cannot serve (``recreate_reason``: made by a broker with another
partition count, or holding records written before they existed that cannot be read).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from newsflow.config import Settings
from newsflow.errors import BrokerUnavailable, ConfigError, DataDirInUse
from newsflow.processor import metrics
from newsflow.processor.table_store_check import (
    ChangelogOnBroker,
    Stale,
    StoreOnDisk,
    stale_store,
)
from newsflow.retry import Backoff, Retry
from newsflow.topics import unreadable_partitions

log = logging.getLogger(__name__)
LOCK_FILE = "worker.lock"
CHANGELOG_RECORD = "newsflow-changelog.json"  # beside the stores it describes
FAUST_OFFSET_KEY = b"__faust\0offset__"  # where Faust's RocksDB store keeps its offset


def lock_data_dir(data_dir: Path) -> TextIO:
    """Hold the directory for this process (released when it exits, however it exits); the
    caller keeps the returned file open for as long as the worker runs."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        handle = open(data_dir / LOCK_FILE, "a+", encoding="utf-8")  # noqa: SIM115 - held open
    except OSError as exc:  # read-only file system, no permission, a file in the way
        raise ConfigError(f"NEWSFLOW_WORKER_DATA_DIR: cannot use {data_dir}: "
                          f"{exc.strerror or exc}") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "unknown"
        handle.close()
        raise DataDirInUse(
            f"data directory {data_dir} is in use by another worker (pid {owner}); give each "
            f"worker on this machine its own NEWSFLOW_WORKER_DATA_DIR") from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
    except OSError as exc:  # a full disk: the worker could not keep its table there either
        with contextlib.suppress(OSError):  # closing flushes the same bytes again
            handle.close()
        raise ConfigError(f"NEWSFLOW_WORKER_DATA_DIR: cannot write to {data_dir}: "
                          f"{exc.strerror or exc}") from None
    return handle


def recreate_reason(partitions: int, wanted: int, unreadable: Sequence[int]) -> str | None:
    """Why the worker's internal topic must be deleted and created again, or None.

    Another partition count: a broker that creates a topic when a client first writes to it
    (the embedded one) makes it with its default count, and Faust stops at the first table
    write (``PartitionsMismatch``). Records reported that cannot be read, in a topic just
    created (``topics.unreadable_partitions``): the first write there would fail, and a
    changelog's recovery would wait for ever for the record it was told of."""
    if partitions != wanted:
        return (f"it has {partitions} partitions, the worker needs {wanted} (made by a broker "
                f"that creates topics on first use)")
    if unreadable:
        return ("it held records written before it was created, which cannot be read (a "
                "worker wrote to it while the embedded broker restarted)")
    return None


def internal_topic(admin: KafkaAdminClient, settings: Settings, topic: str, partitions: int,
                   configs: dict[str, str],
                   unreadable: Callable[[Mapping[str, int]], dict[str, list[int]]],
                   recreated: set[str]) -> None:
    """Create the topic if missing; delete one that cannot serve (``recreate_reason``, with a
    WARNING line once per topic in ``recreated``) and raise LookupError, for the caller's retry
    to create it again."""
    try:
        admin.create_topics([NewTopic(topic, partitions, settings.topic_replication_factor,
                                      topic_configs=configs)])
        created_now = True
    except TopicAlreadyExistsError:
        created_now = False
    described = admin.describe_topics([topic])
    if not described or described[0].get("error_code"):
        raise LookupError(f"topic {topic} not described yet: {described}")
    found = len(described[0].get("partitions") or [])
    why = recreate_reason(found, partitions,
                          unreadable({topic: found}).get(topic, []) if created_now else [])
    if why is None:
        return
    if topic not in recreated:
        recreated.add(topic)
        log.warning("recreating topic %s: %s; its records are dropped", topic, why)
    admin.delete_topics([topic])
    raise LookupError(f"topic {topic} deleted, to be created again: {why}")


def ensure_internal_topics(settings: Settings, topics: dict[str, tuple[int, dict[str, str]]],
                           ) -> None:
    """Create the worker's internal topics (name: partitions and configs), each able to serve
    (``recreate_reason``)."""
    timeout = settings.kafka_connect_timeout_seconds
    retry = Retry(Backoff(0.2, 1.0), retry_on=(KafkaError, LookupError), timeout=timeout)
    recreated: set[str] = set()

    def unreadable(found: Mapping[str, int]) -> dict[str, list[int]]:
        return unreadable_partitions(settings, found)

    def ensure() -> None:
        admin = KafkaAdminClient(client_id="newsflow-worker-admin",
                                 bootstrap_servers=settings.require_bootstrap(),
                                 **settings.kafka_client_options())
        try:
            for topic, (partitions, configs) in topics.items():
                internal_topic(admin, settings, topic, partitions, configs, unreadable,
                               recreated)
        finally:
            admin.close()

    try:
        retry.call(ensure)
    except (KafkaError, LookupError) as exc:
        raise BrokerUnavailable(f"cannot create the worker's topics at "
                                f"{settings.kafka_bootstrap_servers} ({exc})") from exc


def changelog_on_broker(settings: Settings, topic: str, partitions: int) -> ChangelogOnBroker:
    """Create the changelog if missing (as Faust would: compacted, the table's partitions),
    then read its identity and its end offset (partition 0: the table has one)."""
    timeout = settings.kafka_connect_timeout_seconds
    retry = Retry(Backoff(0.2, 1.0), retry_on=(KafkaError, LookupError), timeout=timeout)
    options = {"bootstrap_servers": settings.require_bootstrap(),
               **settings.kafka_client_options()}

    def topic_id() -> str | None:
        admin = KafkaAdminClient(client_id="newsflow-worker-admin", **options)
        try:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics([NewTopic(topic, partitions,
                                              settings.topic_replication_factor,
                                              topic_configs={"cleanup.policy": "compact"})])
            described = admin.describe_topics([topic])
        finally:
            admin.close()
        if not described or described[0].get("error_code"):
            raise LookupError(f"changelog {topic} not described yet: {described}")
        found: str | None = described[0].get("topic_id")
        return found

    def end_offset() -> int:
        consumer = KafkaConsumer(client_id="newsflow-worker-offsets", enable_auto_commit=False,
                                 **options)
        try:
            partition = TopicPartition(topic, 0)
            return int(consumer.end_offsets([partition])[partition])
        finally:
            consumer.close()

    try:
        return ChangelogOnBroker(topic, retry.call(topic_id), retry.call(end_offset))
    except (KafkaError, LookupError) as exc:  # LookupError: still not described at the timeout
        raise BrokerUnavailable(f"cannot read changelog {topic} at "
                                f"{settings.kafka_bootstrap_servers} ({exc})") from exc


def store_on_disk(tables_dir: Path, store_path: Path) -> StoreOnDisk:
    if not store_path.exists():
        return StoreOnDisk(exists=False, recorded_topic=None, recorded_topic_id=None,
                           persisted_offset=None)
    record = changelog_record(tables_dir / CHANGELOG_RECORD)
    try:
        offset = persisted_offset(store_path)
    except Exception as exc:  # rocksdict raises a bare Exception ("IO error: ...", "Corruption")
        log.info("cannot open the local table store %s: %s", store_path, exc)
        return StoreOnDisk(exists=True, recorded_topic=record.get("topic"),
                           recorded_topic_id=record.get("topic_id"), persisted_offset=None,
                           readable=False)
    return StoreOnDisk(exists=True, recorded_topic=record.get("topic"),
                       recorded_topic_id=record.get("topic_id"), persisted_offset=offset)


def changelog_record(path: Path) -> dict[str, Any]:
    """The record beside the store; empty if missing or unreadable (a power cut can leave it
    empty): the store is then discarded as unrecorded rather than stop every start."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def persisted_offset(store_path: Path) -> int | None:
    import rocksdict

    db = rocksdict.Rdict(str(store_path), access_type=rocksdict.AccessType.read_only())
    try:
        value = db.get(FAUST_OFFSET_KEY)
    finally:
        db.close()
    return None if value is None else int(value)


def reconcile_table_store(settings: Settings, changelog_topic: str, partitions: int,
                          tables_dir: Path, store_path: Path) -> Stale | None:
    """Discard the local store if it does not belong to the broker's changelog; record the
    changelog it will be built from. Returns why it was discarded (None: kept or absent)."""
    changelog = changelog_on_broker(settings, changelog_topic, partitions)
    return match_store_to(changelog, tables_dir, store_path)


def match_store_to(changelog: ChangelogOnBroker, tables_dir: Path,
                   store_path: Path) -> Stale | None:
    """``reconcile_table_store`` once the broker's side is known."""
    stale = stale_store(store_on_disk(tables_dir, store_path), changelog)
    if stale is not None:
        log.warning("discarding the local table store %s: %s; the table is recovered from "
                    "the broker's changelog", store_path, stale.detail)
        metrics.TABLE_STORE_DISCARDED.labels(stale.reason.value).inc()
        # This table's store only: the tables directory may hold other things (Faust's
        # APP_TABLEDIR can point anywhere, even at the data directory and its lock file).
        shutil.rmtree(store_path)
    tables_dir.mkdir(parents=True, exist_ok=True)
    record = {"topic": changelog.topic, "topic_id": changelog.topic_id}
    temporary = tables_dir / f"{CHANGELOG_RECORD}.tmp"
    temporary.write_text(json.dumps(record), encoding="utf-8")
    temporary.replace(tables_dir / CHANGELOG_RECORD)
    return stale
