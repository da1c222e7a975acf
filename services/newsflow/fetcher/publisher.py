"""Publishing with kafka-python, and the outbox that makes delivery survive a broker outage.

Producer: acks=all, idempotent (the broker drops a batch the producer re-sends after a lost
ack), gzip compression, bounded blocking. A record counts as published only when the broker
acknowledged it. The ``Outbox`` holds fetched records until then: when the broker is
unreachable, failed sends go back to the front of the queue and are retried with backoff, so no
fetched article is lost and the polling loops are never blocked — only back-pressured once the
outbox is full.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaProducer
from kafka.errors import (
    InvalidRecordError,
    KafkaError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
)
from kafka.producer.future import FutureRecordMetadata

from newsflow.codecs import FETCHER_STATE
from newsflow.config import Settings, raw_record_limit
from newsflow.errors import BrokerUnavailable
from newsflow.fetcher import metrics
from newsflow.log_budget import WINDOW_SECONDS, client_log_filter
from newsflow.retry import Backoff, Retry
from newsflow.tls_probe import require_tls_answer

log = logging.getLogger(__name__)
BATCH = 500
# Errors about the record itself: sending it again cannot help, so it is dropped (and counted)
# instead of blocking the outbox. Every other error (broker away, leader moving, auth being
# fixed) keeps the record for another attempt.
RECORD_ERRORS = (MessageSizeTooLargeError, InvalidRecordError, TypeError, ValueError)
# The outbox's pause after a round the broker did not acknowledge, growing with the rounds.
OUTBOX_BACKOFF = Backoff(base=1.0, cap=30.0)
# How long a record may wait in the producer for its acknowledgement; then the outbox has it
# again and retries it (the producer's own retries end there). At least its request timeout.
DELIVERY_TIMEOUT_MS = 45_000
# Failed rounds in a row after which the producer is replaced (see Publisher.renew), or at once
# after a round whose records expired in it: a restarted broker that forgot the producer's id
# answers its every retry with an error until the delivery timeout.
RENEW_AFTER_FAILURES = 2
ACK_WAIT_SLICE_SECONDS = 0.5  # how soon the publish thread notices a close while it waits
# kafka-python's own lines on a budget (log_budget.py): until a producer that a restarted broker
# forgot is replaced, it logs a WARNING for every refused request, ten a second.
CLIENT_LOG = client_log_filter("kafka-python", log, time.monotonic)


def message_limit(settings: Settings) -> int:
    """The largest record the fetcher's producer sends, checked on the uncompressed record: a
    page up to the fetch cap must fit (the broker checks the compressed batch against its own
    message.max.bytes). Dead letters are cut to it (``DeadLetterCodec.encode_letter``)."""
    return raw_record_limit(settings.fetch_max_bytes)


class _Producer(KafkaProducer):  # type: ignore[misc]  # kafka-python has no type hints
    """A producer whose collection says nothing. kafka-python's close waits for every record the
    producer holds, whatever its timeout, and raises when they do not go: a producer the broker
    never acknowledged cannot be closed, and its ``__del__`` at the process's end printed a
    KafkaTimeoutError traceback after a clean stop."""

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            super().__del__()


def _close_quietly(producer: KafkaProducer) -> None:
    with contextlib.suppress(Exception):  # a producer being replaced has nothing left to say
        producer.close()


class Publisher:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        CLIENT_LOG.install("kafka")
        self.producer = self._new_producer()

    def _new_producer(self) -> KafkaProducer:
        settings = self.settings
        require_tls_answer(settings, min(5.0, settings.kafka_connect_timeout_seconds))
        return _Producer(
            bootstrap_servers=settings.require_bootstrap(),
            client_id="newsflow-fetcher",
            acks="all",
            enable_idempotence=True,
            compression_type="gzip",
            linger_ms=20,
            # send() waits at most this long for metadata when the broker is away; the outbox
            # then retries instead of blocking a thread indefinitely.
            max_block_ms=10_000,
            request_timeout_ms=30_000,
            delivery_timeout_ms=DELIVERY_TIMEOUT_MS,
            max_in_flight_requests_per_connection=5,
            max_request_size=message_limit(settings),
            # Topics are declared with explicit partitions (topics.py); never auto-created.
            allow_auto_create_topics=False,
            # Notice a returning broker within seconds, and report an absent one at start
            # (connect_publisher) instead of waiting in the constructor for half a minute; nor
            # longer than the connect timeout, which `fetch --once` names when it gives up.
            reconnect_backoff_max_ms=2_000,
            bootstrap_timeout_ms=max(1, int(min(5.0, settings.kafka_connect_timeout_seconds)
                                            * 1000)),
            **settings.kafka_client_options(),
        )

    def publish(self, topic: str, key: bytes | None, value: bytes) -> FutureRecordMetadata:
        """Send one encoded record (``newsflow.codecs``); the returned future resolves when the
        broker acknowledged it."""
        future: FutureRecordMetadata = self.producer.send(topic, key=key, value=value)
        return future

    def send_state(self, key: str, value: dict[str, Any] | None) -> FutureRecordMetadata:
        """One fetcher-state entry (None: a tombstone) to the compacted state topic."""
        future: FutureRecordMetadata = self.producer.send(
            self.settings.topic_fetcher_state, key=key.encode("utf-8"),
            value=FETCHER_STATE.encode(value), partition=0,
        )
        return future

    def renew(self) -> None:
        """A new producer in place of this one. A broker that restarts (and forgets producer
        ids) can leave kafka-python's idempotent producer failing every send for good; a new one
        starts afresh. Raises KafkaError while no broker answers: the old one is kept."""
        fresh = self._new_producer()
        old, self.producer = self.producer, fresh
        # Closed aside: kafka-python's close first waits for what the producer still holds
        # (state writes, which may yet go through), and any timeout shorter than that raises
        # before closing anything. Each record ends within the delivery timeout, then it closes.
        threading.Thread(target=_close_quietly, args=(old,), name="replaced-producer-close",
                         daemon=True).start()

    def flush(self, timeout_seconds: float | None = None) -> None:
        self.producer.flush(timeout=timeout_seconds)

    def close(self, timeout_seconds: float | None = None) -> bool:
        """Close; False when the broker did not acknowledge what the producer holds within
        ``timeout_seconds``: the producer is then left to the process's end (its threads are
        daemons), as kafka-python closes nothing it still holds."""
        try:
            self.producer.close(timeout=timeout_seconds)
        except KafkaError:
            return False
        return True


async def connect_publisher(settings: Settings, bounded: bool = True) -> Publisher:
    """A Publisher, retrying with backoff while the broker cannot be reached at start.

    ``bounded``: raise BrokerUnavailable after ``kafka_connect_timeout_seconds`` (a scheduled
    ``fetch --once`` must fail visibly); unbounded suits a long-running fetcher, which keeps
    retrying and reports the outage on /healthz and in its metrics meanwhile."""
    def retrying(error: BaseException, delay: float, tries: int) -> None:
        log.warning("broker %s unreachable (%s); retrying in %.1f s",
                    settings.kafka_bootstrap_servers, error, delay)
        metrics.BROKER_UP.set(0)

    retry = Retry(Backoff(0.5, 5.0), retry_on=(KafkaError,), before_sleep=retrying,
                  timeout=settings.kafka_connect_timeout_seconds if bounded else None)
    try:
        return await retry.acall(
            lambda: asyncio.get_running_loop().run_in_executor(None, Publisher, settings))
    except KafkaError as exc:
        raise BrokerUnavailable(f"no broker at {settings.kafka_bootstrap_servers} after "
                                f"{settings.kafka_connect_timeout_seconds:.0f} s ({exc})") from exc


@dataclass(slots=True)
class Pending:
    """A fetched record on its way to the broker, and the state to write once it is acked."""

    topic: str
    key: bytes | None
    value: bytes  # encoded (and validated) by its topic's codec
    label: str  # what the log calls it: the article's URL
    source: str
    state: list[tuple[str, dict[str, Any] | None]] = field(default_factory=list)
    on_ack: Callable[[], None] | None = None
    persist: bool = True  # False: remembered by this process only (directory sources)
    raw: bool = True  # a raw article (counted as published), or a dead letter


class Outbox:
    def __init__(self, settings: Settings, publisher: Publisher,
                 acked: Callable[[Pending], None],
                 dropped: Callable[[Pending], None] | None = None) -> None:
        self.settings = settings
        self.publisher = publisher
        self.acked = acked
        self.dropped = dropped or acked
        self.queue: deque[Pending] = deque()
        self.inflight = 0
        self.published = 0
        self.dropped_records: list[str] = []  # what the broker refused, for the run summary
        self.failures = 0  # consecutive failed rounds
        self.last_error: str | None = None
        self.changed: asyncio.Condition | None = None
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="fetcher-publish")
        # Set by close: the publish thread stops waiting for acks (the process could not end
        # while it waited, up to the delivery timeout, for a broker that is away).
        self.closing = threading.Event()
        self.task: asyncio.Task[None] | None = None
        self.log_timer: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.task is None:
            self.changed = asyncio.Condition()
            loop = asyncio.get_running_loop()
            self.task = loop.create_task(self._run(), name="outbox")
            self.log_timer = loop.create_task(self._report_client_log(), name="kafka-log-budget")

    @property
    def size(self) -> int:
        return len(self.queue) + self.inflight

    async def put(self, item: Pending) -> None:
        """Queue a record; waits (back-pressure) while the outbox is full."""
        assert self.changed is not None
        async with self.changed:
            await self.changed.wait_for(lambda: self.size < self.settings.fetch_outbox_max_records)
            self.queue.append(item)
            metrics.OUTBOX.set(self.size)
            self.changed.notify_all()

    async def drain(self, timeout_seconds: float) -> bool:
        """Wait until everything queued so far is acknowledged; False on timeout."""
        assert self.changed is not None
        async with self.changed:
            try:
                async with asyncio.timeout(timeout_seconds):
                    await self.changed.wait_for(lambda: self.size == 0)
            except TimeoutError:
                return False
        return True

    async def _run(self) -> None:
        assert self.changed is not None
        loop = asyncio.get_running_loop()
        while True:
            async with self.changed:
                await self.changed.wait_for(lambda: bool(self.queue))
                batch = [self.queue.popleft() for _ in range(min(BATCH, len(self.queue)))]
                self.inflight = len(batch)
            results = await loop.run_in_executor(self.executor, self._send, batch)
            failed = []
            for item, error in results:
                if error is None:
                    if item.raw:  # raw articles; dead letters are counted by the caller
                        self.published += 1
                        metrics.PUBLISHED.labels(item.source).inc()
                    self.acked(item)
                    continue
                metrics.PUBLISH_ERRORS.labels(item.source).inc()
                if isinstance(error, RECORD_ERRORS):
                    log.error("dropping %s from %s: the broker cannot take it (%s)",
                              item.label, item.source, error)
                    metrics.DROPPED.labels(item.source).inc()
                    self.dropped_records.append(f"{item.label}: {error}")
                    self.dropped(item)
                else:
                    failed.append(item)
                    self.last_error = str(error)
            async with self.changed:
                self.queue.extendleft(reversed(failed))  # keep their order, ahead of newer ones
                self.inflight = 0
                metrics.OUTBOX.set(self.size)
                self.changed.notify_all()
            if failed:
                self.failures += 1
                metrics.BROKER_UP.set(0)
                delay = OUTBOX_BACKOFF.delay(self.failures - 1)
                log.warning("broker did not acknowledge %d records (%s); %d waiting, retrying in "
                            "%.1f s", len(failed), self.last_error, self.size, delay)
                await asyncio.sleep(delay)
                expired = any(isinstance(error, KafkaTimeoutError) and "Expiring" in str(error)
                              for _, error in results)
                if expired or self.failures % RENEW_AFTER_FAILURES == 0:
                    # In the publish thread, where every send happens: no send is under way.
                    await loop.run_in_executor(self.executor, self._renew)
            else:
                self.failures = 0
                metrics.BROKER_UP.set(1)

    @staticmethod
    async def _report_client_log() -> None:
        """Report a flood that stopped, once its window ends; and budget the loggers of
        kafka-python modules imported since."""
        while True:
            await asyncio.sleep(WINDOW_SECONDS)
            try:
                CLIENT_LOG.flush()
                CLIENT_LOG.install("kafka")
            except Exception:  # a log budget must not end for good over one failed tick
                log.exception("kafka-python's log budget: tick failed")

    def _renew(self) -> None:
        try:
            self.publisher.renew()
        except Exception as exc:  # no broker yet (KafkaError): the next failures try again
            log.info("producer not renewed: %s", exc)
            return
        log.warning("producer renewed after %d failed attempts in a row", self.failures)

    def _send(self, batch: list[Pending]) -> list[tuple[Pending, Exception | None]]:
        """In the publish thread: send a batch, wait for every ack, then write its state."""
        sent: list[tuple[Pending, Any]] = []
        results: list[tuple[Pending, Exception | None]] = []
        for item in batch:
            try:
                sent.append((item, self.publisher.publish(item.topic, item.key, item.value)))
            except Exception as exc:  # metadata unavailable, buffer exhausted: retried later
                results.append((item, exc))
        # Beyond the delivery timeout: by then the producer has resolved every future.
        deadline = time.monotonic() + DELIVERY_TIMEOUT_MS / 1000 + 30.0
        for item, future in sent:
            try:
                self._acknowledged(future, deadline)
            except Exception as exc:
                results.append((item, exc))
                continue
            results.append((item, None))
            for key, value in (item.state if item.persist else []):
                self.publisher.send_state(key, value).add_errback(
                    lambda exc, key=key: log.warning("state write %s failed: %s", key, exc))
        return results

    def _acknowledged(self, future: FutureRecordMetadata, deadline: float) -> None:
        """Wait for the broker's ack of one record (raising its error), in slices, so that a
        close stops the wait."""
        while True:
            try:
                future.get(timeout=max(0.01, min(ACK_WAIT_SLICE_SECONDS,
                                                 deadline - time.monotonic())))
                return
            except KafkaTimeoutError:
                if future.is_done or self.closing.is_set() or time.monotonic() >= deadline:
                    raise

    async def close(self, timeout_seconds: float = 10.0) -> None:
        """Stop; state writes already handed to the publish thread get ``timeout_seconds``."""
        for task in (self.task, self.log_timer):
            if task is not None:
                task.cancel()
        CLIENT_LOG.flush(final=True)  # what the last window held back, before the process ends
        barrier = asyncio.wrap_future(self.executor.submit(lambda: None))
        try:
            await asyncio.wait_for(barrier, timeout_seconds)
        except TimeoutError:
            self.closing.set()  # the publish thread stops waiting for acks
            log.warning("publish thread still busy at close; pending state writes dropped")
        self.executor.shutdown(wait=False, cancel_futures=True)
