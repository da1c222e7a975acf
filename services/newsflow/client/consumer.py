"""``NewsConsumer``: read one of newsflow's output topics, the way a downstream service should.

Why no consumer-group membership: the embedded broker makes a group join wait about half the
session timeout, and a group whose member left within seconds of joining was seen to stay
without assignments for every later member. This client therefore assigns itself every
partition of the topic (``assign()``) and uses the group id only to store and read committed
offsets. That works the same on Apache Kafka. The cost: two consumers in one group do not split
the partitions between them - each reads them all (see README, "Consuming newsflow").
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Generator, Iterator
from types import TracebackType
from typing import Any, Literal, get_args

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from newsflow.client.records import KINDS, ReadAs, Record
from newsflow.codecs import BY_ROLE, JsonCodec
from newsflow.codecs.topics import ANY_JSON
from newsflow.config import Settings
from newsflow.errors import BrokerUnavailable, ConfigError, InvalidMessage, TopicNotFound
from newsflow.interrupts import held
from newsflow.retry import Backoff, Retry
from newsflow.tls_probe import require_tls_answer

log = logging.getLogger(__name__)
Start = Literal["committed", "earliest", "latest"]
Reset = Literal["earliest", "latest"]
COMMIT_TIMEOUT_SECONDS = 30.0  # a commit while reading waits at most this (or the deadline)
# The commit at close waits at most this: a frozen broker held a `with` block's end for the
# whole request timeout (30 s); what is not committed is delivered again (at-least-once).
CLOSE_COMMIT_TIMEOUT_SECONDS = 5.0
# A topic missing from the broker's metadata is asked for again this long (bounded by the
# connect timeout): one created a moment ago may not be known yet; a misspelled one is an error.
TOPIC_GRACE_SECONDS = 1.0
# How long the check for a lost log waits for the client's own position (local unless a reset
# is under way).
POSITION_CHECK_MS = 1_000


class SeenIds:
    """The most recent ``capacity`` identities, oldest forgotten first (bounded memory). Internal
    to ``NewsConsumer``."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.ids: OrderedDict[str, None] = OrderedDict()

    def add(self, identity: str) -> bool:
        """True when the identity is new."""
        if identity in self.ids:
            self.ids.move_to_end(identity)
            return False
        self.ids[identity] = None
        if len(self.ids) > self.capacity:
            self.ids.popitem(last=False)
        return True

    def forget(self, identity: str) -> None:
        self.ids.pop(identity, None)

    def clear(self) -> None:
        self.ids.clear()


