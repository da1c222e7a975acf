"""Fixtures that start real processes: one embedded broker per test session."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import tests.ports  # noqa: F401 - first: the test processes' free ports (see tests/ports.py)
from newsflow.broker import EmbeddedBroker
from newsflow.config import Settings
from tests.clock_readers import clock_use
from tests.helpers import ManagedProcess, TopicReader, isolated_settings
from tests.integration.fetcher_servers import ScriptedServer


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    log = tmp_path_factory.mktemp("broker") / "broker.log"
    with EmbeddedBroker(log_path=log) as running:
        yield running


@pytest.fixture
def settings(broker: EmbeddedBroker, tmp_path: Path) -> Settings:
    return isolated_settings(broker.bootstrap, tmp_path)


@pytest.fixture
def worker(settings: Settings, tmp_path: Path) -> Iterator[ManagedProcess]:
    process = ManagedProcess(["worker"], settings, tmp_path / "worker.log").start()
    yield process
    process.stop()


@pytest.fixture
def reader(settings: Settings) -> Iterator[TopicReader]:
    topic_reader = TopicReader(settings, ["articles", "duplicates", "deadletter", "stories"])
    yield topic_reader
    topic_reader.close()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    """An HTTP server on 127.0.0.1 whose routes a test sets; it logs every request."""
    scripted = ScriptedServer()
    yield scripted
    scripted.close()


UNIT_TESTS = Path(__file__).parent / "unit"


@pytest.hookimpl(tryfirst=True)  # before -m deselects anything: every run checks every module
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuse an unmarked unit-test module that exercises code reading the wall clock: the
    shifted-clock run runs only tests marked `clock`, and forgetting the mark must not quietly
    take a test out of it. (Integration and e2e modules are chosen by hand: see the Makefile.)"""
    unmarked = {}
    for item in items:
        path = Path(item.path)
        if (path.parent == UNIT_TESTS and item.get_closest_marker("clock") is None
                and (why := clock_use(path))):
            unmarked[path.name] = why
    if unmarked:
        listed = "\n".join(f"  tests/unit/{name}: {why}" for name, why in sorted(unmarked.items()))
        raise pytest.UsageError(
            "these unit-test modules exercise the wall clock but are not marked `clock`, so "
            f"the shifted-clock run would skip them:\n{listed}\n"
            "add `pytestmark = pytest.mark.clock` to each (see tests/clock_readers.py)")


def pytest_sessionstart(session: pytest.Session) -> None:
    """In the shifted-clock run (`make test-shifted-clock` sets TESTS_CLOCK_SHIFT_DAYS),
    refuse to pass unless the clock really is that far ahead: a guard that silently ran on
    today's date would prove nothing. The last commit's time stands in for "today"."""
    expected = os.environ.get("TESTS_CLOCK_SHIFT_DAYS")
    if not expected:
        return
    committed = subprocess.run(["git", "log", "-1", "--format=%ct"], capture_output=True,
                               text=True, check=False, cwd=Path(__file__).parent)
    if committed.returncode != 0 or not committed.stdout.strip():
        pytest.exit("shifted-clock run: cannot read the last commit's time (git log)", 1)
    ahead_days = (time.time() - int(committed.stdout)) / 86400
    if ahead_days < float(expected) - 1:
        pytest.exit(f"shifted-clock run: the clock is {ahead_days:.1f} days past the last "
                    f"commit, expected {expected}; is libfaketime working?", 1)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A skipped test is not a passing one: fail the run if anything was skipped."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and reporter.stats.get("skipped") and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED

