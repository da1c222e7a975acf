"""SIGTERM as an exception for the commands that end on their own (`process`, `tags check`).

Python's default for SIGTERM ends the process on the spot: child processes were left running
and their semaphores leaked. Raised as ``Terminated`` instead, it closes them on the way out.
Two steps must not be cut in the middle, so the signal waits for their end (``held``):
starting a child process (it would read a cut start-up message, print a traceback and run on,
unknown to its pool) and writing an output line (the reader would get half a record).
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

from newsflow.errors import Terminated

_held = 0  # ``held`` blocks entered and not left (the main thread's: signals run there)
_pending: int | None = None  # a signal that arrived while held
_after = ""  # what the command says after "interrupted by SIGTERM; "


def _interrupt(signum: int) -> None:
    # Once: a second SIGTERM must not cut the closing of the children short.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated(f"interrupted by {signal.Signals(signum).name}; {_after}")


def _on_signal(signum: int, _frame: object) -> None:
    global _pending
    if _held:
        _pending = signum
        return
    _interrupt(signum)


@contextlib.contextmanager
def sigterm_raises(after: str) -> Iterator[None]:
    """SIGTERM raises ``Terminated`` while the block runs (main thread only); ``after`` ends
    the command's one line, e.g. "each line written before it is complete"."""
    global _after, _pending
    previous = signal.signal(signal.SIGTERM, _on_signal)
    _after, _pending = after, None
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        _pending = None


@contextlib.contextmanager
def held() -> Iterator[None]:
    """A SIGTERM that arrives in the block takes effect at its end. Outside ``sigterm_raises``
    (the worker) it changes nothing."""
    global _held, _pending
    _held += 1
    try:
        yield
    finally:
        _held -= 1
    if not _held and _pending is not None:
        signum, _pending = _pending, None
        _interrupt(signum)
