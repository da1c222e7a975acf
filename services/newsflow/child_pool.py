"""The pool of child processes that `process`, `tags check` and the worker run their pages in.

One way to build it, so that its rules live in one place:

- pebble's ``ProcessPool`` with the spawn start method (no fork of a threaded parent);
- a child's start is not cut by a signal. Its children start in the first call that needs them
  (``active``, ``schedule``; pebble's own threads start one in place of a child stopped after a
  timeout). A SIGTERM to this process waits for that call's end (``interrupts.held``). SIGINT
  (Ctrl-C, which the terminal sends to every process of the command) is blocked in the thread
  that starts the pool while it does so: pebble's threads, started there, and every child
  started by either, inherit the blocked signal. A child that Ctrl-C cut in its start printed
  a KeyboardInterrupt traceback, and one cut while it read its start-up message left pebble
  writing the rest of it for ever (the parent holds the pipe's other end), so that stopping the
  pool never ended. In a started child pebble ignores SIGINT; the parent alone acts on it.
- ``close`` is bounded: the children still running after a second are killed.
- a child ends with ``os._exit`` once pebble's task loop ends on the pipe's close
  (``_child_start``), not through the interpreter's shutdown, which a SIGTERM from pebble's
  stop could interrupt.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from multiprocessing import resource_tracker
from multiprocessing.process import BaseProcess
from typing import Any, NoReturn, TypeVar

from pebble import ProcessFuture, ProcessPool
from pebble.pool import process as pebble_process

from newsflow.interrupts import held

T = TypeVar("T")
log = logging.getLogger(__name__)
# ``close``: the children left after GRACE_SECONDS are killed, and pebble's threads are waited
# for STOP_SECONDS more (a thread stuck for good is left: they are daemons).
GRACE_SECONDS = 1.0
STOP_SECONDS = 10.0
QUIET_TRACKER = "ignore::UserWarning:multiprocessing.resource_tracker"


@contextlib.contextmanager
def _starting() -> Iterator[None]:
    """Where children (and pebble's threads) may start: SIGTERM held, SIGINT blocked in this
    thread and so in every thread and process it starts meanwhile. A SIGINT that arrives
    meanwhile is delivered when the block ends."""
    with held():
        # The tracker runs with this interpreter's -W options. A command that ends at once
        # (``exit_at_once``: os._exit, the pool left open) leaves it the pool's semaphores to
        # unlink, which it does, warning of "leaked semaphore objects" on the command's stderr
        # after the command's one last line. (Its only other warning, a failed unlink, goes
        # too: the pool's semaphores are all it is given.)
        if QUIET_TRACKER not in sys.warnoptions:
            sys.warnoptions.append(QUIET_TRACKER)
        # Started first: multiprocessing starts its resource tracker with the first child, and
        # unblocks SIGINT in the starting thread when it has.
        resource_tracker.ensure_running()
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            yield
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class ChildPool:
    """``processes`` children, each set up by ``initializer(*initargs)`` when it starts (the
    first ones, and each one pebble starts in place of a child stopped after a timeout)."""

    def __init__(self, processes: int, initializer: Callable[..., None],
                 initargs: tuple[Any, ...]) -> None:
        self._pool = ProcessPool(max_workers=processes, initializer=_child_start,
                                 initargs=(initializer, initargs),
                                 context=multiprocessing.get_context("spawn"))
        # Set once a call has started the pool: pebble's threads, started then, start every
        # later child (with the mask they inherited), so later calls need no guard (it costs a
        # look at the resource tracker, ~30 us, twice per record in the worker).
        self._started = False

    @contextlib.contextmanager
    def _first_start(self) -> Iterator[None]:
        if self._started:
            yield
            return
        with _starting():
            yield
        self._started = True

    @property
    def active(self) -> bool:
        """False once pebble gave up on the pool (e.g. its children all died while idle)."""
        with self._first_start():  # the first look starts the children
            return self._pool.active

    def schedule(self, function: Callable[..., T], args: tuple[Any, ...],
                 timeout: float | None) -> ProcessFuture[T]:
        """``function(*args)`` in a child, stopped after ``timeout`` seconds (the future then
        raises ``TimeoutError``) and replaced by a fresh child. Raises ``RuntimeError`` when
        the pool is broken or stopped."""
        with self._first_start():  # the first call starts the children
            return self._pool.schedule(function, args=args, timeout=timeout)

    def close(self) -> None:
        """Stop the children (a task in progress is abandoned) and wait for them to end, for
        ``STOP_SECONDS`` at most: pebble's own stop, alone, can wait for ever."""
        children = self._children()  # pebble forgets each as it stops it
        self._pool.stop()  # type: ignore[no-untyped-call]  # pebble leaves stop() unannotated
        # pebble's join has no bound once the pool is stopped: it waits for its threads, and
        # they stop the children one at a time, each given 3 s to end on SIGTERM before a
        # SIGKILL (a child in a regex runs C code: SIGTERM does not reach it).
        joining = threading.Thread(target=self._pool.join, name="child-pool-stop", daemon=True)
        joining.start()
        joining.join(GRACE_SECONDS)  # enough for idle children
        if not joining.is_alive():
            return
        _kill({*children, *self._children()})  # their tasks are abandoned anyway
        joining.join(STOP_SECONDS)
        if joining.is_alive():
            left = self._children()
            log.warning("the pool's threads did not stop within %g s; killing its %d "
                        "children", GRACE_SECONDS + STOP_SECONDS, len(left))
            _kill(left)

    def _children(self) -> list[BaseProcess]:
        """The children pebble runs now (its own record: there is no public one)."""
        return list(self._pool._pool_manager.worker_manager.workers.values())


def _child_start(initializer: Callable[..., None], initargs: tuple[Any, ...]) -> None:
    """In each child, before its own set-up: end the process at once when pebble's task loop
    ends because the pool stops (the child's pipe closed: ``EOFError``). pebble's stop sends
    the child SIGTERM meanwhile; one that came in the interpreter's shutdown, after it had
    reset its signal handlers, printed "OSError: Signal 15 ignored due to race condition" and
    a traceback on the command's stderr. pebble's worker looks its task loop up when it calls
    it, after this set-up, so the loop is wrapped here; any other way out of the loop is
    pebble's as before (an error it handles exits through its own ``os._exit``, another one is
    a crash, exit 1, which pebble reports for the task the child held)."""
    run_tasks = getattr(pebble_process, "process_tasks", None)
    if run_tasks is not None:  # a later pebble may name it otherwise: the test says so

        def run_tasks_then_exit(*args: Any) -> None:
            with contextlib.suppress(EOFError):  # the pipe closed: the pool stops
                run_tasks(*args)
            _exit_now()

        setattr(pebble_process, "process_tasks", run_tasks_then_exit)  # noqa: B010 - untyped
    initializer(*initargs)


def _exit_now() -> NoReturn:
    """Exit 0 now, what the child wrote flushed first: the pool is stopping. Nothing else is
    skipped that matters: a child holds no queues, children or shared memory of its own, whose
    finalizers the interpreter's exit would run."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed or broken stream: nothing to save
            stream.flush()
    os._exit(0)


def _kill(children: Iterable[BaseProcess]) -> None:
    for child in children:
        if child.pid is not None:  # not joined here: pebble's threads do
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGKILL)
