"""The embedded broker restarted under load: a producer keeps sending articles (and copies of
earlier ones) while `newsflow broker` is stopped and started again under a running worker."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest
from kafka import KafkaProducer

from newsflow.broker import free_port
from newsflow.config import Settings
from newsflow.processor import broker_reset
from tests.e2e.streams import check_outputs, traffic
from tests.helpers import (
    ManagedProcess,
    TopicReader,
    start_broker_command,
    stop_broker_command,
)

pytestmark = pytest.mark.e2e
RESTART_LINE = broker_reset.RESTART_LINE.split("{lost}")[0]
SEND_INTERVAL_SECONDS = 0.05  # about 20 articles a second, with the broker's acknowledgement
AFTER_RESTART_SECONDS = 8.0  # how long the sending goes on once the new broker is up


class Sender:
    """Sends ``traffic`` one record at a time, each acknowledged before the next, through the
    broker restart: a send that fails (the broker away, or a producer the new broker does not
    know) is given up and the producer replaced. Records when each record was acknowledged."""

    def __init__(self, settings: Settings, items: list[tuple[bytes, bytes, str]]) -> None:
        self.settings = settings
        self.items = items
        self.acked: list[tuple[float, str]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        producer: KafkaProducer | None = None
        for key, value, url in self.items:
            if self.stop.is_set():
                break
            try:
                if producer is None:
                    producer = KafkaProducer(bootstrap_servers=self.settings.require_bootstrap(),
                                             acks="all", max_block_ms=2000,
                                             request_timeout_ms=3000)
                producer.send(self.settings.topic_raw, key=key, value=value).get(timeout=5)
                self.acked.append((time.monotonic(), url))
            except Exception:  # the broker restarting: this record is not on the new broker
                if producer is not None:
                    producer.close(timeout=0)
                producer = None
            self.stop.wait(SEND_INTERVAL_SECONDS)
        if producer is not None:
            producer.close(timeout=5)

    def acked_after(self, moment: float) -> set[str]:
        return {url for at, url in self.acked if at > moment}


def test_a_worker_goes_on_when_the_broker_restarts_under_load(tmp_path: Path) -> None:
    port = free_port()
    settings = Settings(kafka_bootstrap_servers=f"127.0.0.1:{port}",
                        app_id=f"newsflow-test-{uuid.uuid4().hex[:8]}",
                        worker_web_port=free_port(), worker_data_dir=tmp_path / "worker")
    brokers = [start_broker_command(port, tmp_path / "broker-1.log")]
    worker = ManagedProcess(["worker"], settings, tmp_path / "worker.log").start()
    sender = Sender(settings, traffic(2000, seed=7))
    try:
        sender.thread.start()
        reader = TopicReader(settings, ["articles"])
        try:
            reader.wait_count("articles", 20, 120)  # the worker is busy when the broker stops
        finally:
            reader.close()
        stop_broker_command(brokers[0])
        brokers.append(start_broker_command(port, tmp_path / "broker-2.log"))
        up = time.monotonic()
        # The sending is the load under test: it goes on for a while after the restart.
        sender.stop.wait(AFTER_RESTART_SECONDS)
        sender.stop.set()
        sender.thread.join(30)
        sent = sender.acked_after(up)
        assert len(sent) > 50, f"only {len(sent)} records reached the new broker"
        reader = TopicReader(settings, ["articles", "duplicates", "deadletter"])
        try:
            records = reader.wait_for(
                lambda r: sent <= {x["url"] for x in r["articles"] + r["duplicates"]}, 180,
                "every article sent to the new broker")
        finally:
            reader.close()
        assert worker.alive(), worker.log()[-3000:]
    finally:
        sender.stop.set()
        worker.stop()
        for broker in brokers:
            broker.stop()
    check_outputs(records, sent)
    # The new broker's memory only: no copy is a duplicate of an article it does not hold.
    articles = {a["id"] for a in records["articles"]}
    assert all(d["duplicate_of"] in articles for d in records["duplicates"]), [
        (d["url"], d["duplicate_of"]) for d in records["duplicates"]
        if d["duplicate_of"] not in articles][:5]
    assert records["deadletter"] == []
    log = worker.log()
    assert sum(RESTART_LINE in line for line in log.splitlines()) == 1
    assert "UnknownError" not in log, "a write failed on the new broker"
    assert worker.process is not None and worker.process.returncode == 0, log[-3000:]
