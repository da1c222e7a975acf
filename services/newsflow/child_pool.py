"""The pool of child processes that `process`, `tags check` and the worker run their pages in.

One way to build it, so that its rules live in one place: pebble's ``ProcessPool`` with the
spawn start method (no fork of a threaded parent); its children start in the first call that
needs them (``active``, ``schedule``), and that start is not cut by SIGTERM
(``interrupts.held``): the child would read a cut start-up message, print a traceback and run
on, unknown to its pool.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import Any, TypeVar

from pebble import ProcessFuture, ProcessPool

from newsflow.interrupts import held

T = TypeVar("T")


class ChildPool:
    """``processes`` children, each set up by ``initializer(*initargs)`` when it starts (the
    first ones, and each one pebble starts in place of a child stopped after a timeout)."""

    def __init__(self, processes: int, initializer: Callable[..., None],
                 initargs: tuple[Any, ...]) -> None:
        self._pool = ProcessPool(max_workers=processes, initializer=initializer,
                                 initargs=initargs, context=multiprocessing.get_context("spawn"))

    @property
    def active(self) -> bool:
        """False once pebble gave up on the pool (e.g. its children all died while idle)."""
        with held():  # the first look starts the children
            return self._pool.active

    def schedule(self, function: Callable[..., T], args: tuple[Any, ...],
                 timeout: float | None) -> ProcessFuture[T]:
        """``function(*args)`` in a child, stopped after ``timeout`` seconds (the future then
        raises ``TimeoutError``) and replaced by a fresh child. Raises ``RuntimeError`` when
        the pool is broken or stopped."""
        with held():  # the first call starts the children
            return self._pool.schedule(function, args=args, timeout=timeout)

    def close(self) -> None:
        """Stop the children (a task in progress is abandoned) and wait for them to end."""
        self._pool.stop()  # type: ignore[no-untyped-call]  # pebble leaves stop() unannotated
        self._pool.join()
