"""A broker that lost the worker's topics: how the worker notices (topic ids, and the moments its
consumer asks), how it starts afresh, and how its internal topics are made fit to serve.

The consumer tests run the worker's real Faust consumer on batches from a stand-in for the
broker fetch (``tests/unit/worker_consumer.py``), with a stand-in guard that counts its checks.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from typing import Any, NoReturn

import pytest
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from kafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from newsflow.config import Settings
from newsflow.processor.broker_reset import TopicWatch, lost_topics, start_afresh
from newsflow.processor.fetch_wait import FetchWaitConsumer, FetchWaitTransport
from newsflow.processor.local_state import internal_topic, recreate_reason
from tests.unit.worker_consumer import Fetches, delivered, fetch_from, worker_consumer

pytestmark = pytest.mark.clock  # building the Faust app reads the clock

A, B = "01a22f95-174c-74d1-9039-88215c9d0094", "01a22f9a-2622-7742-beb2-dc6b28e7f50c"
NO_ID = "00000000-0000-0000-0000-000000000000"


def test_a_topic_gone_or_created_again_is_lost() -> None:
    known = {"raw": A, "prepared": A}
    assert lost_topics(known, {"raw": A, "prepared": A}) == []
    assert lost_topics(known, {"raw": B, "prepared": None}) == ["raw: created again",
                                                                "prepared: gone"]


def test_what_the_broker_did_not_say_or_cannot_say_is_not_lost() -> None:
    assert lost_topics({"raw": A}, {}) == []  # not described this time
    assert lost_topics({"raw": A}, {"raw": NO_ID}) == []  # no topic ids: cannot compare
    assert lost_topics({"raw": ""}, {"raw": B}) == []
    assert lost_topics({}, {"raw": None}) == []  # never seen: nothing to lose


def watch_answering(answers: list[dict[str, str | None] | Exception]) -> TopicWatch:
    watch = TopicWatch(Settings(kafka_bootstrap_servers="127.0.0.1:9"), ["raw", "prepared"])

    def describe() -> dict[str, str | None]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    watch.describe = describe  # type: ignore[method-assign]
    return watch


def test_the_watch_remembers_the_topics_as_first_seen() -> None:
    watch = watch_answering([{"raw": A, "prepared": None}, {"raw": A, "prepared": A},
                             KafkaConnectionError("down"), {"raw": B, "prepared": A}])
    assert watch.check() == []  # prepared not there yet (Faust creates it): nothing known
    assert watch.check() == []
    assert watch.known == {"raw": A, "prepared": A}
    assert watch.check() == []  # a broker that cannot be asked loses nothing
    assert watch.check() == ["raw: created again"]
    assert watch.known == {"raw": A, "prepared": A}  # still the old broker's, for the log


class Lost(Exception):
    """What the stand-in guard raises where the worker would start afresh."""


class CountingGuard:
    def __init__(self, lose: bool = False) -> None:
        self.checks = 0
        self.lose = lose

    async def verify(self) -> None:
        self.checks += 1
        if self.lose:
            raise Lost


def guarded_consumer(guard: CountingGuard) -> tuple[FetchWaitConsumer, str]:
    consumer, topic = worker_consumer()
    transport = consumer.transport
    assert isinstance(transport, FetchWaitTransport)
    transport.topic_guard = guard
    return consumer, topic


async def test_records_on_a_partition_read_in_order_are_not_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    guard = CountingGuard()
    consumer, topic = guarded_consumer(guard)
    fetches = Fetches(topic, [[5, 6], [7, 8], [9]])
    fetch_from(fetches, consumer, monkeypatch)
    await consumer.seek(fetches.tp, 5)  # as after the seek to the committed offset
    assert await delivered(consumer, 3) == [5, 6, 7, 8, 9]
    assert guard.checks == 0


async def test_the_first_records_since_the_seek_wait_for_one_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    guard = CountingGuard()
    consumer, topic = guarded_consumer(guard)
    fetches = Fetches(topic, [[0, 1, 2], [3]])  # a partition never committed: nothing due
    fetch_from(fetches, consumer, monkeypatch)
    assert await delivered(consumer, 2) == [0, 1, 2, 3]
    assert guard.checks == 1


async def test_a_read_position_that_went_back_waits_for_a_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A restarted broker's log is shorter: its fetch answers "out of range" and aiokafka starts
    # the partition again from its beginning.
    guard = CountingGuard()
    consumer, topic = guarded_consumer(guard)
    fetches = Fetches(topic, [[40, 41], [0, 1], [2]])
    fetch_from(fetches, consumer, monkeypatch)
    await consumer.seek(fetches.tp, 40)
    assert await delivered(consumer, 3) == [40, 41, 0, 1, 2]
    assert guard.checks == 1  # once for the offset due, not per record


async def test_a_lost_topic_stops_the_record_before_it_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumer, topic = guarded_consumer(CountingGuard(lose=True))
    fetches = Fetches(topic, [[40], [0, 1]])
    fetch_from(fetches, consumer, monkeypatch)
    await consumer.seek(fetches.tp, 40)
    assert await delivered(consumer, 1) == [40]
    handed_on: list[int] = []
    with pytest.raises(Lost):
        async for _, message in consumer.getmany(1.0):
            handed_on.append(message.offset)
    assert handed_on == []


async def test_a_rebalance_checks_the_topics_before_faust_does_anything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []

    class Guard:
        async def verify(self) -> None:
            calls.append("verify")

    async def faust_revocation(self: Any, revoked: set[TP]) -> None:
        calls.append("faust")

    monkeypatch.setattr(faust_aiokafka.Consumer, "on_partitions_revoked", faust_revocation)
    consumer, _ = worker_consumer()
    transport = consumer.transport
    assert isinstance(transport, FetchWaitTransport)
    transport.topic_guard = Guard()
    await consumer.on_partitions_revoked(set())
    assert calls == ["verify", "faust"]


def test_a_worker_starts_afresh_with_its_own_command_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    executed: list[tuple[str, list[str]]] = []

    def execv(path: str, argv: list[str]) -> NoReturn:
        executed.append((path, argv))
        raise Lost

    monkeypatch.setattr(os, "execv", execv)
    monkeypatch.setattr(sys, "orig_argv", ["python3", "-m", "newsflow", "worker"])
    with caplog.at_level(logging.WARNING), pytest.raises(Lost):
        start_afresh(["raw: created again", "prepared: gone"])
    assert executed == [(sys.executable, [sys.executable, "-m", "newsflow", "worker"])]
    assert caplog.messages == [
        "newsflow worker: the broker lost the worker's topics (raw: created again; prepared: "
        "gone; a broker with memory storage restarted, or the topics were deleted); starting "
        "the worker afresh, its table rebuilt from what the broker holds now"]


def test_children_a_process_starts_with_are_waited_for() -> None:
    # A process executed afresh keeps the children of its previous image; here, a child the
    # process started itself without Python knowing (posix_spawn) stands in for them.
    script = textwrap.dedent("""
        import os, time
        from pathlib import Path
        from newsflow.processor.broker_reset import reap_inherited_children

        pid = os.posix_spawn("/bin/true", ["true"], dict(os.environ))
        stat = Path(f"/proc/{pid}/stat")
        deadline = time.monotonic() + 10
        while stat.read_text().split(")")[1].split()[0] != "Z":  # exited, not waited for
            assert time.monotonic() < deadline
            time.sleep(0.01)
        reap_inherited_children()
        while stat.exists():  # waited for: gone from the process table
            assert time.monotonic() < deadline, "still a zombie"
            time.sleep(0.01)
        print("reaped")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.stdout.strip() == "reaped", done.stderr


