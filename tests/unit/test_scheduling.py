"""The integration and e2e runs' scheduler (tests/scheduling.py): the CPU-heavy tests go to one
worker, one after another, and a test that kills its worker is not run again."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from tests.scheduling import CPU_HEAVY_TESTS, GroupedScheduling

ROOT = Path(__file__).resolve().parents[2]
LIGHT = [f"tests/integration/test_light.py::test_{n}" for n in range(8)]
HEAVY = sorted(CPU_HEAVY_TESTS)


def marked_cpu_heavy() -> set[str]:
    """Node ids of the tests decorated with ``@CPU_HEAVY``, read from the sources."""
    found = set()
    for path in sorted((ROOT / "tests").glob("*/test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and any(
                    isinstance(d, ast.Name) and d.id == "CPU_HEAVY" for d in node.decorator_list):
                found.add(f"{path.relative_to(ROOT).as_posix()}::{node.name}")
    return found


def test_the_marked_tests_are_the_listed_ones() -> None:
    # A renamed or newly marked test would otherwise leave the group without a word.
    assert marked_cpu_heavy() == CPU_HEAVY_TESTS


class Config:
    class option:  # as pytest's config names it
        loadscopereorder = True

    def getvalue(self, name: str) -> Any:
        return {"tx": ["3*popen"]}[name]


class Worker:
    def __init__(self, name: str) -> None:
        self.name = name
        self.gateway = type("Gateway", (), {"id": name})()
        self.sent: list[int] = []
        self.shutting_down = False

    def send_runtest_some(self, indexes: list[int]) -> None:
        self.sent.extend(indexes)

    def shutdown(self) -> None:
        self.shutting_down = True


def scheduled(collection: list[str]) -> tuple[GroupedScheduling, list[Worker]]:
    scheduler = GroupedScheduling(Config())
    workers = [Worker(f"gw{n}") for n in range(3)]
    for worker in workers:
        scheduler.add_node(worker)
    for worker in workers:
        scheduler.add_node_collection(worker, collection)
    scheduler.schedule()
    return scheduler, workers


def test_the_heavy_tests_share_one_worker() -> None:
    collection = LIGHT[:4] + HEAVY + LIGHT[4:]
    scheduler, workers = scheduled(collection)
    ran: dict[str, list[str]] = {w.name: [] for w in workers}
    while any(worker.sent for worker in workers):
        for worker in workers:
            if worker.sent:
                index = worker.sent.pop(0)
                ran[worker.name].append(collection[index])
                scheduler.mark_test_complete(worker, index)
    assert sorted(nodeid for tests in ran.values() for nodeid in tests) == sorted(collection)
    [holder] = [name for name, tests in ran.items() if set(HEAVY) & set(tests)]
    assert set(HEAVY) <= set(ran[holder])


def test_a_test_that_kills_its_worker_is_not_run_again() -> None:
    collection = HEAVY + LIGHT
    scheduler, workers = scheduled(collection)
    [holder] = [w for w in workers if {collection[i] for i in w.sent} & set(HEAVY)]
    crashed = collection[holder.sent[0]]
    assert scheduler.remove_node(holder) == crashed  # it died in its first test
    others = [w for w in workers if w is not holder]
    queued = [nodeid for unit in scheduler.workqueue.values()
              for nodeid, done in unit.items() if not done]
    sent = [collection[i] for w in others for i in w.sent]
    # The other heavy tests are run by another worker (or wait for one), the crashed one not.
    assert crashed not in queued + sent
    assert set(HEAVY) - {crashed} <= set(queued + sent)
