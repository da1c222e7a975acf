"""A broker that lost the worker's topics (the embedded one restarted): the worker starts afresh.

Why: the embedded broker keeps everything in memory. When it restarts, the topics come back
empty under the same names (``newsflow broker`` creates the project's at start) or not at all
(the worker's internal ones), and the consumer group's offsets are gone. A running worker still
holds the old broker's state: a table store whose persisted offset lies past the new
changelog's end (Faust's recovery stopped the worker with ``ConsistencyError``: "The persisted
offset for changelog topic partition ... is higher than the last offset in that topic
(highwater)"); or, with a shorter changelog or the memory store, memories whose outputs no
longer exist, so that the same article sent again came out as a duplicate of nothing, for the
worker's whole life; and its rebalance could wait for ever on a commit to its internal topic,
which the new broker does not have. Faust offers no public way to reset a running app's tables.
A fresh process has none of that state: at start the worker creates its topics (again, if a
record sent while the broker was away left one unfit: ``topics.unreadable_partitions``,
``local_state.ensure_internal_topics``), discards a store that does not belong to the broker's
changelog (``local_state.py``), and recovers the table from the changelog the broker has.

How it is noticed, before anything read from the new broker is processed: the worker's consumer
(``fetch_wait.py``) asks this guard to compare the ids of the topics the worker reads with those
it saw first (a topic gone, or with another id, was created again) whenever the broker may have
changed under it: before each rebalance (a broker that lost the consumer group does not know
the worker's member, so the worker rejoins; the check comes before Faust's own steps, which
commit), and before it hands on a record on a partition whose read position went back (a
restarted broker's log is shorter: the fetch starts again from its beginning) or that it has
not read from since the last seek. The checks cost one metadata request each, and come only at
those moments (once per batch at most), not per record. When a topic was lost the worker stops its preparing
children and executes its own command line again (same pid, arguments and environment): the
process a supervisor would have started, without waiting for one. Nothing is committed on the
way (the new broker has no offsets for the old positions), and nothing the worker published is
lost: the old broker's records are gone with it, and the new broker's are read from its start.

A broker that gives no topic ids (Kafka before 2.8) is checked for topics that are gone only.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NoReturn

from kafka import KafkaAdminClient
from kafka.errors import KafkaError, UnknownTopicOrPartitionError

from newsflow.config import Settings
from newsflow.processor.bounded_stop import exit_at_once
from newsflow.processor.table_store_check import known_topic_id

log = logging.getLogger(__name__)
GONE = None  # a described topic the broker does not have
RESTART_LINE = ("newsflow worker: the broker lost the worker's topics ({lost}; a broker with "
                "memory storage restarted, or the topics were deleted); starting the worker "
                "afresh, its table rebuilt from what the broker holds now")


def lost_topics(known: Mapping[str, str], now: Mapping[str, str | None]) -> list[str]:
    """What became of each topic seen before that is gone (``None``) or has another topic id
    now. A topic not described this time (a passing error) says nothing; an id the broker does
    not give (``known_topic_id`` is None on either side) is not compared."""
    lost = []
    for topic, before in known.items():
        if topic not in now:
            continue
        after = now[topic]
        if after is GONE:
            lost.append(f"{topic}: gone")
            continue
        old, new = known_topic_id(before), known_topic_id(after)
        if old is not None and new is not None and old != new:
            lost.append(f"{topic}: created again")
    return lost


class TopicWatch:
    """The ids of the topics a worker reads, as first seen, and a check against the broker's."""

    def __init__(self, settings: Settings, topics: Sequence[str]) -> None:
        self.settings = settings
        self.topics = list(topics)
        self.known: dict[str, str] = {}
        self._lock = threading.Lock()  # checks run in threads, possibly two at once

    def describe(self) -> dict[str, str | None]:
        """Each topic's id ("" when the broker gives none), ``GONE`` if the broker does not
        have it; left out when the broker could not say (no answer, another error)."""
        admin = KafkaAdminClient(bootstrap_servers=self.settings.require_bootstrap(),
                                 client_id="newsflow-worker-topic-watch",
                                 request_timeout_ms=5000, bootstrap_timeout_ms=5000,
                                 **self.settings.kafka_client_options())
        try:
            described = admin.describe_topics(self.topics)
        finally:
            admin.close()
        found: dict[str, str | None] = {}
        for topic in described:
            name, error = topic.get("name") or topic.get("topic"), topic.get("error_code")
            if name not in self.topics:
                continue
            if error == UnknownTopicOrPartitionError.errno:
                found[name] = GONE
            elif not error:
                found[name] = topic.get("topic_id") or ""
        return found

    def check(self) -> list[str]:
        """The topics lost since they were first seen; the others are remembered as they are
        now. A broker that cannot be asked loses nothing."""
        try:
            now = self.describe()
        except KafkaError as exc:
            log.debug("cannot describe the worker's topics: %s", exc)
            return []
        with self._lock:
            lost = lost_topics(self.known, now)
            if not lost:
                self.known.update({topic: ident for topic, ident in now.items()
                                   if ident is not GONE})
        return lost


