"""A budget for repetitive log lines: a poison flood or a broker outage must not become a log
flood.

Every dead letter is counted (``newsflow_processor_dead_letters_total``) and kept on the
dead-letter topic; its WARNING line is for a person reading the log, who needs the first few
and a count, not ten thousand lines (formatting them was a fifth of the worker's time in a
flood of malformed records). The same holds for a Kafka client's lines while the broker is
away or has restarted: the worker's aiokafka and the fetcher's kafka-python log every failed
request."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

# Per window: the first lines of a kind are logged, then one line with the count of the rest.
WINDOW_SECONDS = 60.0
CLIENT_LOG_LINES = 30  # a Kafka client library's own lines: enough to see an outage begin


class LogBudget:
    """At most ``lines`` log lines per ``window_seconds``; ``clock`` is monotonic seconds."""

    def __init__(self, lines: int, window_seconds: float, clock: Callable[[], float]) -> None:
        self.lines = lines
        self.window_seconds = window_seconds
        self.clock = clock
        self.window_start = clock()
        self.used = 0
        self.held_back = 0
        self.lock = threading.Lock()  # a client's lines come from its own threads too

    def spend(self) -> tuple[bool, int]:
        """(whether this line may be logged, lines held back in a window that just ended, to
        be reported once)."""
        with self.lock:
            ended = self._roll(final=False)
            if self.used < self.lines:
                self.used += 1
                return True, ended
            self.held_back += 1
            return False, ended

    def roll(self, final: bool = False) -> int:
        """Start a new window if the current one is over, or ``final``ly (at shutdown: the
        count must not be lost with the process); the lines it held back (0 if not over).
        Called by ``spend`` and by a timer, so a flood that stopped is reported too."""
        with self.lock:
            return self._roll(final)

    def _roll(self, final: bool) -> int:
        now = self.clock()
        if not final and now - self.window_start < self.window_seconds:
            return 0
        ended, self.held_back = self.held_back, 0
        self.window_start, self.used = now, 0
        return ended


class BudgetFilter(logging.Filter):
    """A library's log lines on a budget: while the broker is away, aiokafka logs every failed
    reconnect, metadata refresh and fetch, thousands of ERROR lines a minute, which rotate away
    the lines that tell how the outage began (kafka-python, after a broker restart, one
    WARNING per failed produce request, ten a second). The first ``budget.lines`` WARNING or
    ERROR lines of each window pass; the count of the rest goes to ``report`` when the window
    ends (``flush``). DEBUG and INFO lines pass and count nothing: they are there only when
    asked for (``newsflow -v``), and would use up the budget in a second."""

    def __init__(self, budget: LogBudget, report: Callable[[int], None]) -> None:
        super().__init__()
        self.budget = budget
        self.report = report

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        allowed, held_back = self.budget.spend()
        if held_back:
            self.report(held_back)
        return allowed

    def flush(self, final: bool = False) -> None:
        """Report a window that ended with no line since (called by a timer), or, ``final``,
        what the current one held back so far (at shutdown)."""
        held_back = self.budget.roll(final)
        if held_back:
            self.report(held_back)

    def install(self, prefix: str) -> None:
        """On every logger named ``prefix`` or under it that exists now (a library makes its
        module loggers at import): a logger's filters do not see its children's records."""
        # list() copies the names at once: another thread may make a logger meanwhile.
        names = [prefix, *(name for name in list(logging.Logger.manager.loggerDict)
                           if name.startswith(prefix + "."))]
        for name in names:
            logger = logging.getLogger(name)
            for earlier in [f for f in logger.filters if isinstance(f, BudgetFilter)]:
                if earlier is not self:  # an app made again in this process: one budget
                    logger.removeFilter(earlier)
            logger.addFilter(self)


def client_log_filter(library: str, log: logging.Logger,
                      clock: Callable[[], float]) -> BudgetFilter:
    """The budget of a Kafka client library's loggers, to ``install`` on them (again on each
    timer tick, for modules imported since); what it holds back is reported on ``log``."""
    def report(count: int) -> None:
        log.warning("%d more Kafka client (%s) log lines were not logged in the last %.0f s",
                    count, library, WINDOW_SECONDS)

    return BudgetFilter(LogBudget(CLIENT_LOG_LINES, WINDOW_SECONDS, clock), report)