def test_an_internal_topic_fit_to_serve_is_kept() -> None:
    assert recreate_reason(1, 1, []) is None


def test_an_internal_topic_that_cannot_serve_is_made_again() -> None:
    assert "it has 4 partitions, the worker needs 1" in str(recreate_reason(4, 1, []))
    # Records the topic reports but no fetch returns: written before the topic existed.
    assert "it held records written before it was created" in str(recreate_reason(1, 1, [0]))


class FakeAdmin:
    def __init__(self, exists: bool, partitions: int) -> None:
        self.exists = exists
        self.partitions = partitions
        self.deleted: list[str] = []

    def create_topics(self, topics: list[Any]) -> None:
        if self.exists:
            raise TopicAlreadyExistsError
        self.exists = True
        self.partitions = topics[0].num_partitions

    def describe_topics(self, names: list[str]) -> list[dict[str, Any]]:
        return [{"name": names[0], "error_code": 0,
                 "partitions": [{"partition_index": p} for p in range(self.partitions)]}]

    def delete_topics(self, names: list[str]) -> None:
        self.deleted += names
        self.exists = False


def test_a_topic_created_with_unreadable_records_is_deleted_once_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    admin = FakeAdmin(exists=False, partitions=0)
    settings = Settings(kafka_bootstrap_servers="127.0.0.1:9")
    recreated: set[str] = set()
    found = [{"app-prepared": [0]}, {"app-prepared": [0]}, {}]  # twice, then a whole topic
    asked: list[dict[str, int]] = []

    def unreadable(topics: Mapping[str, int]) -> dict[str, list[int]]:
        asked.append(dict(topics))
        return found.pop(0)

    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            with pytest.raises(LookupError):  # the caller's retry creates it again
                internal_topic(admin, settings, "app-prepared", 1, {}, unreadable,  # type: ignore[arg-type]
                               recreated)
        internal_topic(admin, settings, "app-prepared", 1, {}, unreadable,  # type: ignore[arg-type]
                       recreated)
    assert admin.deleted == ["app-prepared", "app-prepared"]
    assert asked == [{"app-prepared": 1}] * 3
    assert [m for m in caplog.messages if m.startswith("recreating topic app-prepared")] == [
        "recreating topic app-prepared: it held records written before it was created, which "
        "cannot be read (a worker wrote to it while the embedded broker restarted); its "
        "records are dropped"]


