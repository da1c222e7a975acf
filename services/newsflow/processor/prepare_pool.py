"""Runs the stateless prepare step (clean, tag, fingerprint) in child processes.

Why processes: extraction is CPU-bound Python, and a pathological page can run for minutes.
In a child process the core runs in its main thread, so the per-page hard time limit
(SIGALRM) works, the work uses another core, and a page that still overruns — or kills its
process — is answered with a dead letter while the pool is replaced. The event loop of the
worker keeps heartbeating throughout.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from typing import Any

from newsflow.config import Settings
from newsflow.core.dates import rfc3339
from newsflow.core.pipeline import Origin, Pipeline, Prepared
from newsflow.records import DeadLetter

log = logging.getLogger(__name__)
_pipeline: Pipeline | None = None  # one per child process


def _init_child(settings_values: dict[str, Any]) -> None:
    global _pipeline
    _pipeline = Pipeline(Settings.model_validate(settings_values))
    _pipeline.warm_up()


def _prepare_in_child(key: bytes | None, value: bytes | None, origin: Origin,
                      now: datetime) -> Prepared | DeadLetter:
    assert _pipeline is not None, "child not initialised"
    return _pipeline.prepare(key, value, origin, now)


class PreparePool:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.processes = settings.prepare_processes
        # The child's own hard limit fires first; this one catches a child that cannot stop.
        self.timeout_seconds = settings.clean_time_budget_seconds * 2 + 10
        self.context = multiprocessing.get_context("spawn")  # no fork of a threaded parent
        self.executor = self._new_executor()
        self.generation = 0

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.processes, mp_context=self.context, initializer=_init_child,
            initargs=(self.settings.model_dump(mode="json"),),
        )

    def _replace_executor(self, generation: int) -> None:
        """Swap in a fresh pool, once per broken pool however many tasks noticed it."""
        if generation != self.generation:
            return
        old = self.executor
        self.executor = self._new_executor()
        self.generation += 1
        for process in list(getattr(old, "_processes", {}).values()):
            process.kill()  # a runaway child is not waited for
        old.shutdown(wait=False, cancel_futures=True)

    async def prepare(self, key: bytes | None, value: bytes | None,
                      origin: Origin) -> Prepared | DeadLetter:
        now = datetime.now(UTC)
        for attempt in (1, 2):
            generation = self.generation
            try:
                future = self.executor.submit(_prepare_in_child, key, value, origin, now)
                return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout_seconds)
            except TimeoutError:
                reason = (f"preparing took over {self.timeout_seconds:g} s; the child process "
                          "was stopped")
                error = "PrepareTimeout"
                self._replace_executor(generation)
                break
            except BrokenProcessPool as exc:
                # Another task's child may have died (or been stopped): retry once on a new pool.
                reason = f"the preparing process died: {exc}"
                error = "PrepareProcessDied"
                self._replace_executor(generation)
                if attempt == 2:
                    break
        log.error("%s at %s", reason, origin)
        return DeadLetter("clean", error, reason, origin.topic, origin.partition, origin.offset,
                          key, value, rfc3339(now))

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