class LastStates:
    """The last state handed out of the ``capacity`` most recently seen things (story ids),
    least recently seen forgotten first (bounded memory). Internal to ``NewsConsumer``."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.states: OrderedDict[str, str] = OrderedDict()

    def get(self, thing: str) -> str | None:
        return self.states.get(thing)

    def clear(self) -> None:
        self.states.clear()

    def set(self, thing: str, state: str | None) -> None:
        """Remember ``state`` for ``thing`` (None: forget it)."""
        if state is None:
            self.states.pop(thing, None)
            return
        self.states[thing] = state
        self.states.move_to_end(thing)
        if len(self.states) > self.capacity:
            self.states.popitem(last=False)


class NewsConsumer:
    """Iterate over the records of one topic.

    ``what`` is a role (``articles``, ``duplicates``, ``stories``, ``deadletter``, ``raw``) or a
    topic name. ``group`` names where handled positions are committed (None: nothing is
    committed). ``start``: ``committed`` resumes from the group's committed offsets, falling back
    to ``reset`` for partitions without one; ``earliest``/``latest`` ignore committed offsets.

    A record counts as handled once the caller asks for the next one (or calls ``ack``); handled
    positions are committed every ``client_commit_every_records`` records or
    ``client_commit_interval_seconds``, whichever comes first, before each fetch and on
    ``close``. Redeliveries (at-least-once) are
    dropped by identity within the last ``client_seen_ids`` records.
    """

    def __init__(self, what: str, settings: Settings | None = None, *, group: str | None = None,
                 start: Start = "committed", reset: Reset = "earliest",
                 strict: bool = False) -> None:
        # Checked at run time too: untyped callers and a service's YAML or env configuration
        # are not seen by mypy, and a typo must not silently read the whole topic.
        for name, value, allowed in (("start", start, get_args(Start)),
                                     ("reset", reset, get_args(Reset))):
            if value not in allowed:
                raise ConfigError(f"NewsConsumer: {name}={value!r} is not one of "
                                  f"{', '.join(map(repr, allowed))}")
        # "latest" means after this moment: records stamped since are this reader's (below).
        self._started_ms = time.time() * 1000
        self.settings = settings or Settings.from_environment()
        deadline = time.monotonic() + self.settings.kafka_connect_timeout_seconds
        # A role's topic named by its name is read as that role (validated, typed views).
        by_topic = {str(getattr(self.settings, f"topic_{kind}")): kind for kind in KINDS}
        self.kind: ReadAs = next((kind for kind in KINDS if kind == what),
                                 by_topic.get(what, "topic"))
        # The topic's codec decodes and validates every value (any JSON for a foreign topic).
        self.codec: JsonCodec = BY_ROLE.get(self.kind, ANY_JSON)
        self.topic = str(getattr(self.settings, f"topic_{what}")) if what in KINDS else what
        self._role = what if what in KINDS else None  # asked for by its role
        self.group = group
        self.strict = strict
        self.reset = reset
        self.seen = SeenIds(self.settings.client_seen_ids)
        self.states = LastStates(self.settings.client_seen_ids)
        self.invalid = 0
        self.redeliveries = 0
        self._handled: dict[TopicPartition, int] = {}
        self._committed: dict[TopicPartition, int] = {}
        self._next: dict[TopicPartition, int] = {}  # the offset each partition is read from
        self._buffer: deque[Any] = deque()
        self._since_commit = 0  # records passed since the last commit attempt...
        self._last_commit = time.monotonic()  # ...and when it was made
        self.consumer = self._connect(deadline)
        try:
            self.partitions = self._assign(start, reset, deadline)
        except BaseException as exc:
            with contextlib.suppress(KafkaError):
                self.consumer.close()
            if isinstance(exc, KafkaError) and exc.retriable:
                # The broker answered the bootstrap, then stopped (killed, paused, restarting)
                # while the topic was looked up, positions read or committed: the caller gets
                # the same error as for no broker at all, not one of kafka-python's.
                raise BrokerUnavailable(
                    f"broker at {self.settings.kafka_bootstrap_servers} stopped answering while "
                    f"{self.topic} was opened ({exc})") from exc
            if isinstance(exc, KafkaError):  # refused for good: an ACL, an unsupported version
                raise ConfigError(f"broker at {self.settings.kafka_bootstrap_servers} refused "
                                  f"to open {self.topic} ({exc})") from exc
            raise

    # --- setup ---------------------------------------------------------------------------------
    def _connect(self, deadline: float) -> KafkaConsumer:
        settings = self.settings

        def bootstrap_ms() -> int:
            # Each try waits at most what is left of the connect timeout: a try started just
            # before the deadline must not overshoot it by a whole bootstrap wait.
            return max(1, int(min(5.0, deadline - time.monotonic()) * 1000))

        retry = Retry(Backoff(0.5, 2.0), retry_on=(KafkaError,),
                      timeout=max(0.0, deadline - time.monotonic()))
        def new_consumer() -> KafkaConsumer:
            require_tls_answer(settings, bootstrap_ms() / 1000)
            return KafkaConsumer(
                bootstrap_servers=settings.require_bootstrap(),
                group_id=self.group,
                client_id="newsflow-client",
                enable_auto_commit=False,
                # where a committed position no longer exists (deleted by retention)
                auto_offset_reset=self.reset,
                fetch_max_wait_ms=settings.client_fetch_max_wait_ms,
                max_partition_fetch_bytes=settings.max_message_bytes,
                fetch_max_bytes=settings.max_message_bytes * 2,
                allow_auto_create_topics=False,
                reconnect_backoff_max_ms=2_000,
                bootstrap_timeout_ms=bootstrap_ms(),
                **settings.kafka_client_options(),
            )

        try:
            return retry.call(new_consumer)
        except KafkaError as exc:
            raise BrokerUnavailable(f"no broker at {settings.kafka_bootstrap_servers} after "
                                    f"{settings.kafka_connect_timeout_seconds:.0f} s ({exc})"
                                    ) from exc

    def _assign(self, start: Start, reset: Reset, deadline: float) -> list[TopicPartition]:
        def partition_ids() -> set[int]:
            self.consumer.topics()  # fresh metadata: the topic may have been created just now
            ids = self.consumer.partitions_for_topic(self.topic)
            if not ids:
                roles = difflib.get_close_matches(self.topic, KINDS, n=1)
                if self._role is not None:  # the role was right: its variable names the topic
                    hint = (f" (the {self._role} topic, as NEWSFLOW_TOPIC_{self._role.upper()} "
                            "names it: is the name right, and has a worker created it?)")
                else:
                    hint = f" (did you mean {roles[0]}?)" if roles else ""
                raise TopicNotFound(f"topic {self.topic} does not exist on "
                                    f"{self.settings.kafka_bootstrap_servers}{hint}")
            return set(ids)

        # A topic created a moment ago may not be known to every broker yet: asked again, but
        # only briefly - a broker that answers without the topic most likely never had it.
        grace = max(0.0, min(TOPIC_GRACE_SECONDS, deadline - time.monotonic()))
        ids = Retry(Backoff(0.2, 0.5), retry_on=(TopicNotFound,), timeout=grace
                    ).call(partition_ids)
        partitions = [TopicPartition(self.topic, p) for p in sorted(ids)]
        self.consumer.assign(partitions)
        def left_ms() -> int:  # each request waits at most what is left of the deadline
            return max(100, int((deadline - time.monotonic()) * 1000))

        committed = ({tp: self.consumer.committed(tp, timeout_ms=left_ms()) for tp in partitions}
                     if self.group is not None else {})
        at_end = []
        for tp in partitions:
            resume = committed.get(tp)
            if resume is not None:
                self._committed[tp] = resume
            if start == "committed" and resume is not None:
                self.consumer.seek(tp, resume)
            elif start == "latest" or (start == "committed" and reset == "latest"):
                self.consumer.seek_to_end(tp)
                at_end.append(tp)
            else:
                self.consumer.seek_to_beginning(tp)
        if at_end:
            self._seek_to_true_end(at_end, partitions, deadline)
        for tp in partitions:
            # Resolved now, not at the first fetch: a record written between here and then is
            # read, not skipped by a "latest" looked up later.
            position = self._next[tp] = self.consumer.position(tp, timeout_ms=left_ms())
            if self.group is not None:
                # A group's starting position is committed at once (a no-op when it is the
                # committed one): a group that handles nothing before it stops resumes there,
                # not at a later "latest", nor back at a backlog a "latest" reader skipped.
                self._handled[tp] = position
        self.commit(left_ms() / 1000)
        return partitions

    def _seek_to_true_end(self, at_end: list[TopicPartition], partitions: list[TopicPartition],
                          deadline: float) -> None:
        """Move ``at_end`` to where each partition really ends. The embedded broker (Tansu)
        under-reports the end (ListOffsets "latest" is its last batch's base offset + 1, see
        docs/architecture.md), but a fetch's high-water mark is right: one fetch per partition, from the
        reported end, gives it (Apache Kafka: the same offset). What that fetch returns is
        older than this reader unless stamped after it started: a record written meanwhile
        (on Kafka, the only kind it returns) is read, not skipped by the jump to the end."""
        others = [tp for tp in partitions if tp not in at_end]
        self.consumer.pause(*others)
        try:
            ends: dict[TopicPartition, int] = {}
            new: dict[TopicPartition, int] = {}  # the first record stamped since the start
            # A fetch that finds nothing is answered when its wait ends: a few polls suffice.
            while len(ends) < len(at_end) and time.monotonic() < deadline:
                wait = max(0.0, min(1.0, deadline - time.monotonic()))
                for tp, fetched in self.consumer.poll(timeout_ms=int(wait * 1000)).items():
                    first = next((m.offset for m in fetched
                                  if m.timestamp >= self._started_ms), None)
                    if first is not None and tp not in new:
                        new[tp] = first
                for tp in at_end:
                    highwater = self.consumer.highwater(tp)
                    if tp not in ends and highwater is not None:
                        ends[tp] = highwater
            for tp in at_end:
                if tp in ends:
                    self.consumer.seek(tp, min(ends[tp], new.get(tp, ends[tp])))
                else:  # no fetch answered in time: the reported end, maybe a little early
                    log.warning("%s:%s: end not confirmed by a fetch before the connect "
                                "timeout; starting at the reported end", tp.topic, tp.partition)
                    self.consumer.seek_to_end(tp)
        finally:
            self.consumer.resume(*others)

    # --- reading -------------------------------------------------------------------------------
    def records(self, timeout: float | None = None) -> Generator[Record, None, None]:
        """Records until ``timeout`` seconds have passed (None: forever)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            # Fetched messages wait in a buffer owned by the consumer, not by this generator: a
            # caller that stops iterating mid-batch gets the rest on its next call.
            while self._buffer:
                if deadline is not None and time.monotonic() >= deadline:
                    return
                message = self._buffer[0]
                record = self._decode(message)  # strict: raises, and the message stays first
                self._buffer.popleft()
                state = record.state() if record is not None else None
                previous = self.states.get(state[0]) if state is not None else None
                if record is None or not self.seen.add(identity := record.identity()) or (
                        state is not None and previous == state[1]):
                    if record is not None:
                        self.redeliveries += 1
                    self._mark(message.partition, message.offset)
                    self._commit_now_and_then(deadline)
                    continue
                if state is not None:
                    self.states.set(state[0], state[1])
                try:
                    yield record
                except GeneratorExit:
                    # Left unhandled (the handler raised, or the loop stopped before asking
                    # for the next record): read again first, by this consumer's next read.
                    if not self._is_handled(record):
                        self._buffer.appendleft(message)
                        self.seen.forget(identity)
                        if state is not None:
                            self.states.set(state[0], previous)
                    raise
                self.ack(record)
                self._commit_now_and_then(deadline)
            if deadline is not None and time.monotonic() >= deadline:
                return
            self._commit_or_warn(deadline)
            wait = 1.0 if deadline is None else max(0.0, min(1.0, deadline - time.monotonic()))
            # Not cut by `newsflow tail`'s SIGTERM or Ctrl-C (``held``: at most a second's wait):
            # kafka-python cut in a request left the closing commit failing, and the records
            # printed before the signal came again.
            with held():
                for tp, messages in self.consumer.poll(timeout_ms=int(wait * 1000)).items():
                    self._buffer.extend(messages)
                    self._next[tp] = messages[-1].offset + 1
                self._read_lost_logs_again()

    def _read_lost_logs_again(self) -> None:
        """A partition whose log now ends before this reader's position was lost by the broker
        (an embedded broker, which keeps nothing, restarted; the topic deleted and created
        again): its new log is read from its start. Kafka answers a fetch past a log's end with
        an error, which ``auto_offset_reset`` handles; the embedded broker answers with nothing
        and the shorter log's end (high-water mark), so this checks that end after each fetch.
        A partition with records in the buffer was read below its end: it is not touched."""
        lost = False
        for tp, position in list(self._next.items()):
            end = self.consumer.highwater(tp)
            if end is None or position <= end:
                continue
            # Kafka's reset (``reset``) may have moved the reader already, without a record
            # since: its own position says so (a partition being reset answers None).
            moved = self.consumer.position(tp, timeout_ms=POSITION_CHECK_MS)
            if moved is not None and moved <= end:
                self._next[tp] = moved
                continue
            log.warning("%s:%s ends at offset %d, before this reader's position %d: the broker "
                        "lost its log (an embedded broker restarted, or the topic was created "
                        "again); reading the new log from its start", tp.topic, tp.partition,
                        end, position)
            self.consumer.seek_to_beginning(tp)
            self._next[tp] = 0
            self._committed.pop(tp, None)
            if self.group is not None:
                self._handled[tp] = 0  # committed as the group's position on the new log
            else:
                self._handled.pop(tp, None)
            # What was handed out was read from the lost log: a record of the new one at the
            # same position (the identity of a foreign topic's record) is not a redelivery.
            self.seen.clear()
            self.states.clear()
            lost = True
        if lost:  # the topic was made anew, perhaps with more partitions: fresh metadata
            with contextlib.suppress(KafkaError):
                self.consumer.topics()
        self._read_new_partitions()

    def _read_new_partitions(self) -> None:
        """Partitions the topic gained since this reader started (a topic created again with
        more, an embedded broker that restarted and made it anew, partitions added) are read
        from their start: this reader assigns itself partitions, and a new one went unread,
        its records lost to the reader without a word. From the client's cached metadata,
        which kafka-python refreshes every few minutes and after an error (a restart)."""
        ids = self.consumer.partitions_for_topic(self.topic) or set()
        new = [TopicPartition(self.topic, p) for p in sorted(ids)
               if TopicPartition(self.topic, p) not in self._next]
        if not new:
            return
        log.warning("%s has %d new partition(s) (%s): reading them from their start",
                    self.topic, len(new), ", ".join(str(tp.partition) for tp in new))
        self.partitions = sorted([*self.partitions, *new], key=lambda tp: tp.partition)
        self.consumer.assign(self.partitions)
        for tp in new:
            self.consumer.seek_to_beginning(tp)
            self._next[tp] = 0
            if self.group is not None:
                self._handled[tp] = 0

    def __iter__(self) -> Iterator[Record]:
        return self.records()

    def run(self, handler: Callable[[Record], None], *, max_records: int | None = None,
            timeout: float | None = None) -> int:
        """Call ``handler`` for each record; a record is handled when it returns. Returns the
        number handled; stops after ``max_records`` or ``timeout`` seconds."""
        count = 0
        if max_records == 0:
            return 0
        records = self.records(timeout)
        try:
            for record in records:
                handler(record)
                self.ack(record)
                count += 1
                if max_records is not None and count >= max_records:
                    break
        finally:
            records.close()  # now, not when collected: a record the handler failed is kept
        return count

    def _decode(self, message: Any) -> Record | None:
        key = message.key.decode("utf-8", "replace") if message.key is not None else None
        try:
            # Tolerant: a field added to a schema after this client's release is let through.
            value = (None if message.value is None and self.kind == "topic"
                     else self.codec.decode(message.value, tolerant=True))
        except ValueError as exc:  # RecordUndecodable, RecordInvalid
            # The message stays on the topic; it is reported, skipped, and its offset passed.
            where = f"{message.topic}:{message.partition}:{message.offset}"
            if self.strict:
                raise InvalidMessage(f"{where}: {exc}") from exc
            self.invalid += 1
            log.warning("skipping %s: %s", where, str(exc)[:300])
            return None
        return Record(self.kind, message.topic, message.partition, message.offset, key, value,
                      message.key)

    # --- positions -----------------------------------------------------------------------------
    def ack(self, record: Record) -> None:
        """Mark ``record`` (and everything before it in its partition) as handled."""
        self._mark(record.partition, record.offset)

    def _is_handled(self, record: Record) -> bool:
        return self._handled.get(TopicPartition(self.topic, record.partition), 0) > record.offset

    def _mark(self, partition: int, offset: int) -> None:
        tp = TopicPartition(self.topic, partition)
        self._handled[tp] = max(self._handled.get(tp, 0), offset + 1)

    def commit(self, timeout: float | None = None) -> None:
        """Commit handled positions to the group (a no-op without a group); KafkaError when the
        broker did not take them within ``timeout`` seconds (None: the request timeout)."""
        if self.group is None:
            return
        todo = {tp: OffsetAndMetadata(offset, "", -1) for tp, offset in self._handled.items()
                if self._committed.get(tp) != offset}
        if not todo:
            return
        self.consumer.commit(todo, timeout_ms=None if timeout is None else int(timeout * 1000))
        self._committed.update({tp: meta.offset for tp, meta in todo.items()})

    def _commit_now_and_then(self, deadline: float | None) -> None:
        # Not only before a fetch: one fetch brings up to 500 records, and a crash (kill -9)
        # would redeliver all those handled since it. This bounds it by records and by time.
        self._since_commit += 1
        if (self._since_commit >= self.settings.client_commit_every_records
                or time.monotonic() - self._last_commit
                >= self.settings.client_commit_interval_seconds):
            self._commit_or_warn(deadline)

    def _commit_or_warn(self, deadline: float | None) -> None:
        # A broker away for a while must not end a reading service: the positions stay handled
        # and are committed by a later attempt (until then, a restart reads them again).
        self._since_commit, self._last_commit = 0, time.monotonic()
        wait = COMMIT_TIMEOUT_SECONDS
        if deadline is not None:
            wait = max(0.1, min(wait, deadline - time.monotonic()))
        try:
            with held():  # a commit is not cut in the middle either
                self.commit(wait)
        except KafkaError as exc:
            log.warning("could not commit positions, will try again: %s", exc)

    def close(self) -> None:
        try:
            self.commit(CLOSE_COMMIT_TIMEOUT_SECONDS)
        except KafkaError as exc:  # the records will be delivered again: at-least-once
            log.warning("could not commit positions at close: %s", exc)
        finally:
            self.consumer.close(autocommit=False)

    def __enter__(self) -> NewsConsumer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
