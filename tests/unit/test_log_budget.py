"""A flood of dead letters logs the first few lines of each window, then their count."""

from __future__ import annotations

from newsflow.processor.log_budget import LogBudget


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
