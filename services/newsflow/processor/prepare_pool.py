"""Runs the stateless prepare step (decode, clean, tag, fingerprint) in child processes, each
page under a time limit.

Why processes: extraction is CPU-bound Python, and a pathological page can run for minutes.
The core reads no clock, so its time limit is enforced here, from outside: pebble's
``ProcessPool`` stops the child a page has run in for longer than
``NEWSFLOW_CLEAN_TIME_BUDGET_SECONDS`` and starts a fresh one (``ChildPool``), and the page becomes one
``PrepareTimeout`` dead letter; a child that dies under a page (killed, out of memory) makes it a
``PrepareProcessDied`` dead letter. The pool serves the next record either way, the work uses
other cores, and the worker's event loop keeps heartbeating throughout. ``newsflow process`` runs
its pages through the same pool, so a page gets the same budget offline.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from typing import Any, cast

from pebble import ProcessExpired, ProcessFuture

from newsflow.child_pool import ChildPool
from newsflow.config import Settings
from newsflow.core.dates import rfc3339
from newsflow.core.pipeline import Pipeline, Prepared
from newsflow.core.tagging import Topic
from newsflow.errors import PreparePoolClosed
from newsflow.interrupts import held
from newsflow.pipeline_setup import build_pipeline, build_tagger
from newsflow.processor.stages import PreparedMessage, prepare_for_dedupe, prepare_message
from newsflow.records import DeadLetter, RawMessage

log = logging.getLogger(__name__)
_pipeline: Pipeline | None = None  # one per child process
Outcome = PreparedMessage | Prepared | DeadLetter


def _init_child(settings_values: dict[str, Any], topics: tuple[Topic, ...]) -> None:
    """``topics``: the taxonomy the parent loaded at start. A child started later (after a
    timeout) must not read the overlay file again: it may have been edited since, or be
    half-saved."""
    global _pipeline
    _pipeline = build_pipeline(Settings.model_validate(settings_values), topics)
    # Outside any page's budget (pebble starts a task's clock when a child takes it), so the
    # warm-up leaves out the newsroom's own regexes: one that backtracks for minutes would
    # otherwise hang every child here, where no budget stops it.
    _pipeline.warm_up()


def _prepare_in_child(message: RawMessage, now: datetime, max_bytes: int,
                      encoded: bool) -> Outcome:
    """``encoded``: the prepared message's bytes for the worker's internal topic (encoding in
    the child runs in parallel); else the ``Prepared`` record for ``newsflow process``."""
    assert _pipeline is not None, "child not initialised"
    if encoded:
        return prepare_for_dedupe(_pipeline, message, now, max_bytes)
    return prepare_message(_pipeline, message, now, max_bytes)


class PreparePool:
    """``prepare`` for the worker's event loop, ``prepare_blocking`` for ``newsflow process``;
    ``close`` when done (the children are not daemons). After ``close`` no pool is started
    again: a call raises ``PreparePoolClosed`` instead of preparing, or dead-lettering, its
    record."""

    def __init__(self, settings: Settings, topics: tuple[Topic, ...] | None = None) -> None:
        """``topics``: the taxonomy the caller's pipeline uses (loaded here when not given)."""
        self.settings = settings
        self.topics = build_tagger(settings).topics if topics is None else topics
        self.budget_seconds = settings.clean_time_budget_seconds
        self.closed = False
        # The worker closes the pool from a thread while its event loop may still schedule:
        # deciding to start a pool and closing are one step each, never interleaved.
        self._lock = threading.Lock()
        # Unsettled tasks and the pool each runs on, for close and for a replaced pool (see
        # there): pebble leaves a stopped pool's unfinished futures pending for ever.
        self._in_flight: dict[ProcessFuture[Outcome], ChildPool] = {}
        self.pool = self._new_pool()

    def _new_pool(self) -> ChildPool:
        return ChildPool(self.settings.prepare_processes, _init_child,
                         (self.settings.model_dump(mode="json"), self.topics))

    def _schedule(self, message: RawMessage, now: datetime,
                  encoded: bool) -> tuple[ChildPool, ProcessFuture[Outcome]]:
        """The task, and the pool it runs on (a failed task replaces only that pool)."""
        args = (message, now, self.settings.raw_message_limit, encoded)
        with self._lock:
            if self.closed:
                raise self._closed_error(message)
            # pebble gives up on a pool whose children all died while idle: start a new one.
            if not self.pool.active:
                self._replace_locked(self.pool)
            pool = self.pool
            try:
                future = pool.schedule(_prepare_in_child, args=args, timeout=self.budget_seconds)
            except RuntimeError:  # the pool broke between the check and the call
                self._replace_locked(pool)
                pool = self.pool
                future = pool.schedule(_prepare_in_child, args=args, timeout=self.budget_seconds)
            self._in_flight[future] = pool
        future.add_done_callback(self._settled)
        return pool, future

    def _settled(self, future: concurrent.futures.Future[Outcome]) -> None:
        self._in_flight.pop(cast("ProcessFuture[Outcome]", future), None)

    def _replace_pool(self, broken: ChildPool) -> None:
        with self._lock:
            if not self.closed:  # a closed pool stays closed: the next call raises
                self._replace_locked(broken)

    def _replace_locked(self, broken: ChildPool) -> None:
        """Swap in a fresh pool for ``broken``, once: when several tasks of the broken pool
        notice, the later ones find it already replaced and must not stop the new pool, whose
        tasks (scheduled since) would then never finish. One step, not cut by SIGTERM: the
        broken pool's children are stopped before the command ends."""
        if self.pool is not broken:
            return
        with held():
            self.pool = self._new_pool()
            broken.close()
            # Its other tasks in flight (``newsflow process`` keeps several) would wait for
            # ever: failed as the pool's, each is tried again on the new pool by whoever
            # waits for it.
            for future in [f for f, pool in list(self._in_flight.items()) if pool is broken]:
                with contextlib.suppress(concurrent.futures.InvalidStateError):  # settled
                    future.set_exception(BrokenProcessPool("the pool was replaced"))

    def _outcome(self, future: ProcessFuture[Outcome], message: RawMessage,
                 now: datetime) -> Outcome | None:
        """The result of a finished task; None when the pool failed it, not the page.
        Raises ``PreparePoolClosed`` for a task that ``close`` abandoned: not the page's
        failure either."""
        if self.closed and (future.cancelled() or future.exception() is not None):
            raise self._closed_error(message)
        try:
            result: Outcome = future.result()
            return result
        except TimeoutError:
            error = "PrepareTimeout"
            reason = (f"preparing took over the {self.budget_seconds:g} s budget; the child "
                      "process was stopped")
        except ProcessExpired as exc:
            error = "PrepareProcessDied"
            reason = f"the preparing process died (exit code {exc.exitcode})"
        except BrokenProcessPool:
            return None
        except Exception as exc:  # anything else (a result that could not be sent back, a
            # cancelled task) is this record's failure, not a reason to stop the agent
            error = "PrepareFailed"
            reason = f"{type(exc).__name__}: {exc}"
        log.error("%s at %s:%s:%s", reason, message.topic, message.partition, message.offset)
        return DeadLetter.of(message, "clean", error, reason, rfc3339(now))

    async def prepare(self, message: RawMessage) -> PreparedMessage | DeadLetter:
        now = datetime.now(UTC)
        for _attempt in (1, 2):  # once more on a fresh pool if the pool, not the page, failed
            pool, future = self._schedule(message, now, encoded=True)
            done = asyncio.wrap_future(future)
            await asyncio.wait([done])
            if not done.cancelled():
                done.exception()  # read by _outcome; read here too, or asyncio logs it unread
            outcome = self._outcome(future, message, now)
            if outcome is not None:
                assert not isinstance(outcome, Prepared)
                return outcome
            self._replace_pool(pool)
        return self._pool_failed(message, now)

    def prepare_blocking(self, message: RawMessage, now: datetime) -> Prepared | DeadLetter:
        return self.submit_blocking(message, now)()

    def submit_blocking(self, message: RawMessage, now: datetime
                        ) -> Callable[[], Prepared | DeadLetter]:
        """Start preparing ``message``; the call returned waits for its result. ``newsflow
        process`` keeps a page in flight per child this way and takes the results in input
        order (the budget of a queued page starts when a child takes it)."""
        pool, future = self._schedule(message, now, encoded=False)

        def result() -> Prepared | DeadLetter:
            concurrent.futures.wait([future])
            outcome = self._outcome(future, message, now)
            if outcome is None:  # the pool failed, not the page: once more on a fresh pool
                self._replace_pool(pool)
                retry_pool, retry = self._schedule(message, now, encoded=False)
                concurrent.futures.wait([retry])
                outcome = self._outcome(retry, message, now)
                if outcome is None:
                    self._replace_pool(retry_pool)
                    return self._pool_failed(message, now)
            assert not isinstance(outcome, PreparedMessage)
            return outcome

        return result

    def _pool_failed(self, message: RawMessage, now: datetime) -> DeadLetter:
        reason = "the pool of preparing processes failed twice"
        log.error("%s at %s:%s:%s", reason, message.topic, message.partition, message.offset)
        return DeadLetter.of(message, "clean", "PrepareProcessDied", reason, rfc3339(now))

    def _closed_error(self, message: RawMessage) -> PreparePoolClosed:
        return PreparePoolClosed(
            f"the prepare pool is closed; {message.topic}:{message.partition}:{message.offset} "
            "was not prepared")

    def close(self) -> None:
        """Stop the children for good (a page in progress is abandoned: ``prepare`` raises
        ``PreparePoolClosed`` for it, and the worker leaves its record uncommitted)."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            pool = self.pool
        pool.close()
        # pebble leaves the futures of a stopped pool's unfinished tasks pending for ever; their
        # callers would wait for ever. Its threads are joined: nothing else settles them now.
        for future in list(self._in_flight):
            with contextlib.suppress(concurrent.futures.InvalidStateError):  # settled after all
                future.set_exception(PreparePoolClosed("the prepare pool was closed meanwhile"))
