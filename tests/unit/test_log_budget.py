"""A flood of dead letters logs the first few lines of each window, then their count."""

from __future__ import annotations

import logging

import pytest

from newsflow.log_budget import (
    CLIENT_LOG_LINES,
    WINDOW_SECONDS,
    BudgetFilter,
    LogBudget,
    client_log_filter,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_lines_beyond_the_budget_are_counted_and_reported_once_the_window_ends() -> None:
    clock = Clock()
    budget = LogBudget(3, 60.0, clock)
    assert [budget.spend() for _ in range(5)] == [(True, 0)] * 3 + [(False, 0)] * 2
    clock.now += 59.9
    assert budget.roll() == 0, "the window is not over yet"
    clock.now += 0.1
    assert budget.spend() == (True, 2)  # a new window: logged, with the two held back before
    assert budget.roll() == 0


def test_a_flood_that_stopped_is_reported_by_the_timer() -> None:
    clock = Clock()
    budget = LogBudget(1, 60.0, clock)
    budget.spend()
    assert budget.spend() == (False, 0)
    clock.now += 61
    assert budget.roll() == 1 and budget.roll() == 0


def test_a_library_logger_and_its_children_log_on_one_budget(
        caplog: pytest.LogCaptureFixture) -> None:
    clock, reported = Clock(), list[int]()
    child = logging.getLogger("fakelib.conn")  # made before install, as a module's at import
    client_log = BudgetFilter(LogBudget(2, 60.0, clock), reported.append)
    client_log.install("fakelib")
    try:
        with caplog.at_level(logging.ERROR):
            for _ in range(3):
                child.error("Unable connect to node")
            logging.getLogger("fakelib").error("Unable to update metadata")
        assert [r.getMessage() for r in caplog.records] == ["Unable connect to node"] * 2
        assert reported == []
        clock.now += 60.0
        client_log.flush()  # the timer: the window is over
        assert reported == [2]
        assert logging.getLogger("otherlib").filters == []
    finally:
        for name in ("fakelib", "fakelib.conn"):
            logging.getLogger(name).removeFilter(client_log)


def test_a_client_filter_reports_what_it_held_back_naming_the_library(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    client_log = client_log_filter("kafka-python", logging.getLogger("newsflow.test"), clock)
    record = logging.LogRecord("kafka.conn", logging.WARNING, __file__, 1, "refused", None, None)
    passed = [client_log.filter(record) for _ in range(CLIENT_LOG_LINES + 3)]
    assert passed.count(True) == CLIENT_LOG_LINES
    clock.now += WINDOW_SECONDS
    with caplog.at_level(logging.WARNING, logger="newsflow.test"):
        client_log.flush()
    assert [r.getMessage() for r in caplog.records] == [
        "3 more Kafka client (kafka-python) log lines were not logged in the last 60 s"]


def test_debug_and_info_lines_pass_without_using_the_budget() -> None:
    # `newsflow -v` asks for a client's DEBUG lines: they must neither be cut nor use up the
    # budget the WARNING lines of an outage need.
    client_log = BudgetFilter(LogBudget(2, 60.0, Clock()), list[int]().append)

    def line(level: int) -> logging.LogRecord:
        return logging.LogRecord("kafka.conn", level, __file__, 1, "line", None, None)

    assert all(client_log.filter(line(logging.DEBUG)) for _ in range(100))
    assert all(client_log.filter(line(logging.INFO)) for _ in range(100))
    assert [client_log.filter(line(logging.ERROR)) for _ in range(3)] == [True, True, False]


def test_a_final_flush_reports_what_the_current_window_held_back() -> None:
    clock, reported = Clock(), list[int]()
    client_log = BudgetFilter(LogBudget(1, 60.0, clock), reported.append)
    record = logging.LogRecord("kafka.conn", logging.WARNING, __file__, 1, "x", None, None)
    for _ in range(4):
        client_log.filter(record)
    client_log.flush()
    assert reported == []  # the window is not over
    client_log.flush(final=True)  # the process stops: the count must not go with it
    assert reported == [3]
