"""A budget for repetitive log lines: a poison flood must not become a log flood.

Every dead letter is counted (``newsflow_processor_dead_letters_total``) and kept on the
dead-letter topic; its WARNING line is for a person reading the log, who needs the first few
and a count, not ten thousand lines (formatting them was a fifth of the worker's time in a
flood of malformed records)."""

from __future__ import annotations

from collections.abc import Callable


class LogBudget:
    """At most ``lines`` log lines per ``window_seconds``; ``clock`` is monotonic seconds."""

    def __init__(self, lines: int, window_seconds: float, clock: Callable[[], float]) -> None:
        self.lines = lines
        self.window_seconds = window_seconds
        self.clock = clock
        self.window_start = clock()
        self.used = 0
        self.held_back = 0

    def spend(self) -> tuple[bool, int]:
        """(whether this line may be logged, lines held back in a window that just ended, to
        be reported once)."""
        ended = self.roll()
        if self.used < self.lines:
            self.used += 1
            return True, ended
        self.held_back += 1
        return False, ended

    def roll(self) -> int:
        """Start a new window if the current one is over; the lines it held back (0 if not
        over). Called by ``spend`` and by a timer, so a flood that stopped is reported too."""
        now = self.clock()
        if now - self.window_start < self.window_seconds:
            return 0
        ended, self.held_back = self.held_back, 0
        self.window_start, self.used = now, 0
        return ended
