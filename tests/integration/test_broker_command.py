"""`newsflow broker`: the embedded broker with the project's topics, stopped by Ctrl-C."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from kafka import KafkaAdminClient

from newsflow.broker import ensure_port_free, free_port
from newsflow.config import Settings
from tests.helpers import ManagedProcess, wait_until

pytestmark = pytest.mark.integration


def test_broker_command_declares_topics_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    settings = Settings()
    empty = tmp_path / "empty"  # works from any folder, an empty one included
    empty.mkdir()
    broker = ManagedProcess(["broker", "--port", str(port)], settings, tmp_path / "broker.log",
                            cwd=empty)
    broker.start()
    try:
        ready = f"export NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:{port}"
        wait_until(lambda: ready in broker.log(), 30, "the broker to declare its topics")
        admin = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{port}")
        try:
            expected = {settings.topic_raw, settings.topic_articles, settings.topic_duplicates,
                        settings.topic_deadletter, settings.topic_stories}
            assert expected <= set(admin.list_topics())
            described = admin.describe_topics([settings.topic_raw])
            assert len(described[0]["partitions"]) == settings.topic_partitions
        finally:
            admin.close()
        broker.process.send_signal(signal.SIGINT)  # type: ignore[union-attr]
        assert broker.wait(30) == 0
    finally:
        broker.kill()


def test_demo_on_an_unreachable_broker_gives_up_after_the_connect_timeout(
        tmp_path: Path) -> None:
    # The topics were created with a fixed 30 s wait, whatever the setting said.
    settings = Settings(kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",  # nothing listens
                        kafka_connect_timeout_seconds=2)
    demo = ManagedProcess(["demo"], settings, tmp_path / "demo.log").start()
    try:
        assert demo.wait(60) == 3, demo.log()[-2000:]
    finally:
        demo.kill()
    last = demo.log().rstrip().splitlines()[-1]
    assert last.startswith(f"newsflow demo: no broker at {settings.kafka_bootstrap_servers} "
                           "after 2 s"), last


def run_until_sigterm(port: int, log: Path, *then: signal.Signals) -> None:
    """`newsflow broker --port PORT` until its topics are declared, with a client connected,
    then SIGTERM (and the signals ``then``): it must exit 0, saying it stops the broker."""
    broker = ManagedProcess(["broker", "--port", str(port)], Settings(), log).start()
    ready = f"export NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:{port}"
    try:
        wait_until(lambda: ready in broker.log() or not broker.alive(), 30,
                   "the broker to declare its topics")
        assert ready in broker.log(), broker.log()[-2000:]
        admin = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{port}")
        try:
            for signum in (signal.SIGTERM, *then):
                broker.process.send_signal(signum)  # type: ignore[union-attr]
            assert broker.wait(30) == 0, broker.log()[-2000:]
        finally:
            admin.close()
        assert "stopping broker" in broker.log()
    finally:
        broker.kill()


def test_sigterm_stops_the_broker_before_the_command_exits_so_its_port_is_free_again(
        tmp_path: Path) -> None:
    # kill, a supervisor or docker stop send SIGTERM. The command used to end on the spot and
    # leave Tansu listening for seconds: a broker started again at once on the port failed
    # with "Address already in use".
    port = free_port()
    run_until_sigterm(port, tmp_path / "first.log")
    # Again on the port at once; a second signal (a script that kills twice, Ctrl-C after it)
    # does not cut the stop short either.
    run_until_sigterm(port, tmp_path / "again.log", signal.SIGINT)
    ensure_port_free("127.0.0.1", port, "the broker's port", "the broker's host")
