"""Test helpers that drive real processes: the broker, worker and fetcher, and HTTP fixtures.

Everything waits on events (a message arrives, a port opens, a process exits) with a deadline;
nothing sleeps a fixed time to synchronise.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any, Self

from kafka import KafkaConsumer, KafkaProducer

from newsflow.broker import dying_with_parent, free_port
from newsflow.codecs import BY_ROLE
from newsflow.config import Settings
from newsflow.core.dates import rfc3339
from newsflow.core.tagging import Tagger
from newsflow.httpserver import Answer
from newsflow.topics import ensure_topics

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO.parent / "shared" / "seeds"
BENCHMARKS = REPO.parent / "shared" / "benchmarks"
BENCHMARK_SCRIPTS = REPO / "benchmarks"


@functools.cache
def benchmark_script(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` as a module, loaded once per test session (its imports of the
    other benchmark scripts resolve while it loads)."""
    spec = importlib.util.spec_from_file_location(f"{name}_benchmark",
                                                  BENCHMARK_SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    sys.path.insert(0, str(BENCHMARK_SCRIPTS))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARK_SCRIPTS))
    return module


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait for a condition another process brings about (a file line, an HTTP answer),
    checking it every 50 ms until the deadline."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.05)


async def wait_until_async(predicate: Callable[[], bool], timeout: float, what: str,
                           every: float = 0.05) -> None:
    """``wait_until`` inside an event loop: awaits between checks, so the loop (a fetcher's
    sources, its outbox) keeps running while the test waits."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(every)


def isolated_settings(bootstrap: str, tmp: Path, **overrides: Any) -> Settings:
    """Settings with topic names and a consumer group of their own, on a shared broker."""
    suffix = uuid.uuid4().hex[:8]
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": bootstrap,
        "topic_raw": f"raw-{suffix}",
        "topic_articles": f"articles-{suffix}",
        "topic_duplicates": f"duplicates-{suffix}",
        "topic_deadletter": f"deadletter-{suffix}",
        "topic_stories": f"stories-{suffix}",
        "app_id": f"newsflow-test-{suffix}",
        "worker_web_port": free_port(),
        "worker_data_dir": tmp / f"worker-{suffix}",
        "fetch_metrics_port": free_port(),
        "fetch_allow_networks": "127.0.0.0/8",
        # Files a test writes are complete when written: read at once, not at the next poll
        # (the settle rule has tests of its own).
        "fetch_directory_settle_seconds": 0.0,
    }
    values.update(overrides)
    settings = Settings(**values)
    ensure_topics(settings)
    return settings


def fetcher_test_settings(bootstrap: str, tmp: Path, **overrides: Any) -> Settings:
    """Settings for an in-process fetcher: its own state topic (no other test's "seen" set),
    no politeness delay, short backoffs and timeouts."""
    values: dict[str, Any] = {
        "topic_fetcher_state": f"state-{uuid.uuid4().hex[:8]}",
        "fetch_host_min_delay_seconds": 0.0, "fetch_backoff_base_seconds": 0.05,
        "fetch_backoff_max_seconds": 0.2, "fetch_read_timeout_seconds": 5.0,
        "fetch_state_load_timeout_seconds": 20.0, "fetch_publish_timeout_seconds": 30.0}
    return isolated_settings(bootstrap, tmp, **(values | overrides))


def topic_of(settings: Settings, role: str) -> str:
    return str(getattr(settings, f"topic_{role}"))


class ManagedProcess:
    """A `python -m newsflow ...` child with the given settings; output goes to a log file.
    ``module`` runs another entry point that takes the same arguments."""

    def __init__(self, args: list[str], settings: Settings, log_path: Path,
                 extra_env: dict[str, str] | None = None, cwd: Path = REPO,
                 module: str = "newsflow") -> None:
        self.args = args
        self.module = module
        self.settings = settings
        self.log_path = log_path
        self.cwd = cwd
        self.env = os.environ | settings.to_env() | (extra_env or {})
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child
        self.process = subprocess.Popen(
            dying_with_parent([sys.executable, "-m", self.module, *self.args]), env=self.env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.cwd,
        )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL: no chance to commit or flush."""
        if self.alive():
            os.killpg(self.pid, signal.SIGKILL)
            self.wait(10)

    def stop(self, timeout: float = 20.0) -> None:
        if not self.alive():
            return
        os.killpg(self.pid, signal.SIGTERM)
        try:
            self.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def start_broker_command(port: int, log_path: Path) -> ManagedProcess:
    """`newsflow broker --port PORT`, as a user runs it (the project's topics, memory only),
    once it has declared its topics."""
    broker = ManagedProcess(["broker", "--port", str(port)], Settings(), log_path).start()
    ready = f"export NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:{port}"
    wait_until(lambda: ready in broker.log() or not broker.alive(), 30, "the broker's topics")
    assert broker.alive(), broker.log()[-2000:]
    return broker


def stop_broker_command(broker: ManagedProcess) -> None:
    """Ctrl-C: `newsflow broker` stops its Tansu process and waits for it, so the port is free
    when it exits."""
    assert broker.process is not None
    broker.process.send_signal(signal.SIGINT)
    assert broker.wait(30) == 0, broker.log()[-2000:]


def children(parent: int) -> list[int]:
    """The processes whose parent is ``parent``, whichever of its threads started them (Linux
    /proc)."""
    pids: list[int] = []
    for listing in Path(f"/proc/{parent}/task").glob("*/children"):
        try:
            pids.extend(int(child) for child in listing.read_text().split())
        except OSError:  # a thread that ended meanwhile
            continue
    return sorted(pids)


def zombie_children(pid: int) -> list[int]:
    """The children of ``pid`` that exited and were not waited for (Linux /proc)."""
    zombies = []
    for child in children(pid):
        try:
            state = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:  # waited for meanwhile
            continue
        if state == "Z":
            zombies.append(child)
    return zombies


def run_fetch_once(settings: Settings, sources: Path, log_path: Path,
                   timeout: float = 120.0) -> str:
    proc = ManagedProcess(["fetch", "--sources", str(sources), "--once"], settings, log_path)
    code = proc.start().wait(timeout)
    output = proc.log()
    assert code == 0, f"fetch --once exited {code}:\n{output[-3000:]}"
    return output


def write_sources(path: Path, entries: list[dict[str, Any]]) -> Path:
    import yaml

    path.write_text(yaml.safe_dump({"sources": entries}), encoding="utf-8")
    return path


class TopicReader:
    """Reads topics from the beginning in a background thread; every message is decoded and
    schema-checked by its topic's codec."""

    def __init__(self, settings: Settings, roles: list[str]) -> None:
        self.settings = settings
        self.roles = {topic_of(settings, role): role for role in roles}
        self.records: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.messages: dict[str, list[Any]] = defaultdict(list)
        self.invalid: list[str] = []
        self.changed = threading.Condition()
        self.consumer = KafkaConsumer(
            *self.roles, bootstrap_servers=settings.require_bootstrap(),
            auto_offset_reset="earliest", enable_auto_commit=False,
            max_partition_fetch_bytes=settings.max_message_bytes,
            fetch_max_bytes=settings.max_message_bytes * 2,
        )
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while self.running:
            batch = self.consumer.poll(timeout_ms=200)
            if not batch:
                continue
            with self.changed:
                for messages in batch.values():
                    for message in messages:
                        role = self.roles[message.topic]
                        try:
                            record = BY_ROLE[role].decode(message.value)
                        except Exception as exc:  # recorded, and asserted empty by tests
                            self.invalid.append(f"{role}: {exc}")
                            continue
                        self.records[role].append(record)
                        self.messages[role].append(message)
                self.changed.notify_all()

    def wait_for(self, predicate: Callable[[dict[str, list[dict[str, Any]]]], bool],
                 timeout: float, what: str) -> dict[str, list[dict[str, Any]]]:
        deadline = time.monotonic() + timeout
        with self.changed:
            while not predicate(self.records):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    counts = {role: len(recs) for role, recs in self.records.items()}
                    raise AssertionError(f"timed out waiting for {what}; have {counts}; "
                                         f"invalid: {self.invalid[:3]}")
                self.changed.wait(min(remaining, 0.5))
            assert not self.invalid, f"records not valid against schemas/: {self.invalid[:5]}"
            return {role: list(self.records[role]) for role in self.roles.values()}

    def wait_count(self, role: str, count: int, timeout: float = 90.0) -> list[dict[str, Any]]:
        records = self.wait_for(lambda r: len(r[role]) >= count, timeout,
                                f"{count} records on {role}")
        return records[role]

    def close(self) -> None:
        self.running = False
        self.thread.join(5)
        self.consumer.close()


def produce(settings: Settings, items: Sequence[tuple[bytes | None, bytes]],
            topic: str | None = None) -> list[tuple[int, int]]:
    """Send bytes to news.raw.v1 (or the isolated equivalent, or ``topic``) and wait for the
    acks; returns each message's (partition, offset)."""
    producer = KafkaProducer(bootstrap_servers=settings.require_bootstrap(), acks="all",
                             max_request_size=settings.max_message_bytes)
    try:
        futures = [producer.send(topic or settings.topic_raw, key=key, value=value)
                   for key, value in items]
        producer.flush()
        positions = []
        for future in futures:
            metadata = future.get(timeout=30)
            positions.append((metadata.partition, metadata.offset))
        return positions
    finally:
        producer.close()


def seed_text(label: str) -> str:
    """The text of the seed article whose file name starts with ``label``."""
    return next(SEEDS.glob(f"{label}_*.txt")).read_text(encoding="utf-8")


def send_raw(settings: Settings, text: str, url: str) -> None:
    """One raw record of ``text`` at ``url`` (its key), acknowledged by the broker."""
    produce(settings, [(url.encode(), json.dumps(raw_record(text, url=url)).encode())])


def decision_for(settings: Settings, url: str) -> tuple[str, dict[str, Any]]:
    """("articles" or "duplicates", the record) for the input with this URL."""
    reader = TopicReader(settings, ["articles", "duplicates"])
    try:
        records = reader.wait_for(
            lambda r: any(rec["url"] == url for rec in r["articles"] + r["duplicates"]),
            120, f"the decision on {url}")
    finally:
        reader.close()
    return next((role, rec) for role in ("articles", "duplicates") for rec in records[role]
                if rec["url"] == url)


def ago(**delta: float) -> str:
    """An RFC 3339 time relative to the clock (``ago(hours=6)``): fixtures that meet the
    wall-clock times a running worker or fetcher stamps must move with the clock."""
    return rfc3339(datetime.now(UTC) - timedelta(**delta))


def raw_record(body: str, *, url: str, title: str | None = None,
               content_type: str = "text/plain", source_id: str = "test",
               **extra: Any) -> dict[str, Any]:
    record = {"url": url, "source": {"id": source_id, "name": source_id.title(),
                                     "kind": "manual"},
              "title": title, "body": body, "content_type": content_type,
              "fetched_at": ago(seconds=0)}
    record.update(extra)
    return record


# What a fixture server answers on a path (status, body, headers).
Route = Answer


def tag_names(tagger: Tagger, title: str, body: str) -> set[str]:
    """The names of the topics the tagger gives an article."""
    return {t.name for t in tagger.tag(title, body)}


def listening_addresses(port: int) -> set[str]:
    """The addresses a socket listens on at ``port`` on this host, read from Linux's
    ``/proc/net/tcp`` and ``tcp6``: which interfaces a server really bound, not which it
    was asked to."""
    found: set[str] = set()
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        for line in Path(f"/proc/net/{table}").read_text(encoding="ascii").splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if fields[3] != "0A" or int(port_hex, 16) != port:  # 0A: LISTEN
                continue
            raw = bytes.fromhex(address)  # 32-bit words in host (little-endian) order
            words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            found.add(socket.inet_ntop(family, words))
    return found



# --- processes, read from Linux's /proc --------------------------------------------------------
def process_state(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, None once it is gone."""
    try:
        state, parent = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[:2]
    except (OSError, ValueError):
        return None
    return state, int(parent)


def alive(pid: int) -> bool:
    state = process_state(pid)
    return state is not None and state[0] not in {"Z", "X"}  # a zombie has ended



def stop_leftovers(command: subprocess.Popen[str], children: Sequence[int]) -> list[int]:
    """After a test's command in its own process group (``start_new_session``): kill the group
    if the command still runs (it hung: the test fails, leaving nothing behind), and the
    ``children`` still alive; returns those, for the test to assert there are none."""
    if command.poll() is None:
        os.killpg(command.pid, signal.SIGKILL)
    left = [pid for pid in children if alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return left


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used (user and system): grows only while it works; 0 once it is
    gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def pool_children(parent: int) -> list[int]:
    """The children of ``parent`` that a pool spawned (``spawn_main`` in their command line)."""
    return [pid for pid in children(parent) if b"spawn_main" in command_line(pid)]


def starting(pid: int) -> bool:
    """A pool's child still starting: pebble ignores SIGINT in it once it has started."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    ignored = next(line.split()[1] for line in status.splitlines()
                   if line.startswith("SigIgn:"))
    return not int(ignored, 16) & 1 << (signal.SIGINT - 1)
