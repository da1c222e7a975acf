"""newsflow.client and `newsflow tail` on the real broker: a fresh group reads at once, an early
close never leaves a group unusable, redeliveries are dropped, positions are committed."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic

from newsflow.broker import EmbeddedBroker
from newsflow.client import NewsConsumer, Record
from newsflow.config import Settings
from newsflow.core.pipeline import Origin
from newsflow.errors import TopicNotFound
from newsflow.pipeline_setup import build_pipeline
from newsflow.topics import ensure_topics
from tests.helpers import SEEDS, isolated_settings, wait_until

pytestmark = pytest.mark.integration
NOW = datetime(2026, 2, 11, 12, 0, tzinfo=UTC)


def seed_articles(settings: Settings) -> list[dict[str, Any]]:
    """The five seeds as the pipeline emits them (real records, valid against schemas/)."""
    pipeline = build_pipeline(settings)
    index = pipeline.new_index()
    articles = []
    for n, seed in enumerate(sorted(SEEDS.glob("*.txt"))):
        raw = {"url": f"https://outlet{n}.example/{seed.stem}", "title": None,
               "source": {"id": f"outlet-{n}", "name": f"Outlet {n}"},
               "body": seed.read_text(encoding="utf-8"), "content_type": "text/plain",
               "fetched_at": "2026-02-11T11:00:00Z"}
        _, emissions = pipeline.decide(pipeline.prepare(raw, Origin("t", 0, n), NOW), index)
        articles += [e.record for e in emissions if e.topic == "articles"]
    assert len(articles) == 5
    return articles


def publish(settings: Settings, topic: str, records: list[dict[str, Any]]) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.require_bootstrap(), acks="all")
    try:
        for record in records:
            producer.send(topic, key=record["id"].encode(), value=json.dumps(record).encode())
        producer.flush(30)
    finally:
        producer.close()


def take(consumer: NewsConsumer, count: int, timeout: float = 20.0) -> list[Record]:
    got: list[Record] = []
    consumer.run(got.append, max_records=count, timeout=timeout)
    return got


def test_a_fresh_group_reads_within_seconds_and_an_early_close_leaves_it_usable(
    settings: Settings,
) -> None:
    articles = seed_articles(settings)
    publish(settings, settings.topic_articles, articles)
    # A consumer in G that closes within a second of starting, having read nothing.
    started = time.monotonic()
    NewsConsumer("articles", settings, group="G").close()
    assert time.monotonic() - started < 2
    # The next member of G still reads, and a fresh group gets its first record at once.
    started = time.monotonic()
    with NewsConsumer("articles", settings, group="G") as consumer:
        first = take(consumer, 1)
        assert time.monotonic() - started < 5, "first record took too long"
        rest = take(consumer, 4)
    assert {r.article["id"] for r in first + rest} == {a["id"] for a in articles}
    assert all(r.article["story"]["id"] and r.article["tags"] for r in first + rest)
    # Closed after handling all five: G's next member starts after them.
    publish(settings, settings.topic_articles, articles[:1])  # a redelivery of an old one...
    with NewsConsumer("articles", settings, group="G") as consumer:
        assert [r.offset for r in take(consumer, 1)]  # ...is delivered to a new process
        assert take(consumer, 1, timeout=1.5) == []


def test_redeliveries_are_dropped_and_positions_committed_after_handling(
    settings: Settings,
) -> None:
    articles = seed_articles(settings)
    # Everything on one partition, in order; the first two arrive twice (at-least-once).
    producer = KafkaProducer(bootstrap_servers=settings.require_bootstrap(), acks="all")
    for record in [*articles, articles[0], articles[1]]:
        producer.send(settings.topic_articles, value=json.dumps(record).encode(), partition=0)
    producer.flush(30)
    producer.close()
    with NewsConsumer("articles", settings, group="H") as consumer:
        got = take(consumer, 7, timeout=4)
        assert [r.article["id"] for r in got] == [a["id"] for a in articles]
        assert consumer.redeliveries == 2
    # A handler that fails on the third record: the first two were handled and are committed;
    # the third was not, so the group's next member starts with it.
    handled: list[str] = []

    def fragile(record: Record) -> None:
        if len(handled) == 2:
            raise RuntimeError("downstream outage")
        handled.append(record.article["id"])

    with NewsConsumer("articles", settings, group="J") as consumer, \
            pytest.raises(RuntimeError, match="outage"):
        consumer.run(fragile, timeout=20)
    with NewsConsumer("articles", settings, group="J") as consumer:
        assert take(consumer, 1)[0].article["id"] == articles[2]["id"]


def test_invalid_messages_are_skipped_with_a_warning_not_handed_out(settings: Settings) -> None:
    articles = seed_articles(settings)
    broken = dict(articles[0], word_count="many")
    producer = KafkaProducer(bootstrap_servers=settings.require_bootstrap(), acks="all")
    producer.send(settings.topic_articles, value=b"not json", partition=0)
    producer.send(settings.topic_articles, value=json.dumps(broken).encode(), partition=0)
    producer.send(settings.topic_articles, value=json.dumps(articles[1]).encode(), partition=0)
    producer.flush(30)
    producer.close()
    with NewsConsumer("articles", settings) as consumer:
        got = take(consumer, 1)
        assert got[0].article["id"] == articles[1]["id"] and consumer.invalid == 2


def tail(settings: Settings, cwd: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    return subprocess.run([sys.executable, "-m", "newsflow", "tail", *args], cwd=cwd,
                          env=env | settings.to_env(), capture_output=True, text=True,
                          timeout=timeout)


def test_tail_prints_records_and_groups_stay_usable(settings: Settings, tmp_path: Path) -> None:
    articles = seed_articles(settings)
    publish(settings, settings.topic_articles, articles)
    empty = tmp_path / "empty"
    empty.mkdir()
    ids = {a["id"] for a in articles}
    for group in ([], ["--group", "second"], ["--group", "second"]):
        done = tail(settings, empty, "articles", "--from-beginning", "--max", "5",
                    "--timeout", "60", *group)
        assert done.returncode == 0, done.stderr[-2000:]
        lines = done.stdout.splitlines()
        assert {json.loads(line)["id"] for line in lines} == ids and len(lines) == 5
    # Without --from-beginning, the group resumes after what it handled: nothing new, exit 0
    # at the timeout.
    done = tail(settings, empty, "articles", "--group", "second", "--timeout", "2")
    assert done.returncode == 0 and done.stdout == "", done.stderr[-2000:]
    # A topic by name, and one that does not exist.
    done = tail(settings, empty, settings.topic_articles, "--from-beginning", "--max", "1",
                "--timeout", "30")
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 1
    missing = settings.model_copy(update={"kafka_connect_timeout_seconds": 2.0})
    done = tail(missing, empty, "no-such-topic", "--timeout", "5")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"newsflow tail: topic no-such-topic does not exist on {settings.kafka_bootstrap_servers}"]
    started = time.monotonic()  # a role, mistyped; --timeout bounds the wait for the topic
    done = tail(settings, empty, "article", "--timeout", "3")
    assert time.monotonic() - started < 20, "waited out the 30 s connect timeout"
    assert done.returncode == 2 and done.stderr.strip().endswith(
        f"topic article does not exist on {settings.kafka_bootstrap_servers} "
        "(did you mean articles?)"), done.stderr[-500:]
    # The role was right and its variable names a topic that is not there: the hint says so
    # (it said "did you mean articles?" to a user who had typed articles).
    renamed = settings.model_copy(update={"topic_articles": "news.articles.v2"})
    done = tail(renamed, empty, "articles", "--timeout", "3")
    assert done.returncode == 2 and done.stderr.strip().endswith(
        f"topic news.articles.v2 does not exist on {settings.kafka_bootstrap_servers} (the "
        "articles topic, as NEWSFLOW_TOPIC_ARTICLES names it: is the name right, and has a "
        "worker created it?)"), done.stderr[-500:]
    assert list(empty.iterdir()) == []


def test_tail_whose_output_cannot_be_written_stops_in_one_line_and_loses_no_record(
        settings: Settings, tmp_path: Path) -> None:
    # `tail > /dev/full` ended on an OSError traceback; the record whose line failed must not be
    # acknowledged, so that the group reads it again.
    articles = seed_articles(settings)
    publish(settings, settings.topic_articles, articles)
    first = tail(settings, tmp_path, "articles", "--from-beginning", "--group", "g", "--max", "2",
                 "--timeout", "60")
    assert first.returncode == 0, first.stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    with open("/dev/full", "w") as full:  # every write: "No space left on device"
        failed = subprocess.run(
            [sys.executable, "-m", "newsflow", "tail", "articles", "--group", "g", "--max", "1",
             "--timeout", "60"], cwd=tmp_path, env=env | settings.to_env(), stdout=full,
            stderr=subprocess.PIPE, text=True, timeout=120)
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines() == [
        "newsflow tail: cannot write output: No space left on device"]
    rest = tail(settings, tmp_path, "articles", "--group", "g", "--max", "3", "--timeout", "60")
    assert rest.returncode == 0, rest.stderr[-2000:]
    read = [json.loads(line)["id"] for line in (first.stdout + rest.stdout).splitlines()]
    assert sorted(read) == sorted(a["id"] for a in articles)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_tail_stopped_by_a_signal_says_so_and_its_group_resumes_after_what_it_printed(
        settings: Settings, tmp_path: Path, signum: signal.Signals) -> None:
    # SIGTERM (`timeout`, a service manager) ended tail on the spot, without a word.
    articles = seed_articles(settings)
    publish(settings, settings.topic_articles, articles)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    group = f"stopped-{signum.name}"
    reader = subprocess.Popen(
        [sys.executable, "-m", "newsflow", "tail", "articles", "--from-beginning", "--group",
         group], cwd=tmp_path, env=env | settings.to_env(), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        assert reader.stdout is not None
        printed = [reader.stdout.readline() for _ in articles]  # all printed: then waiting
        reader.send_signal(signum)
        _, err = reader.communicate(timeout=60)
    finally:
        if reader.poll() is None:
            reader.kill()
    assert reader.returncode == 130
    assert err.strip().splitlines() == [
        f"newsflow tail: interrupted by {signum.name}; every record printed before it counts "
        "as read"]
    assert sorted(json.loads(line)["id"] for line in printed) == sorted(a["id"] for a in articles)
    again = tail(settings, tmp_path, "articles", "--group", group, "--timeout", "3")
    assert again.returncode == 0 and again.stdout == "", "printed records came again"


def readme_example() -> str:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Consuming newsflow"):]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert code is not None
    source = code.group(1)
    assert len(source.strip().splitlines()) <= 20
    assert "consumer.run(handle)" in source
    return source


def test_the_readme_example_service_runs(settings: Settings, tmp_path: Path) -> None:
    """The README's example, as printed, against the real broker (stopped after five records)."""
    source = readme_example()
    script = tmp_path / "service.py"
    script.write_text(source.replace("consumer.run(handle)",
                                     "consumer.run(handle, max_records=5, timeout=60)"))
    articles = seed_articles(settings)
    publish(settings, settings.topic_articles, articles)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env | settings.to_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert len(lines) == 5 and all("story=s" in line and "https://outlet" in line for line in lines)


