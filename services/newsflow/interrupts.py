"""SIGTERM and SIGINT as an exception for the commands that end on their own (`process`,
`tags check`).

Python's default for SIGTERM ends the process on the spot: child processes were left running
and their semaphores leaked. Raised as ``Terminated`` instead, it closes them on the way out.
SIGINT (Ctrl-C) is raised the same way, so that both end in the command's one line, not in a
KeyboardInterrupt raised anywhere. Two steps must not be cut in the middle, so the signal waits
for their end (``held``): starting a child process (it would read a cut start-up message, print
a traceback and run on, unknown to its pool) and writing an output line (the reader would get
half a record).
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

from newsflow.errors import Terminated

_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_held = 0  # ``held`` blocks entered and not left (the main thread's: signals run there)
_pending: int | None = None  # a signal that arrived while held
_after = ""  # what the command says after "interrupted by SIGINT; "


def _interrupt(signum: int) -> None:
    # Once: a second signal (Ctrl-C pressed again) must not cut the closing of the children
    # short.
    for ignored in _SIGNALS:
        signal.signal(ignored, signal.SIG_IGN)
    raise Terminated(f"interrupted by {signal.Signals(signum).name}; {_after}")


def _on_signal(signum: int, _frame: object) -> None:
    global _pending
    if _held:
        _pending = signum
        return
    _interrupt(signum)


@contextlib.contextmanager
def signals_raise(after: str) -> Iterator[None]:
    """SIGTERM and SIGINT raise ``Terminated`` while the block runs (main thread only);
    ``after`` ends the command's one line, e.g. "each line written before it is complete"."""
    global _after, _pending
    previous = {signum: signal.signal(signum, _on_signal) for signum in _SIGNALS}
    _after, _pending = after, None
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _pending = None


@contextlib.contextmanager
def held() -> Iterator[None]:
    """A SIGTERM or SIGINT that arrives in the block takes effect at its end. Outside
    ``signals_raise`` (the worker) it changes nothing."""
    global _held, _pending
    _held += 1
    try:
        yield
    finally:
        _held -= 1
    if not _held and _pending is not None:
        signum, _pending = _pending, None
        _interrupt(signum)
