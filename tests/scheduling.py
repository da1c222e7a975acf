"""Which integration and e2e tests share a pytest-xdist worker.

Two of the three longest fault tests (a traced worker, five killed ones: 3-4 minutes of CPU
each) run one after another on one worker: the three at once on 2 cores starved the lighter
tests beside them past their deadlines (ci74). All three in a row made the suite's longest path
(ci77: 630 s of its 710 s integration phase, 29.6 min in all, against the 30-minute budget);
two in a row keep at most two at once and the phase near a third of the work.

pytest-xdist's own `--dist loadgroup` groups nothing on pytest 9.2 (it renames node ids, which
pytest now ignores: pytest-xdist issue 1386), so the Makefile's `--dist loadgroup` gets
``GroupedScheduling`` (tests/conftest.py), which knows the group from ``CPU_HEAVY_TESTS``. The
mark names the group at each test, and tests/unit/test_scheduling.py checks that the marks and
the list agree.
"""

from __future__ import annotations

from typing import Any

import pytest
from xdist.scheduler import LoadGroupScheduling

CPU_HEAVY_GROUP = "cpu_heavy"
CPU_HEAVY = pytest.mark.xdist_group(CPU_HEAVY_GROUP)
CPU_HEAVY_TESTS = frozenset({
    "tests/e2e/test_poison.py::test_poison_goes_to_dead_letters_and_valid_records_come_out",
    "tests/e2e/test_worker_faults.py::test_worker_killed_five_times_loses_nothing",
})


class GroupedScheduling(LoadGroupScheduling):  # type: ignore[misc]  # xdist has no type hints
    """xdist's group scheduling, with the group of a listed test known by its node id."""

    def _split_scope(self, nodeid: str) -> str:
        if nodeid in CPU_HEAVY_TESTS:
            return CPU_HEAVY_GROUP
        return str(super()._split_scope(nodeid))

    def remove_node(self, node: Any) -> str | None:
        """A worker that ended: its unfinished tests go back to the queue, except the one it
        died in, which xdist reports as failed. (xdist's scope scheduling queues that one again
        too, so a test that kills its worker would take down one worker after another, where
        the default `--dist load`, used before, runs it once.)"""
        workload: dict[str, dict[str, bool]] = self.assigned_work.pop(node)
        unfinished = [(scope, nodeid) for scope, unit in workload.items()
                      for nodeid, done in unit.items() if not done]
        if not unfinished:
            return None
        scope, crashed = unfinished[0]  # units run in order, each test in order
        workload[scope][crashed] = True
        for scope, unit in workload.items():
            if not all(unit.values()):
                self.workqueue[scope] = unit
        for other in self.assigned_work:
            self._reschedule(other)
        return crashed