class ResetGuard:
    """What the worker's consumer calls when the broker may have changed under it: ``verify``
    returns if the topics are still those first seen, and otherwise never (``on_lost``).

    It blocks the event loop while it asks the broker (one metadata request, to a broker that
    has just answered a fetch or a join), on purpose: no agent may go on with a record, or write
    a table change, to a broker that may not be the one its state belongs to. ``on_lost`` blocks
    too, up to the exec."""

    def __init__(self, watch: TopicWatch, on_lost: Callable[[Sequence[str]], NoReturn]) -> None:
        self.watch = watch
        self.on_lost = on_lost

    async def verify(self) -> None:
        lost = self.watch.check()
        if lost:
            self.on_lost(lost)


def start_afresh(lost: Sequence[str]) -> NoReturn:
    """Log one line, then execute this process's own command line again (``os.execv``: same
    pid, arguments and environment; Python's files and sockets close on exec, the data
    directory's lock with them). Nothing of Faust's shutdown runs: it would commit positions of
    the old broker's topics to the new one. If the exec fails, exit 1 with the line, for a
    supervisor to restart the worker."""
    line = RESTART_LINE.format(lost="; ".join(lost))
    log.warning("%s", line)
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
    except OSError as exc:
        exit_at_once(f"{line}; could not start it again ({exc}); exiting")


def stop_before_exec(step: Callable[[], None], stopped: Callable[[str], NoReturn]) -> None:
    """Run ``step`` (stopping the preparing children before the worker starts afresh) with
    SIGTERM and SIGINT recorded instead of acted on; if one came, ``stopped(its name)``. From
    then on, up to the exec that follows (which resets the handlers), one that comes calls
    ``stopped`` at once. Why: the event loop that would act on them does not run again in this
    image, and the exec forgets them, so a supervisor's stop would start the worker again and
    end in its kill after its timeout. Only the main thread can set handlers; elsewhere
    ``step`` just runs."""
    if threading.current_thread() is not threading.main_thread():
        step()
        return
    came: list[int] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda received, _frame: came.append(received))
    step()
    # Acting handlers first, then the record: a signal that comes between is in one or other.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda received, _frame: stopped(signal.Signals(received).name))
    if came:
        stopped(signal.Signals(came[0]).name)


def reap_inherited_children() -> None:
    """Wait, in a daemon thread, for the children a process has at its start: only a process
    that ``start_afresh`` executed again has any (its previous image's multiprocessing resource
    tracker, which ends once the exec closes its pipe). No code of the new image knows them, so
    none would wait for them: each would stay a zombie for the worker's lifetime. Linux only
    (``/proc``); elsewhere nothing is done."""
    pids: set[int] = set()
    for listing in Path("/proc/self/task").glob("*/children"):
        try:
            pids.update(int(pid) for pid in listing.read_text(encoding="ascii").split())
        except OSError:  # a thread that ended meanwhile
            continue
    if pids:
        threading.Thread(target=_wait_for, args=(sorted(pids),), daemon=True,
                         name="newsflow-reap-inherited").start()


def _wait_for(pids: Sequence[int]) -> None:
    for pid in pids:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:  # not ours after all, or already waited for
            continue
