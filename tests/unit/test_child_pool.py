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


def test_a_child_ends_at_once_and_loses_nothing_it_wrote() -> None:
    # When the pool stops, a child's task loop returns (its pipe closed) while pebble sends it
    # SIGTERM; one that came in the interpreter's shutdown printed "Signal 15 ignored due to
    # race condition" with a traceback on the command's stderr. Here a SIGTERM is sent by an
    # exit step that runs after the child's (registered first, so run last), under a handler
    # that ends the process as pebble's does (exit 15): the child must end before it, with
    # exit 0 and its buffered output written.
    script = textwrap.dedent("""
        import atexit, os, random, signal, sys
        from newsflow.child_pool import _child_start
        signal.signal(signal.SIGTERM, lambda *_: os._exit(15))  # as pebble's children have
        atexit.register(lambda: os.kill(os.getpid(), signal.SIGTERM))
        _child_start(random.seed, ())
        sys.stdout.write("buffered, not flushed")
    """)
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60, check=False, env=environment)
    assert (result.returncode, result.stdout, result.stderr) == (0, "buffered, not flushed", "")
