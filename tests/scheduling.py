"""Which integration and e2e tests share a pytest-xdist worker.

The three longest fault tests (a traced worker, five killed ones: 2-4 minutes of CPU each)
run one after another on one worker: three at once on 2 cores starved the lighter tests beside
them past their deadlines (ci74). pytest-xdist's own `--dist loadgroup` groups nothing on
pytest 9.2 (it renames node ids, which pytest now ignores: pytest-xdist issue 1386), so the
Makefile's `--dist loadgroup` gets ``GroupedScheduling`` (tests/conftest.py), which reads the
group from ``CPU_HEAVY_TESTS``. The mark names the group at each test, and every collection
checks the two agree (``check_groups``), so that a renamed test cannot leave the group unseen.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from xdist.scheduler import LoadGroupScheduling

CPU_HEAVY_GROUP = "cpu_heavy"
CPU_HEAVY = pytest.mark.xdist_group(CPU_HEAVY_GROUP)
CPU_HEAVY_TESTS = frozenset({
    "tests/e2e/test_infra_faults.py::test_consumer_that_stops_reading_does_not_grow_the_worker",
    "tests/e2e/test_poison.py::test_poison_goes_to_dead_letters_and_valid_records_come_out",
    "tests/e2e/test_worker_faults.py::test_worker_killed_five_times_loses_nothing",
})


class GroupedScheduling(LoadGroupScheduling):  # type: ignore[misc]  # xdist has no type hints
    """xdist's group scheduling, with the group of a listed test known by its node id."""

    def _split_scope(self, nodeid: str) -> str:
        if nodeid in CPU_HEAVY_TESTS:
            return CPU_HEAVY_GROUP
        return str(super()._split_scope(nodeid))


def check_groups(items: Iterable[pytest.Item]) -> None:
    """Refuse a test marked with the group but missing from the list (renamed, or new)."""
    for item in items:
        marks = {str(mark.args[0]) for mark in item.iter_markers("xdist_group") if mark.args}
        nodeid = item.nodeid.split("@")[0]  # as xdist names it once it groups by itself again
        if CPU_HEAVY_GROUP in marks and nodeid not in CPU_HEAVY_TESTS:
            raise pytest.UsageError(f"{nodeid} is marked {CPU_HEAVY_GROUP} but not listed in "
                                    "tests/scheduling.py CPU_HEAVY_TESTS")