def test_the_readme_example_service_stops_on_ctrl_c_without_a_traceback(
        settings: Settings, tmp_path: Path) -> None:
    # As printed, the example ended a newcomer's Ctrl-C on a KeyboardInterrupt traceback.
    script = tmp_path / "service.py"
    script.write_text(readme_example())
    articles = seed_articles(settings)
    publish(settings, settings.topic_articles, articles)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    service = subprocess.Popen(
        [sys.executable, str(script)], cwd=tmp_path,
        env=env | settings.to_env() | {"PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert service.stdout is not None
        printed = [service.stdout.readline() for _ in articles]  # all handled: then waiting
        service.send_signal(signal.SIGINT)
        _, err = service.communicate(timeout=60)
    finally:
        if service.poll() is None:
            service.kill()
    assert service.returncode == 0 and "Traceback" not in err, err[-2000:]
    assert all("story=s" in line for line in printed)
    # What it handled was committed on the way out: the group resumes after it. The last
    # record may come again: a Ctrl-C just after its line, before its handler returned, leaves
    # it unhandled (README, "Ctrl-C or SIGTERM during run()").
    with NewsConsumer("articles", settings, group="my-service") as consumer:
        again = take(consumer, len(articles), timeout=3)
    assert len(again) <= 1, [record.key for record in again]
    assert all(record.article["canonical_url"] in printed[-1] for record in again)


def send(settings: Settings, values: list[bytes], key: bytes | None = None) -> None:
    """``values`` to partition 0 of the articles topic, in order."""
    producer = KafkaProducer(bootstrap_servers=settings.require_bootstrap(), acks="all")
    try:
        for value in values:
            producer.send(settings.topic_articles, key=key, value=value, partition=0)
        producer.flush(30)
    finally:
        producer.close()


def test_a_record_whose_handler_failed_comes_again_to_the_same_consumer(
    settings: Settings,
) -> None:
    articles = seed_articles(settings)
    send(settings, [json.dumps(a).encode() for a in articles])
    handled: list[str] = []
    failures = 0

    def fails_once_on_the_third(record: Record) -> None:
        nonlocal failures
        if len(handled) == 2 and not failures:
            failures += 1
            raise RuntimeError("downstream outage")
        handled.append(record.article["id"])

    with NewsConsumer("articles", settings, group="retry") as consumer:
        with pytest.raises(RuntimeError, match="outage"):
            consumer.run(fails_once_on_the_third, timeout=20)
        # The service catches the error and carries on with the same consumer: the failed
        # record is handed out again first, not skipped (and not dropped as a redelivery).
        assert consumer.run(fails_once_on_the_third, max_records=3, timeout=20) == 3
        assert consumer.redeliveries == 0
        # A loop that stops before asking for the next record leaves that record unhandled.
        send(settings, [json.dumps(articles[0] | {"fetched_at": "2026-02-12T11:00:00Z"}).encode()])
        for record in consumer:
            kept = record.offset
            break
        assert [r.offset for r in take(consumer, 1)] == [kept]
    assert handled == [a["id"] for a in articles]
    with NewsConsumer("articles", settings, group="retry") as consumer:
        assert take(consumer, 1, timeout=1.5) == [], "everything handled was committed"


def test_a_group_that_starts_at_the_end_resumes_there_after_handling_nothing(
    settings: Settings,
) -> None:
    articles = seed_articles(settings)
    send(settings, [json.dumps(articles[0]).encode()])  # before the group existed: not for it
    with NewsConsumer("articles", settings, group="late", reset="latest") as consumer:
        assert take(consumer, 1, timeout=1.5) == []
    send(settings, [json.dumps(articles[1]).encode()])  # while the service is down
    with NewsConsumer("articles", settings, group="late", reset="latest") as consumer:
        assert [r.article["id"] for r in take(consumer, 1)] == [articles[1]["id"]]
    # "latest" is where the topic ended when the consumer was made, not at its first read.
    with NewsConsumer("articles", settings, start="latest") as consumer:
        send(settings, [json.dumps(articles[2]).encode()])
        assert [r.article["id"] for r in take(consumer, 1)] == [articles[2]["id"]]


def test_a_timeout_stops_reading_even_with_records_fetched(settings: Settings) -> None:
    articles = seed_articles(settings)
    send(settings, [json.dumps(a).encode() for a in articles])
    with NewsConsumer("articles", settings, group="slow") as consumer:
        assert take(consumer, 1)  # the other four are fetched with it, waiting in the buffer

        def slow(record: Record) -> None:
            time.sleep(0.6)  # the handler's work, not synchronisation

        started = time.monotonic()
        handled = consumer.run(slow, timeout=1.0)
        assert handled == 2 and time.monotonic() - started < 2.5
        assert len(take(consumer, 2, timeout=20)) == 2, "the rest is read later, not lost"


def test_fields_added_to_a_schema_later_and_topic_names_are_read_as_their_role(
    settings: Settings,
) -> None:
    articles = seed_articles(settings)
    newer = articles[0] | {"added_in_a_later_release": {"any": "value"}}
    missing = {k: v for k, v in articles[1].items() if k != "word_count"}
    send(settings, [json.dumps(newer).encode(), json.dumps(missing).encode(),
                    json.dumps(articles[2]).encode()], key=b"\xff\xfe-key")
    with NewsConsumer(settings.topic_articles, settings) as consumer:
        got = take(consumer, 2)
        assert consumer.kind == "articles" and consumer.invalid == 1
    assert [r.article["id"] for r in got] == [articles[0]["id"], articles[2]["id"]]
    assert got[0].value["added_in_a_later_release"] == {"any": "value"}
    assert got[0].key_bytes == b"\xff\xfe-key" and got[0].key == "\ufffd\ufffd-key"


def test_a_paused_broker_does_not_end_a_reading_service(tmp_path: Path) -> None:
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as broker:
        settings = isolated_settings(broker.bootstrap, tmp_path, kafka_connect_timeout_seconds=10)
        articles = seed_articles(settings)
        send(settings, [json.dumps(articles[0]).encode()])
        with NewsConsumer("articles", settings, group="outage") as consumer:
            assert len(take(consumer, 1)) == 1  # handled, its position not yet committed
            assert broker.process is not None
            os.kill(broker.process.pid, signal.SIGSTOP)
            try:
                started = time.monotonic()
                assert take(consumer, 1, timeout=3) == []  # the commit fails: warned, not raised
                assert time.monotonic() - started < 6, "the deadline bounds the commit"
            finally:
                os.kill(broker.process.pid, signal.SIGCONT)
            send(settings, [json.dumps(articles[1]).encode()])
            assert [r.article["id"] for r in take(consumer, 1, timeout=30)] == [articles[1]["id"]]
        with NewsConsumer("articles", settings, group="outage") as consumer:
            assert take(consumer, 1, timeout=1.5) == [], "both positions were committed"


def test_closing_on_a_frozen_broker_waits_seconds_for_the_commit_not_the_request_timeout(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    """The end of a `with` block on a paused broker waited kafka-python's whole request timeout
    (30 s) for the commit; what it cannot commit is delivered again, so it waits a few seconds."""
    from newsflow.client.consumer import CLOSE_COMMIT_TIMEOUT_SECONDS

    with EmbeddedBroker(log_path=tmp_path / "broker.log") as broker:
        settings = isolated_settings(broker.bootstrap, tmp_path, kafka_connect_timeout_seconds=10)
        articles = seed_articles(settings)
        send(settings, [json.dumps(articles[0]).encode()])
        consumer = NewsConsumer("articles", settings, group="frozen-close")
        assert len(take(consumer, 1)) == 1  # handled, its position not yet committed
        assert broker.process is not None
        os.kill(broker.process.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            with caplog.at_level(logging.WARNING, logger="newsflow.client.consumer"):
                consumer.close()
            # A bound, not a speed: 30 s before (the margin is for a loaded machine).
            assert time.monotonic() - started < CLOSE_COMMIT_TIMEOUT_SECONDS + 8
        finally:
            os.kill(broker.process.pid, signal.SIGCONT)
        # (The broker, resumed, may still apply the commit it had received: it is not asked.)
        assert any("could not commit positions at close" in m for m in caplog.messages)


def test_story_rollups_emitted_again_with_only_a_new_updated_at_are_dropped(
    settings: Settings,
) -> None:
    state = {"schema_version": 1, "id": "s1", "title": "T", "first_seen": "2026-02-11T10:00:00Z",
             "last_seen": "2026-02-11T10:00:00Z", "articles": ["a1"], "sources": ["x"],
             "tags": [], "updated_at": "2026-02-11T10:00:01Z"}
    grown = state | {"articles": ["a1", "a2"], "updated_at": "2026-02-11T10:00:02Z"}
    # What a worker restarted mid-stream writes: each state again, stamped with the time it
    # reprocessed the article.
    again = grown | {"updated_at": "2026-02-11T10:09:00Z"}
    producer = KafkaProducer(bootstrap_servers=settings.require_bootstrap(), acks="all")
    for value in (state, grown, again, grown):
        producer.send(settings.topic_stories, value=json.dumps(value).encode(), partition=0)
    producer.flush(30)
    producer.close()
    with NewsConsumer("stories", settings) as consumer:
        got = take(consumer, 4, timeout=4)
        assert [r.story["articles"] for r in got] == [["a1"], ["a1", "a2"]]
        assert consumer.redeliveries == 2


def crash(consumer: NewsConsumer) -> None:
    """As a kill -9 leaves the group: nothing more is committed."""
    consumer.consumer.close(autocommit=False)


def test_handled_positions_are_committed_every_n_records_and_every_interval(
    settings: Settings,
) -> None:
    articles = seed_articles(settings)
    send(settings, [json.dumps(a).encode() for a in articles])  # fetched in one poll
    by_count = settings.model_copy(update={"client_commit_every_records": 2,
                                           "client_commit_interval_seconds": 3600.0})
    consumer = NewsConsumer("articles", by_count, group="count")
    assert len(take(consumer, 3)) == 3
    crash(consumer)  # the third was handled after the last commit: it comes again
    with NewsConsumer("articles", settings, group="count") as consumer:
        assert [r.offset for r in take(consumer, 1)] == [2]
    by_time = settings.model_copy(update={"client_commit_every_records": 1000,
                                          "client_commit_interval_seconds": 0.3})
    consumer = NewsConsumer("articles", by_time, group="time")
    started = time.monotonic()

    def slow(record: Record) -> None:  # handling the first record outlasts the interval
        if record.offset == 0:
            wait_until(lambda: time.monotonic() - started > 0.4, 5, "the interval to pass")

    assert consumer.run(slow, max_records=2, timeout=20) == 2
    crash(consumer)
    with NewsConsumer("articles", settings, group="time") as consumer:
        assert [r.offset for r in take(consumer, 1)] == [1]


def test_latest_on_a_group_with_a_position_commits_where_it_started(settings: Settings) -> None:
    articles = seed_articles(settings)
    send(settings, [json.dumps(a).encode() for a in articles])
    with NewsConsumer("articles", settings, group="skip") as consumer:
        assert len(take(consumer, 2)) == 2
    send(settings, [json.dumps(a | {"fetched_at": "2026-02-12T11:00:00Z"}).encode()
                    for a in articles])
    # A reader of the group chooses to skip the backlog, and stops before handling anything.
    NewsConsumer("articles", settings, group="skip", start="latest").close()
    with NewsConsumer("articles", settings, group="skip") as consumer:
        assert take(consumer, 1, timeout=1.5) == [], "the skipped backlog came back"


def test_latest_is_the_true_end_when_records_came_in_one_batch(
    settings: Settings, tmp_path: Path,
) -> None:
    articles = seed_articles(settings)
    # One batch of five: the embedded broker reports its end as the batch's base offset + 1.
    producer = KafkaProducer(bootstrap_servers=settings.require_bootstrap(), acks="all",
                             linger_ms=500)
    for article in articles:
        producer.send(settings.topic_articles, value=json.dumps(article).encode(), partition=0)
    producer.flush(30)
    producer.close()
    with NewsConsumer("articles", settings, start="latest") as consumer:
        assert take(consumer, 1, timeout=1.5) == [], "an old record was read as new"
        send(settings, [json.dumps(articles[0] | {"fetched_at": "2026-02-12T11:00:00Z"}).encode()])
        assert [r.offset for r in take(consumer, 1)] == [5]
    done = tail(settings, tmp_path, "articles", "--timeout", "3")
    assert done.returncode == 0 and done.stdout == "", done.stderr[-2000:]


def test_latest_reads_every_record_written_while_the_reader_starts(
    settings: Settings,
) -> None:
    # Finding the true end fetches from the reported end: what that fetch returns is old
    # unless stamped after the reader started. A record written meanwhile must be read, not
    # skipped by the jump to the end (on Apache Kafka the fetch returns only such records).
    articles = seed_articles(settings)
    producer = KafkaProducer(bootstrap_servers=settings.require_bootstrap(), acks="all",
                             linger_ms=200)
    for article in articles:  # an old backlog in one batch
        producer.send(settings.topic_articles, value=json.dumps(article).encode(), partition=0)
    producer.flush(30)
    written: list[tuple[int, int]] = []  # (offset, timestamp ms) of records written meanwhile
    stop = threading.Event()

    def keep_writing() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            value = json.dumps(articles[0] | {"fetched_at": f"2026-02-12T11:{n % 60:02d}:00Z"})
            meta = producer.send(settings.topic_articles, value=value.encode(),
                                 partition=0).get(30)
            written.append((meta.offset, meta.timestamp))

    writer = threading.Thread(target=keep_writing, daemon=True)
    writer.start()
    wait_until(lambda: len(written) >= 3, 30, "records being written")
    try:
        with NewsConsumer("articles", settings, start="latest") as consumer:
            started_ms = consumer._started_ms
            wait_until(lambda: any(ts > started_ms + 1000 for _, ts in written), 30,
                       "records written after the reader started")
            stop.set()
            writer.join(30)
            expected = sorted(offset for offset, ts in written if ts >= started_ms)
            got = [r.offset for r in take(consumer, len(expected) + 1, timeout=10)]
    finally:
        stop.set()
        producer.close()
    assert expected and got == expected


def test_a_misspelled_topic_is_reported_without_waiting_out_the_connect_timeout(
    settings: Settings,
) -> None:
    assert settings.kafka_connect_timeout_seconds == 30
    started = time.monotonic()
    with pytest.raises(TopicNotFound, match="did you mean articles"):
        NewsConsumer("artciles", settings)
    # A bound, not a speed: far below the 30 s it took (the margin is for a loaded machine).
    assert time.monotonic() - started < 15


def test_the_connect_timeout_is_a_deadline_not_a_time_to_start_a_last_try(
    tmp_path: Path,
) -> None:
    from newsflow.broker import free_port
    from newsflow.errors import BrokerUnavailable

    # 6 s: more than one bootstrap wait (5 s), so a second try starts before the deadline.
    nowhere = Settings(kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",
                       kafka_connect_timeout_seconds=6)
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable):
        NewsConsumer("articles", nowhere, group="g")
    # A bound, not a speed: it gave up after 10.5 s (the margin is for a loaded machine).
    assert time.monotonic() - started < 9.5


@pytest.mark.parametrize("how", ["killed", "paused"])
def test_a_broker_that_stops_right_after_the_bootstrap_is_broker_unavailable(
    tmp_path: Path, how: str,
) -> None:
    """The bootstrap answered, then the broker went away while the topic was being opened
    (looked up, positions read and committed): the caller gets BrokerUnavailable, which `tail`
    prints as one line with exit code 3, not a kafka-python error and its traceback."""
    from kafka import KafkaConsumer

    from newsflow.errors import BrokerUnavailable

    broker = EmbeddedBroker(log_path=tmp_path / "broker.log").start()
    settings = isolated_settings(broker.bootstrap, tmp_path, kafka_connect_timeout_seconds=5)
    ensure_topics(settings)
    assert broker.process is not None
    pid = broker.process.pid

    class StopsAfterTheBootstrap(NewsConsumer):
        def _connect(self, deadline: float) -> KafkaConsumer:
            consumer = super()._connect(deadline)
            if how == "killed":
                broker.stop()
            else:
                os.kill(pid, signal.SIGSTOP)
            return consumer

    try:
        started = time.monotonic()
        with pytest.raises(BrokerUnavailable, match=(
                rf"^broker at {re.escape(broker.bootstrap)} stopped answering while "
                rf"{re.escape(settings.topic_articles)} was opened \(.+\)$")):
            StopsAfterTheBootstrap("articles", settings, group="g")
        # A bound, not a speed: the metadata request's own 10 s, not 30 s for each request of
        # the assignment (the margin is for a loaded machine).
        assert time.monotonic() - started < 20
    finally:
        if how == "paused":
            os.kill(pid, signal.SIGCONT)
        broker.stop()


def test_an_assignment_the_broker_refuses_for_good_is_a_config_error(settings: Settings) -> None:
    """Not every Kafka error is an outage: one that no retry mends (an ACL on a real cluster,
    which the embedded broker has none of: raised here where the broker's answer would be)
    names itself as a ConfigError, exit code 2, not as "stopped answering"."""
    from kafka.errors import GroupAuthorizationFailedError

    from newsflow.errors import ConfigError

    ensure_topics(settings)

    class Refused(NewsConsumer):
        def _assign(self, *args: Any) -> Any:
            raise GroupAuthorizationFailedError("group g")

    with pytest.raises(ConfigError, match=r"^broker at .+ refused to open .+ \(\[Error 30\] "
                                          r"GroupAuthorizationFailedError: group g\)$"):
        Refused("articles", settings, group="g")


def test_a_running_client_reads_the_new_log_of_a_broker_that_restarted_empty(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    """The embedded broker keeps nothing: restarted, its logs start again at offset 0 and its
    fetches answer a position past their end with nothing, not an error. A client kept waiting
    there, silently, until its old position was reached (and then skipped what came before).
    A foreign topic's record is known by its position: the new log's must not pass for
    redeliveries of the old one's, and one whose handler failed comes again without a group."""
    broker = EmbeddedBroker(log_path=tmp_path / "broker.log").start()
    try:
        settings = isolated_settings(broker.bootstrap, tmp_path, kafka_connect_timeout_seconds=10)
        notes_topic = f"notes-{settings.app_id}"

        def notes(numbers: list[int]) -> None:
            admin = KafkaAdminClient(bootstrap_servers=settings.require_bootstrap())
            try:
                if notes_topic not in admin.list_topics():
                    admin.create_topics([NewTopic(notes_topic, 1, 1)])
            finally:
                admin.close()
            producer = KafkaProducer(bootstrap_servers=settings.require_bootstrap(), acks="all")
            try:
                for n in numbers:
                    producer.send(notes_topic, value=json.dumps({"n": n}).encode(), partition=0)
                producer.flush(30)
            finally:
                producer.close()

        def fail(record: Record) -> None:
            raise RuntimeError(f"handler failed on {record.value}")

        articles = seed_articles(settings)
        send(settings, [json.dumps(a).encode() for a in articles[:3]])
        notes([0, 1, 2])
        with NewsConsumer("articles", settings, group="restarted") as consumer, \
                NewsConsumer(notes_topic, settings) as notes_reader:
            assert len(take(consumer, 3)) == 3
            assert [r.value for r in take(notes_reader, 3)] == [{"n": 0}, {"n": 1}, {"n": 2}]
            broker.stop()
            broker = EmbeddedBroker(port=broker.port, log_path=tmp_path / "broker-2.log").start()
            ensure_topics(settings)
            send(settings, [json.dumps(a).encode() for a in articles[3:]])  # offsets 0 and 1
            notes([10, 11])
            with caplog.at_level(logging.WARNING, logger="newsflow.client.consumer"):
                got = take(consumer, 2, timeout=30)
                with pytest.raises(RuntimeError, match=re.escape("handler failed on {'n': 10}")):
                    notes_reader.run(fail, timeout=30)
                again = take(notes_reader, 2, timeout=30)
        assert [r.article["id"] for r in got] == [a["id"] for a in articles[3:]]
        assert [r.offset for r in got] == [0, 1]
        assert [(r.offset, r.value) for r in again] == [(0, {"n": 10}), (1, {"n": 11})]
        assert any(re.search(r"ends at offset [0-2], before this reader's position 3",
                             r.getMessage()) for r in caplog.records), caplog.text
        with NewsConsumer("articles", settings, group="restarted") as consumer:
            assert take(consumer, 1, timeout=1.5) == [], "the new positions were committed"
    finally:
        broker.stop()


def test_partitions_a_topic_gains_while_a_client_reads_are_read_from_their_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    """The client assigns itself the partitions it finds at start. A broker that restarted
    empty and made the topic anew with more partitions had them written to, unread: a
    downstream service lost those records without a word."""
    broker = EmbeddedBroker(log_path=tmp_path / "broker.log").start()
    try:
        settings = isolated_settings(broker.bootstrap, tmp_path, kafka_connect_timeout_seconds=10)
        topic = f"grow-{settings.app_id}"

        def write(partitions: int, notes: list[tuple[int, int]]) -> None:
            admin = KafkaAdminClient(bootstrap_servers=settings.require_bootstrap())
            try:
                if topic not in admin.list_topics():
                    admin.create_topics([NewTopic(topic, partitions, 1)])
            finally:
                admin.close()
            producer = KafkaProducer(bootstrap_servers=settings.require_bootstrap(), acks="all")
            try:
                for partition, n in notes:
                    producer.send(topic, value=json.dumps({"n": n}).encode(), partition=partition)
                producer.flush(30)
            finally:
                producer.close()

        write(1, [(0, 0), (0, 1), (0, 2)])
        with NewsConsumer(topic, settings) as reader:
            assert [r.value["n"] for r in take(reader, 3)] == [0, 1, 2]
            assert [tp.partition for tp in reader.partitions] == [0]
            broker.stop()
            broker = EmbeddedBroker(port=broker.port, log_path=tmp_path / "broker-2.log").start()
            write(3, [(0, 10), (1, 11), (2, 12), (1, 13)])
            with caplog.at_level(logging.WARNING, logger="newsflow.client.consumer"):
                got = take(reader, 4, timeout=60)
            partitions = sorted({tp.partition for tp in reader.partitions})
        assert sorted(r.value["n"] for r in got) == [10, 11, 12, 13]
        assert len(partitions) >= 3  # the broker may make a topic a client asks for with more
        assert any("new partition(s)" in r.getMessage() for r in caplog.records), caplog.text
    finally:
        broker.stop()
