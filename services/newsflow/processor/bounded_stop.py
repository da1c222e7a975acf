"""The worker process ends within a deadline once it is asked to stop.

Why this exists: Faust's shutdown waits for every event in progress to be acknowledged and for
its producer to flush. With the broker gone, an event whose output is being sent is never
acknowledged, and the worker waited for ever (seen: a worker sent SIGTERM after its broker died
was still waiting 1 h 45 min later, logging connection errors). Past the deadline the process
exits with status 1 and one line saying why. Nothing is lost: offsets are committed only for
processed records, so the next worker reads the rest again.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Any, NoReturn

from faust.worker import Worker

log = logging.getLogger(__name__)


def arm_stop_deadline(seconds: float) -> threading.Timer:
    """A daemon timer that ends the process after ``seconds`` (it does not keep it alive)."""
    timer = threading.Timer(seconds, _give_up, args=(seconds,))
    timer.daemon = True
    timer.start()
    return timer


def _give_up(seconds: float) -> None:
    # A thread of its own, so a blocked event loop cannot hold it back.
    exit_at_once(f"newsflow worker: did not stop within {seconds:g} s "
                 "(NEWSFLOW_WORKER_STOP_TIMEOUT_SECONDS); exiting")


def exit_at_once(line: str, status: int = 1) -> NoReturn:
    """``status`` after ``line``, now: os._exit because the interpreter's own exit would wait
    for a shutdown that is stuck, or that must not commit or write anything more."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
    os._exit(status)


def log_thread_exception(args: threading.ExceptHookArgs) -> None:
    """A thread's uncaught exception as one log record. Python's own hook writes the traceback
    to sys.stderr, which Faust's worker redirects to its logger one write at a time: a consumer
    thread ending in an error after its broker died came out as ~100 WARNING lines, most of
    them a lone "^". The traceback stays available at DEBUG."""
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "a thread"
    log.warning("%s ended with %s: %s", name, args.exc_type.__name__, args.exc_value)
    log.debug("%s's traceback", name,
              exc_info=(args.exc_type, args.exc_value, args.exc_traceback))  # type: ignore[arg-type]


class BoundedStopWorker(Worker):
    """Faust's worker, whose stop (on SIGTERM or SIGINT) is given ``stop_timeout_seconds``."""

    def __init__(self, *args: Any, stop_timeout_seconds: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stop_timeout_seconds = stop_timeout_seconds
        threading.excepthook = log_thread_exception

    async def on_stop(self) -> None:
        arm_stop_deadline(self.stop_timeout_seconds)  # before the app and its streams stop
        await super().on_stop()
