"""The child pool's start-up guard (SIGTERM held, SIGINT blocked) is taken while a call may
start children, the first one, and not on every later call: the worker schedules two tasks a
record, and each guard looks at multiprocessing's resource tracker."""

from __future__ import annotations

import contextlib
import operator
import os
import random
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest
from pebble import ProcessExpired

from newsflow import child_pool
from newsflow.child_pool import ChildPool


def test_the_start_up_guard_is_taken_by_the_first_call_only(
        monkeypatch: pytest.MonkeyPatch) -> None:
    entered = []
    guard = child_pool._starting

    @contextlib.contextmanager
    def counted() -> Iterator[None]:
        entered.append(1)
        with guard():
            yield

    monkeypatch.setattr(child_pool, "_starting", counted)
    pool = ChildPool(1, random.seed, ())  # any importable set-up that returns None
    try:
        assert pool.active
        futures = [pool.schedule(operator.add, (n, 1), timeout=60) for n in range(3)]
        assert [future.result(timeout=60) for future in futures] == [1, 2, 3]
    finally:
        pool.close()
    assert len(entered) == 1


def test_a_child_ends_at_once_when_the_pool_stops_and_loses_nothing_it_wrote() -> None:
    # When the pool stops, a child's task loop ends (its pipe closed) while pebble sends it
    # SIGTERM; one that came in the interpreter's shutdown printed "Signal 15 ignored due to
    # race condition" with a traceback on the command's stderr. pebble's own worker runs here
    # with a pipe that is closed at once, and an exit step that sends SIGTERM under pebble's
    # handler (exit 15): the child must end before it, with exit 0 and its output written.
    script = textwrap.dedent("""
        import atexit, os, random, signal, sys
        from pebble.pool.base_pool import Worker
        from pebble.pool.process import worker_process
        from newsflow.child_pool import _child_start

        class ClosedPipe:
            def initialize(self):
                pass
            def poll(self, timeout=None):
                raise EOFError

        atexit.register(lambda: os.kill(os.getpid(), signal.SIGTERM))
        sys.stdout.write("buffered, not flushed")
        worker_process(Worker(0, _child_start, (random.seed, ())), ClosedPipe())
        sys.stdout.write(" and went on")
    """)
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60, check=False, env=environment)
    assert (result.returncode, result.stdout, result.stderr) == (0, "buffered, not flushed", "")


def unpicklable_result() -> object:
    """A result pebble cannot send back: pickling a local function fails with an error its
    worker does not handle, so the child crashes."""
    def local() -> None:
        pass
    return local


def test_a_child_that_crashes_is_reported_as_dead_not_as_a_timeout() -> None:
    pool = ChildPool(1, random.seed, ())
    try:
        future = pool.schedule(unpicklable_result, (), timeout=600)
        with pytest.raises(ProcessExpired) as died:
            future.result(timeout=300)  # a child that exits 0 instead is never reported
    finally:
        pool.close()
    assert died.value.exitcode == 1


def test_a_command_that_ends_at_once_leaves_no_warning_after_its_last_line() -> None:
    # A worker that stops with one line (exit_at_once: os._exit, the pool left open) was
    # followed on stderr by the resource tracker's "There appear to be 2 leaked semaphore
    # objects" warning, once it had unlinked them. The tracker holds the command's stderr: the
    # run returns once it has ended too.
    script = textwrap.dedent("""
        import operator, os, random
        from newsflow.child_pool import ChildPool
        pool = ChildPool(1, random.seed, ())
        print(pool.schedule(operator.add, (1, 2), timeout=60).result(timeout=60), flush=True)
        os.write(2, b"newsflow worker: the one line\\n")
        os._exit(1)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, check=False)
    assert (result.returncode, result.stdout, result.stderr) == (
        1, "3\n", "newsflow worker: the one line\n")
