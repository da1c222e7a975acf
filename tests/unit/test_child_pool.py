"""The child pool's start-up guard (SIGTERM held, SIGINT blocked) is taken while a call may
start children, the first one, and not on every later call: the worker schedules two tasks a
record, and each guard looks at multiprocessing's resource tracker."""

from __future__ import annotations

import contextlib
import operator
import random
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
