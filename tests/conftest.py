"""Fixtures that start real processes: one embedded broker per test session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from newsflow.broker import EmbeddedBroker
from newsflow.config import Settings
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


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A skipped test is not a passing one: fail the run if anything was skipped."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and reporter.stats.get("skipped") and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