def test_a_topic_that_existed_is_not_read() -> None:
    admin = FakeAdmin(exists=True, partitions=1)

    def unreadable(topics: Mapping[str, int]) -> dict[str, list[int]]:
        raise AssertionError("only a topic created now is read")

    internal_topic(admin, Settings(kafka_bootstrap_servers="127.0.0.1:9"),  # type: ignore[arg-type]
                   "app-prepared", 1, {}, unreadable, set())
    assert admin.deleted == []


def stop_script(body: str) -> subprocess.CompletedProcess[str]:
    script = textwrap.dedent("""
        import os, signal, sys
        from newsflow.processor.broker_reset import stop_before_exec
        def stopped(name):
            print("stopped by", name, flush=True)
            os._exit(0)
    """) + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=False)


def test_a_stop_that_comes_while_the_children_stop_is_kept_not_lost() -> None:
    # Before the exec the event loop never runs again: a SIGTERM it would have acted on was
    # forgotten, and the worker started afresh instead of stopping.
    result = stop_script("""
        stop_before_exec(lambda: print("closing", flush=True), stopped)
        print("to exec", flush=True)
        os.kill(os.getpid(), signal.SIGTERM)  # after the close, before the exec
        print("exec'd", flush=True)
    """)
    assert (result.returncode, result.stdout.splitlines()) == (
        0, ["closing", "to exec", "stopped by SIGTERM"]), result.stderr
    result = stop_script("""
        stop_before_exec(lambda: os.kill(os.getpid(), signal.SIGINT), stopped)
        print("to exec", flush=True)
    """)
    assert (result.returncode, result.stdout.splitlines()) == (0, ["stopped by SIGINT"]), (
        result.stderr)
