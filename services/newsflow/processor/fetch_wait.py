"""Faust's Kafka transport with a configurable fetch wait for the worker's consumer, and a safe
choice of the offsets it commits.

Why this exists: faust-streaming 0.15.3 builds the worker's aiokafka consumer with
``fetch_max_wait_ms=1500`` written into the call, and has no setting for it; aiokafka has no
public way to change it after construction. On Apache Kafka the value costs nothing (a fetch is
answered as soon as data arrives). On the embedded broker a waiting fetch is answered only when
its wait ends, so each consumer hop of the worker (``news.raw.v1`` -> prepare,
``-prepared`` -> dedupe) added up to 1.5 s to every article (docs/performance.md, "Latency").

Faust's own extension points are used: a ``Transport`` whose ``Consumer`` class creates a
consumer thread whose ``_create_worker_consumer`` builds the aiokafka consumer. That method is
the one place Faust builds it, so this override restates its arguments from Faust's public
settings (``app.conf``), with ``fetch_max_wait_ms`` from our settings instead of 1500.
``tests/unit/test_fetch_wait.py`` compares the arguments with Faust's own method, so a Faust
upgrade that changes them fails a test instead of drifting silently.

The same consumer thread also restarts never-committed stream partitions from their beginning
after a rebalance (``seek_to_committed``): without it, records fetched while the flow was held
for table recovery could be dropped for good. The records dropped after that seek, when Faust
empties the stream buffers, are the flow control's to report (``processor/cleared_buffers.py``).

The consumer also chooses the offsets to commit itself (``_new_offset``): Faust's choice could
pass a record still being prepared (``processor/commit_offsets.py``); it reads again records the
fetch skipped (``getmany``, ``processor/skipped_records.py``) and records the flow control
cleared from the stream buffers after a seek (``processor/cleared_buffers.py``); and the
producer's flush before a commit waits for what it flushes (``processor/draining_producer.py``).

And it asks the transport's topic guard (``processor/broker_reset.py``) whether the broker still
holds the topics it reads, whenever the broker may have changed under it: before each rebalance,
and before handing on a record on a partition not read since the last seek, or before the
offset due (its fetch position went back: the log is shorter than it was).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Set
from typing import Any, ClassVar, Protocol

import aiokafka
from aiokafka.consumer.group_coordinator import RoundRobinPartitionAssignor
from faust.exceptions import ImproperlyConfigured
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, AppT, ConsumerT, Message, ProducerT
from yarl import URL

from newsflow.processor import metrics
from newsflow.processor.cleared_buffers import rereads_after_clear
from newsflow.processor.commit_offsets import commit_point
from newsflow.processor.draining_producer import DrainingProducer
from newsflow.processor.skipped_records import first_skipped

log = logging.getLogger(__name__)


class TopicGuard(Protocol):
    async def verify(self) -> None:
        """Return if the broker still holds the worker's topics (else never: the worker starts
        afresh)."""
        ...


class FetchWaitConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(
            self, transport: faust_aiokafka.Transport) -> aiokafka.AIOKafkaConsumer:
        conf = self.app.conf
        if conf.broker_session_timeout > conf.broker_request_timeout:
            raise ImproperlyConfigured(
                f"broker_session_timeout={conf.broker_session_timeout} cannot be greater than "
                f"broker_request_timeout={conf.broker_request_timeout}")
        # Faust's assignor maps changelog partitions for table recovery (the dedupe memory).
        keeps_tables = conf.table_standby_replicas > 0 or bool(self.app.tables.changelog_topics)
        assignor = self.app.assignor if keeps_tables else RoundRobinPartitionAssignor
        # read_committed only inside a transaction (exactly_once); at-least-once otherwise.
        isolation = "read_committed" if self.consumer.in_transaction else "read_uncommitted"
        assert isinstance(transport, FetchWaitTransport)
        return aiokafka.AIOKafkaConsumer(
            client_id=conf.broker_client_id,
            group_id=conf.id,
            group_instance_id=conf.consumer_group_instance_id,
            bootstrap_servers=faust_aiokafka.server_list(transport.url, transport.default_port),
            partition_assignment_strategy=[assignor],
            enable_auto_commit=False,  # Faust commits what its streams acknowledged
            auto_offset_reset=conf.consumer_auto_offset_reset,
            max_poll_records=conf.broker_max_poll_records,
            max_poll_interval_ms=int((conf.broker_max_poll_interval or 0) * 1000.0),
            max_partition_fetch_bytes=conf.consumer_max_fetch_size,
            fetch_max_wait_ms=transport.fetch_max_wait_ms,
            request_timeout_ms=int(conf.broker_request_timeout * 1000.0),
            check_crcs=conf.broker_check_crcs,
            session_timeout_ms=int(conf.broker_session_timeout * 1000.0),
            rebalance_timeout_ms=int(conf.broker_rebalance_timeout * 1000.0),
            heartbeat_interval_ms=int(conf.broker_heartbeat_interval * 1000.0),
            isolation_level=isolation,
            metadata_max_age_ms=conf.consumer_metadata_max_age_ms,
            connections_max_idle_ms=conf.consumer_connections_max_idle_ms,
            **faust_aiokafka.credentials_to_aiokafka_auth(conf.broker_credentials,
                                                           conf.ssl_context),
        )

    async def seek_to_committed(self) -> Mapping[TP, int]:
        """Seek to the committed offsets, and a stream partition without one (or at 0) to its
        beginning. Why: aiokafka seeks only partitions committed past 0 and leaves the others
        where fetching got to, but Faust drops what was fetched while a rebalance's table
        recovery held the flow. A record on a partition never committed, fetched in that
        window, was then never processed (measured: 4 of 22 runs of the replacement-worker
        test lost the one record on such a partition; 1 of 15 still did with this, for another
        cause: ``processor/cleared_buffers.py``). Changelog partitions are left to Faust's
        recovery, which positions them itself."""
        committed = await super().seek_to_committed()
        restart = uncommitted_stream_partitions(committed, self.app.tables.changelog_topics,
                                                self.app.conf.consumer_auto_offset_reset)
        if restart:
            await self.seek_to_beginning(*restart)
        return committed


def uncommitted_stream_partitions(committed: Mapping[TP, int | None], changelogs: Set[str],
                                  offset_reset: str) -> list[TP]:
    """The partitions to restart from their beginning after ``seek_to_committed``: those
    without a committed offset past 0, outside the changelogs, when the reset is "earliest"
    (with "latest", records that arrived before the assignment are skipped by design)."""
    if offset_reset != "earliest":
        return []
    return [tp for tp, offset in committed.items() if not offset and tp.topic not in changelogs]


class FetchWaitConsumer(faust_aiokafka.Consumer):
    def __post_init__(self) -> None:
        super().__post_init__()
        self._next_offsets: dict[TP, int] = {}  # per stream partition: the offset due next
        self._reread_from: dict[TP, int] = {}  # the last hole read again, per partition
        self._cleared: dict[TP, int] = {}  # per partition: the lowest offset cleared, not re-read
        self._verified: dict[TP, int | None] = {}  # per partition: the offset due when checked

    def _new_consumer_thread(self) -> FetchWaitConsumerThread:
        return FetchWaitConsumerThread(self, loop=self.loop, beacon=self.beacon)

    @property
    def _topic_guard(self) -> TopicGuard | None:
        transport = self.transport
        return transport.topic_guard if isinstance(transport, FetchWaitTransport) else None

    async def _verify_topics(self) -> None:
        guard = self._topic_guard
        if guard is not None:
            await guard.verify()

    async def on_partitions_revoked(self, revoked: Set[TP]) -> None:
        """Checks the topics before Faust's own steps, which commit: to a broker that lost the
        worker's topics, a commit for a topic it does not have is retried for ever."""
        await self._verify_topics()
        await super().on_partitions_revoked(revoked)

    def _unverified(self, tp: TP, due: int | None, offset: int) -> bool:
        """Whether a record must wait for the topic guard: on a partition not read since the
        last seek (``due`` None), or before the offset due (the fetch's position went back: the
        log is shorter than it was). The broker may have been replaced by one that lost the
        worker's topics. Once per partition and offset due."""
        if self._topic_guard is None or (due is not None and offset >= due):
            return False
        if tp in self._verified and self._verified[tp] == due:
            return False
        self._verified[tp] = due
        return True

    def reread_cleared(self, lowest: Mapping[TP, int]) -> None:
        """Called by the flow control when it cleared the stream buffers
        (``processor/cleared_buffers.py``): the lowest offset it dropped, per partition."""
        for tp, offset in lowest.items():
            if self.app.topics.acks_enabled_for(tp.topic):
                self._cleared[tp] = min(offset, self._cleared.get(tp, offset))

    async def _seek_back_to_cleared(self) -> None:
        """Read again what a clearing after the last seek dropped (while the flow runs: in a
        rebalance, the seek to the committed offsets that follows does it)."""
        if not self._cleared or not self.flow_active:
            return
        cleared, self._cleared = self._cleared, {}
        assigned = self.assignment()
        for tp, offset in rereads_after_clear(cleared, self._next_offsets).items():
            if tp not in assigned:
                continue
            await self._read_again(tp, offset, self._next_offsets[tp], "cleared",
                                   "were cleared from the stream buffers after the seek")

    async def _read_again(self, tp: TP, start: int, end: int, cause: str, why: str) -> None:
        """Seek ``tp`` back to ``start``: records ``start`` to ``end - 1`` were dropped
        unprocessed (``cause``, a label of the re-read counter; ``why``, for the log)."""
        log.warning("records %d-%d of %s[%d] %s; reading them again", start, end - 1, tp.topic,
                    tp.partition, why)
        metrics.SKIPPED_REREAD.labels(tp.topic, cause).inc(end - start)
        await self.seek(tp, start)

    async def perform_seek(self) -> None:
        self._cleared.clear()  # this seek reads them again
        self._verified.clear()
        await super().perform_seek()
        self._next_offsets = {tp: offset for tp, offset in self._committed_offset.items()
                              if offset is not None}

    async def seek(self, partition: TP, offset: int) -> None:
        await super().seek(partition, offset)
        self._next_offsets[partition] = offset

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        """Faust's batches, except that a record arriving past the offset due on an acking
        (stream) topic makes the partition read again from that offset: Faust would count the
        records in between as absent from the log and commit past them, though on these topics
        (never compacted, no transactions) they are records its fetch dropped (seen after a
        worker restart: 30 records a partition dropped between recovery and the seek to the
        committed offsets). Once a hole was read again and is still there, it is one.

        A batch with a record the topic guard must see first (``_unverified``) waits for one
        check of the topics before any of its records goes on."""
        await self._seek_back_to_cleared()
        skipping: set[TP] = set()
        verified = False  # one check per batch: the batch comes from one broker
        async for tp, message in super().getmany(timeout):
            if tp in skipping:
                continue  # read again from the hole, in order
            due = self._next_offsets.get(tp)
            stream = self.app.topics.acks_enabled_for(message.topic)
            if stream and self._unverified(tp, due, message.offset) and not verified:
                await self._verify_topics()
                verified = True
            hole = first_skipped(due, message.offset, self._reread_from.get(tp))
            if hole is not None and stream:
                self._reread_from[tp] = hole
                skipping.add(tp)
                await self._read_again(tp, hole, message.offset, "fetch",
                                       "were skipped by the fetch")
                continue
            if due is None or message.offset >= due:
                self._next_offsets[tp] = message.offset + 1
            yield tp, message

    def _new_offset(self, tp: TP) -> int | None:
        """Faust's choice of the offset to commit, replaced: it never passes a record still in
        flight (``processor/commit_offsets.py`` says why). Faust's bookkeeping is kept: what a
        commit covers leaves the acknowledged list and the gaps."""
        acked = self._acked[tp]
        if not acked:
            return None
        gaps = self._gap[tp]
        top = max(acked)
        skipped = [offset for gap in gaps.overlap(0, top + 1)
                   for offset in range(gap.begin, gap.end)]
        in_flight = [message.offset for message in list(self._unacked_messages)
                     if message.tp == tp and not message.acked]
        offset = commit_point([*acked, *skipped], self._committed_offset[tp], in_flight)
        if offset is None:
            return None
        acked[:] = sorted(done for done in acked if done >= offset)
        index = self._acked_index[tp]
        index.difference_update([done for done in index if done < offset])
        gaps.chop(0, offset)
        return offset


class FetchWaitTransport(faust_aiokafka.Transport):
    """Faust's aiokafka transport; its worker consumer waits at most ``fetch_max_wait_ms``."""

    Consumer: ClassVar[type[ConsumerT]] = FetchWaitConsumer
    Producer: ClassVar[type[ProducerT]] = DrainingProducer

    def __init__(self, url: list[URL], app: AppT, *, fetch_max_wait_ms: int,
                 **kwargs: Any) -> None:
        super().__init__(url, app, **kwargs)
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.topic_guard: TopicGuard | None = None  # set by the worker (processor/app.py)
