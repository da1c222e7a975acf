"""Pipeline throughput and latency against its own limits, measured in the same run (issue 8).

Workload: N raw articles made from the 181 real pages of the article-extraction set — each page
once, then rewrites with every third word replaced (distinct for MinHash, often the same
story) — mixed with near copies on other outlets (one word in 30 replaced) and exact re-fetches
(same URL with a tracking parameter). Each repetition, on a fresh embedded broker per phase:

1. plumbing limit: a Faust agent that only forwards the raw messages to another topic, with the
   worker's Faust settings (session timeout, heartbeat, ``producer_max_batch_size`` from
   Settings, and Faust's own default batch size for comparison);
2. compute limit: the worker's two stages over the same messages in this process, no Kafka —
   the prepare step (raw codec, ``Pipeline.prepare``, prepared codec) and the dedupe step
   (prepared codec, ``Pipeline.decide``, memory and output codecs); and
   ``trafilatura.extract(html, include_comments=False)`` alone, in its default mode and with
   ``fast=True`` (the mode the project's own extraction runs in);
3. the pipeline: one real ``newsflow worker``, all N offered at once (articles/s from the first
   send to the last output); then latency from send to output at a steady rate of half that
   (with ``--compare-fetch-wait MS``, also with the worker's fetch wait set to MS, in
   alternating order);
4. scale-out: the same with two worker processes.

Progress goes to stderr; the last line of stdout is one JSON object with medians over the
repetitions and the ratios ``pipeline_vs_limit``, ``scale_out_2_vs_1``,
``compute_vs_trafilatura``. Each ratio is the median over repetitions of the ratio within one
repetition (both sides measured in it), never a ratio of two medians taken independently.

Every streaming phase also reports CPU time per article of the workers (and their prepare
child processes), the broker and this process: figures that stay readable on a loaded machine.
See docs/performance.md for the latest figures and what limits them.

    python benchmarks/pipeline.py [--articles 300] [--runs 3] [--latency-seconds 30] [--quick]
                                  [--worker-env NEWSFLOW_PREPARE_PROCESSES=2]
                                  [--compare-fetch-wait 1500]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "services"), str(ROOT / "benchmarks")]

from kafka import KafkaConsumer, KafkaProducer, TopicPartition  # noqa: E402
from tests.helpers import ManagedProcess, isolated_settings  # noqa: E402

from extraction import Page, load_pages  # noqa: E402
from newsflow.broker import EmbeddedBroker, free_port  # noqa: E402
from newsflow.codecs import RAW  # noqa: E402
from newsflow.config import Settings  # noqa: E402
from newsflow.core.urls import article_id_for_url  # noqa: E402
from newsflow.pipeline_setup import build_pipeline  # noqa: E402
from newsflow.processor.faust_app import new_faust_app  # noqa: E402
from newsflow.processor.stages import (  # noqa: E402
    PreparedMessage,
    decide_message,
    prepare_for_dedupe,
)
from newsflow.records import DeadLetter, RawMessage  # noqa: E402

FAUST_DEFAULT_BATCH = 16384  # faust-streaming's own producer_max_batch_size
MARKUP = re.compile(r"(<script\b.*?</script\s*>|<style\b.*?</style\s*>|<!--.*?-->|<[^>]*>)",
                    re.S | re.I)
WORD = re.compile(r"(?<![&#\w])[^\W\d_]{3,}")
CANONICAL = re.compile(r"<link\b[^>]*\bcanonical\b[^>]*>|<meta\b[^>]*og:url[^>]*>", re.I)


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# --- workload ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Item:
    key: bytes
    value: bytes
    kind: str  # original | variant | near | exact
    html: str


def replace_words(html: str, every: int, rng: random.Random, vocab: Sequence[str]) -> str:
    """Replace every ``every``-th word of the visible text (never inside tags, scripts, styles)."""
    count = 0

    def swap(match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return rng.choice(vocab) if count % every == 0 else match.group(0)

    parts = MARKUP.split(html)
    for i in range(0, len(parts), 2):  # even parts are text, odd parts the markup
        parts[i] = WORD.sub(swap, parts[i])
    return "".join(parts)


def raw_value(url: str, html: str, source: str, fetched_at: str) -> bytes:
    record = {"url": url, "source": {"id": source, "name": source.title(), "kind": "html"},
              "title": None, "body": html, "content_type": "text/html",
              "fetched_at": fetched_at}
    return RAW.encode(record)


def build_workload(pages: Sequence[Page], n: int, seed: int = 8,
                   exact_share: float = 0.10, near_share: float = 0.15) -> list[Item]:
    """Mostly distinct articles (each page once, then rewritten variants of it), mixed with near
    copies and exact re-fetches of articles sent before."""
    rng = random.Random(seed)
    vocab = sorted({w for page in pages for w in WORD.findall(page.truth) if len(w) > 3})
    fetched_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    items: list[Item] = []
    published: list[tuple[str, str]] = []  # (url, html) of what an exact re-fetch can repeat
    fresh = 0
    for i in range(n):
        roll = rng.random()
        if published and roll < exact_share:
            url, html = rng.choice(published)
            items.append(Item(article_id_for_url(url).encode(), raw_value(
                f"{url}{'&' if '?' in url else '?'}utm_source=rss", html, "bench", fetched_at),
                "exact", html))
            continue
        if published and roll < exact_share + near_share:
            _, original = rng.choice(published)
            html = replace_words(CANONICAL.sub("", original), 30, rng, vocab)
            url = f"https://syndicate{i % 7}.example/news/{i}"
            kind, source = "near", f"syndicate{i % 7}"
        else:
            page = pages[fresh % len(pages)]
            if fresh < len(pages):
                url, html, kind = page.url, page.html, "original"
            else:
                url = f"https://outlet{fresh // len(pages)}.example/{page.id}/{i}"
                html = replace_words(CANONICAL.sub("", page.html), 3, rng, vocab)
                kind = "variant"
            source = "bench"
            fresh += 1
        published.append((url, html))
        items.append(Item(article_id_for_url(url).encode(),
                          raw_value(url, html, source, fetched_at), kind, html))
    return items


def warmup_items(pages: Sequence[Page], count: int = 8) -> list[Item]:
    small = sorted(pages, key=lambda p: len(p.html))[:count]
    fetched_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    items = []
    for i, page in enumerate(small):
        url = f"https://warmup.example/{i}"
        html = CANONICAL.sub("", page.html)
        items.append(Item(article_id_for_url(url).encode(),
                          raw_value(url, html, "warmup", fetched_at), "warmup", html))
    return items


# --- compute limit -----------------------------------------------------------------------------
class Stopwatch:
    """Wall-clock and this thread's CPU time: CPU time is what the work costs, wall-clock what
    it takes on a machine other processes are loading."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def time(self, fn: Callable[[], object]) -> None:
        wall, cpu = time.perf_counter(), time.thread_time()
        fn()
        self.cpu += time.thread_time() - cpu
        self.wall += time.perf_counter() - wall


def compute_run(items: Sequence[Item]) -> dict[str, float]:
    """The worker's two stages (exactly as it calls them, codecs included) and trafilatura
    alone, in its default mode and with ``fast=True``, over the same articles, interleaved
    article by article (order rotating) so load from other processes hits all three alike."""
    import trafilatura

    settings = Settings()
    pipeline = build_pipeline(settings)
    now = datetime.now(UTC)
    # Loads the language model and word lists once, as a worker's first article does.
    prepare_for_dedupe(pipeline, RawMessage("warmup", 0, 0, items[0].key, items[0].value), now,
                       settings.raw_message_limit)
    trafilatura.extract(items[0].html, include_comments=False)
    index = pipeline.new_index()
    prepare, decide, baseline, baseline_fast = Stopwatch(), Stopwatch(), Stopwatch(), Stopwatch()
    for offset, item in enumerate(items):
        def ours(item: Item = item, offset: int = offset) -> None:
            prepared: list[PreparedMessage | DeadLetter] = []
            message = RawMessage("bench", 0, offset, item.key, item.value)
            prepare.time(lambda: prepared.append(prepare_for_dedupe(
                pipeline, message, now, settings.raw_message_limit)))
            result = prepared[0]
            if isinstance(result, PreparedMessage):  # a dead letter has nothing to decide
                decide.time(lambda: decide_message(pipeline, index, result.value, now))

        def theirs(item: Item = item) -> None:
            baseline.time(lambda: trafilatura.extract(item.html, include_comments=False))

        def theirs_fast(item: Item = item) -> None:
            baseline_fast.time(lambda: trafilatura.extract(item.html, include_comments=False,
                                                           fast=True))

        steps = (ours, theirs, theirs_fast)
        for step in steps[offset % 3:] + steps[:offset % 3]:
            step()
    n = len(items)
    return {"articles_per_s": n / (prepare.wall + decide.wall),
            "ms_per_article": 1000 * (prepare.wall + decide.wall) / n,
            "cpu_ms_per_article": 1000 * (prepare.cpu + decide.cpu) / n,
            "prepare_cpu_ms": 1000 * prepare.cpu / n, "decide_cpu_ms": 1000 * decide.cpu / n,
            "trafilatura_ms_per_article": 1000 * baseline.wall / n,
            "trafilatura_cpu_ms_per_article": 1000 * baseline.cpu / n,
            "trafilatura_fast_ms_per_article": 1000 * baseline_fast.wall / n,
            "trafilatura_fast_cpu_ms_per_article": 1000 * baseline_fast.cpu / n}


# --- streaming phases --------------------------------------------------------------------------
class OutputClock:
    """Reads output topics from the beginning (no consumer group) and notes when each key arrives."""

    def __init__(self, settings: Settings, topics: Sequence[str]) -> None:
        self.consumer = KafkaConsumer(bootstrap_servers=settings.require_bootstrap(),
                                      enable_auto_commit=False, fetch_max_wait_ms=50,
                                      max_partition_fetch_bytes=settings.max_message_bytes)
        partitions: list[TopicPartition] = []
        for topic in topics:
            deadline = time.monotonic() + 30
            while not (found := self.consumer.partitions_for_topic(topic)):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"topic {topic} has no partitions")
                time.sleep(0.1)
            partitions += [TopicPartition(topic, p) for p in found]
        self.consumer.assign(partitions)
        self.consumer.seek_to_beginning()
        self.arrivals: dict[bytes, list[float]] = defaultdict(list)
        self.changed = threading.Condition()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while self.running:
            batch = self.consumer.poll(timeout_ms=100)
            now = time.time()
            if batch:
                with self.changed:
                    for messages in batch.values():
                        for message in messages:
                            self.arrivals[message.key].append(now)
                    self.changed.notify_all()

    def wait(self, expected: Counter[bytes], timeout: float, what: str) -> None:
        """Until every expected key arrived as often as expected (the stream emits one output
        per input on articles, duplicates or dead letters)."""
        need = sum(expected.values())
        deadline = time.monotonic() + timeout
        with self.changed:
            while (have := sum(min(len(self.arrivals[k]), c) for k, c in expected.items())) < need:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{what}: {have}/{need} outputs after {timeout:.0f}s")
                self.changed.wait(0.5)

    def latest(self, keys: Counter[bytes]) -> float:
        with self.changed:
            return max(self.arrivals[k][-1] for k in keys)

    def close(self) -> None:
        self.running = False
        self.thread.join(5)
        self.consumer.close()


class Forwarder(ManagedProcess):
    """``python benchmarks/pipeline.py forward-worker``: the plumbing-only Faust agent."""

    def __init__(self, settings: Settings, log_path: Path, batch_size: int) -> None:
        super().__init__([], settings, log_path)
        self.batch_size = batch_size

    def start(self) -> Forwarder:
        log_file = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child
        self.process = subprocess.Popen(
            [sys.executable, __file__, "forward-worker", "--batch-size", str(self.batch_size)],
            env=self.env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
            cwd=ROOT)
        return self


def forward_worker(batch_size: int) -> int:
    """Child process: forward raw messages to the articles topic, nothing else."""
    from faust.worker import Worker

    settings = Settings()
    # The worker's own Faust app (processor/faust_app.py), only the batch size may differ.
    app = new_faust_app(settings.model_copy(update={
        "app_id": f"{settings.app_id}-forward", "producer_max_batch_size": batch_size}))
    source = app.topic(settings.topic_raw, partitions=settings.topic_partitions)
    target = app.topic(settings.topic_articles, partitions=settings.topic_partitions)

    @app.agent(source)
    async def forward(stream: Any) -> None:
        async for event in stream.events():
            await target.send(key=event.message.key, value=event.value)

    Worker(app, loglevel="warning", quiet=True).execute_from_commandline()
    return 0


def wait_ready(processes: Sequence[ManagedProcess], timeout: float = 90.0) -> None:
    """Until every worker's /readyz answers 200 (first assignment done, not rebalancing)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in processes:
            if not proc.alive():
                raise RuntimeError(f"worker exited:\n{proc.log()[-3000:]}")
        try:
            for proc in processes:
                url = f"http://127.0.0.1:{proc.settings.worker_web_port}/readyz"
                with urllib.request.urlopen(url, timeout=2):
                    pass
            return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError("workers not ready")


def send_all(producer: KafkaProducer, topic: str, items: Sequence[Item],
             rate: float | None = None) -> list[float]:
    """Send items (at ``rate`` per second when given); return each send's wall-clock time."""
    sent: list[float] = []
    start = time.monotonic()
    for i, item in enumerate(items):
        if rate:
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        sent.append(time.time())
        producer.send(topic, key=item.key, value=item.value)
    producer.flush()
    return sent


@dataclass
class StreamResult:
    per_s: float
    latencies: list[float]
    rebalances: int  # partition assignments during the measured part (0 in a clean run)
    cpu_ms: dict[str, float]  # CPU time per article while measuring: workers, broker, this process


def process_table() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, user + system CPU seconds so far), from Linux /proc."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # exited meanwhile
        table[int(stat.parent.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12]))
                                        / os.sysconf("SC_CLK_TCK"))
    return table


def tree_cpu_seconds(root: int, table: dict[int, tuple[int, float]]) -> float:
    """CPU time of a process and its descendants (a worker's prepare processes included)."""
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (parent, _) in table.items():
        children[parent].append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += table.get(pid, (0, 0.0))[1]
        todo += children[pid]
    return total


def cpu_snapshot(procs: Sequence[ManagedProcess], broker: EmbeddedBroker) -> dict[str, float]:
    assert broker.process is not None
    table = process_table()
    workers = sum(tree_cpu_seconds(proc.pid, table) for proc in procs)
    main = sum(table.get(proc.pid, (0, 0.0))[1] for proc in procs)
    return {"workers": workers, "worker_children": workers - main,
            "broker": tree_cpu_seconds(broker.process.pid, table), "bench": time.process_time()}


def stream_run(items: Sequence[Item], warmup: Sequence[Item], tmp: Path, *, workers: int = 1,
               forward_batch: int | None = None, rate: float | None = None,
               worker_env: dict[str, str] | None = None) -> StreamResult:
    """One phase on a fresh broker: start the processes, warm up, send, wait for every output."""
    with EmbeddedBroker(log_path=tmp / "broker.log") as broker:
        settings = isolated_settings(broker.bootstrap, tmp)
        outputs = [settings.topic_articles, settings.topic_duplicates, settings.topic_deadletter]
        clock = OutputClock(settings, outputs)
        procs: list[ManagedProcess] = []
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all",
                                 max_request_size=settings.max_message_bytes)
        try:
            for n in range(workers):
                own = settings.model_copy(update={
                    "worker_web_port": free_port(),
                    "worker_data_dir": tmp / f"{settings.app_id}-{n}"})
                if forward_batch is None:
                    procs.append(ManagedProcess(["worker"], own, tmp / f"worker-{n}.log",
                                                extra_env=worker_env).start())
                else:
                    procs.append(Forwarder(own, tmp / f"forward-{n}.log", forward_batch).start())
            if forward_batch is None:
                wait_ready(procs)
            send_all(producer, settings.topic_raw, warmup)
            clock.wait(Counter(i.key for i in warmup), 120, "warm-up")
            expected = Counter(i.key for i in items)
            assigned_before = assignments(procs)
            cpu_before = cpu_snapshot(procs, broker)
            start = time.time()
            sent = send_all(producer, settings.topic_raw, items, rate)
            budget = 60 + len(items) * (1.0 if rate is None else 1.0 / rate + 1.0)
            clock.wait(expected, budget, "measured run")
            elapsed = clock.latest(expected) - start
            cpu = {name: 1000 * (used - cpu_before[name]) / len(items)
                   for name, used in cpu_snapshot(procs, broker).items()}
            return StreamResult(len(items) / elapsed, latencies(items, sent, clock),
                                assignments(procs) - assigned_before, cpu)
        except Exception:
            for proc in procs:
                log(f"{proc.log_path.name}:\n{proc.log()[-2000:]}")
            raise
        finally:
            producer.close()
            for proc in procs:
                proc.stop()
            clock.close()


def assignments(procs: Sequence[ManagedProcess]) -> int:
    """Partition assignments the workers logged so far (Faust logs one per rebalance)."""
    return sum(proc.log().count("_on_partitions_assigned") for proc in procs)


def latencies(items: Sequence[Item], sent: Sequence[float], clock: OutputClock) -> list[float]:
    """Send-to-output times; several inputs with one key are paired with its outputs in order."""
    sends: dict[bytes, list[float]] = defaultdict(list)
    for item, at in zip(items, sent, strict=True):
        sends[item.key].append(at)
    out: list[float] = []
    with clock.changed:
        for key, times in sends.items():
            out += [arrived - at for at, arrived in zip(times, clock.arrivals[key], strict=False)]
    return out


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --- main --------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--articles", type=int, default=300, help="articles per throughput run")
    parser.add_argument("--runs", type=int, default=3, help="repetitions (medians reported)")
    parser.add_argument("--latency-seconds", type=float, default=30.0,
                        help="length of the steady-rate latency run")
    parser.add_argument("--quick", action="store_true", help="120 articles, 1 run, 15 s latency")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--worker-env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment of the worker processes, e.g. "
                             "NEWSFLOW_PREPARE_PROCESSES=2 (repeatable)")
    parser.add_argument("--compare-fetch-wait", type=int, default=None, metavar="MS",
                        help="also run the latency phase with the worker's fetch wait set to MS "
                             "(e.g. 1500, Faust's own), alternating with the configured one")
    args = parser.parse_args(argv)
    worker_env = dict(pair.split("=", 1) for pair in args.worker_env)
    if args.quick:
        args.articles, args.runs, args.latency_seconds = 120, 1, 15.0
    began = time.monotonic()
    pages = load_pages()
    items = build_workload(pages, args.articles, args.seed)
    warmup = warmup_items(pages)
    kinds = Counter(item.kind for item in items)
    log(f"workload: {len(items)} articles {dict(kinds)}, "
        f"{statistics.mean(len(i.value) for i in items) / 1000:.0f} kB per raw message")
    default_batch = Settings().producer_max_batch_size
    plumbing_phases = [f"plumbing_batch_{b}" for b in sorted({default_batch, FAUST_DEFAULT_BATCH})]
    computes: list[dict[str, float]] = []
    streams: dict[str, list[StreamResult]] = defaultdict(list)
    offered: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmpdir:
        for rep in range(args.runs):
            tmp = Path(tmpdir) / f"run{rep}"
            tmp.mkdir()
            computes.append(compute_run(items))
            log(f"run {rep + 1}: compute {computes[-1]}")
            for phase in plumbing_phases:
                batch = int(phase.rpartition("_")[2])
                streams[phase].append(stream_run(items, warmup, tmp, forward_batch=batch))
            streams["workers_1"].append(stream_run(items, warmup, tmp, workers=1, worker_env=worker_env))
            offered.append(streams["workers_1"][-1].per_s / 2)
            steady = items[: max(20, min(len(items), int(offered[-1] * args.latency_seconds)))]
            for phase, env in latency_phases(worker_env, args.compare_fetch_wait, rep):
                streams[phase].append(stream_run(steady, warmup, tmp, workers=1,
                                                 rate=offered[-1], worker_env=env))
            streams["workers_2"].append(stream_run(items, warmup, tmp, workers=2, worker_env=worker_env))
            log(f"run {rep + 1}: " + ", ".join(
                f"{phase} {runs[-1].per_s:.1f}/s (CPU ms/article {runs[-1].cpu_ms})"
                for phase, runs in streams.items()))
    result = summarise(args, items, computes, streams, offered, default_batch)
    result["seconds"] = round(time.monotonic() - began, 1)
    print(json.dumps(result))
    return result


def latency_phases(worker_env: dict[str, str], compare_wait: int | None,
                   rep: int) -> list[tuple[str, dict[str, str]]]:
    """The latency phase with the configured worker, and with the worker's fetch wait set to
    ``compare_wait`` when given; their order alternates between repetitions."""
    phases = [("latency", worker_env)]
    if compare_wait is not None:
        phases.append((f"latency_fetch_wait_{compare_wait}",
                       {**worker_env, "NEWSFLOW_WORKER_FETCH_MAX_WAIT_MS": str(compare_wait)}))
    return phases if rep % 2 == 0 else phases[::-1]


def med(values: Sequence[float], digits: int = 3) -> float:
    return round(statistics.median(values), digits)


def paired(numerators: Sequence[float], denominators: Sequence[float]) -> dict[str, Any]:
    """A ratio measured within each repetition (both sides in it), and its median: the
    headline. A ratio of two independently taken medians could pair a quiet moment of one side
    with a loaded moment of the other."""
    per_run = [n / d for n, d in zip(numerators, denominators, strict=True)]
    return {"median": med(per_run), "runs": [round(r, 3) for r in per_run]}


def summarise(args: argparse.Namespace, items: Sequence[Item],
              computes: Sequence[dict[str, float]], streams: dict[str, list[StreamResult]],
              offered: Sequence[float], default_batch: int) -> dict[str, Any]:
    """Absolute figures: medians over the repetitions. Ratios: medians of per-repetition ratios."""
    compute = {key: med([c[key] for c in computes]) for key in computes[0]}
    phases: dict[str, Any] = {}
    for phase, runs in streams.items():
        phases[phase] = {"per_s": med([r.per_s for r in runs]),
                         "runs": [round(r.per_s, 2) for r in runs],
                         "cpu_ms_per_article": {key: med([r.cpu_ms[key] for r in runs], 1)
                                                for key in runs[0].cpu_ms},
                         # Cores' worth of CPU the workers got (the machine has 2, shared).
                         "worker_cores_used": med([r.cpu_ms["workers"] * r.per_s / 1000
                                                   for r in runs], 2),
                         "rebalances_while_measuring": sum(r.rebalances for r in runs)}
    for phase in [p for p in phases if p.startswith("latency")]:
        latency = phases[phase]
        latency.pop("per_s")
        latency.pop("runs")  # the offered rate, delivered
        latency.update({"offered_per_s": med(offered),
                        "articles": med([len(r.latencies) for r in streams[phase]])})
        latency.update({f"p{q}_s": med([percentile(r.latencies, q / 100)
                                        for r in streams[phase]]) for q in (50, 95, 99)})
        latency["p50_p95_p99_s_runs"] = [[round(percentile(r.latencies, q / 100), 3)
                                          for q in (50, 95, 99)] for r in streams[phase]]
    plumbing_runs = streams[f"plumbing_batch_{default_batch}"]
    one, two = streams["workers_1"], streams["workers_2"]
    ratios = {
        # Pipeline against min(plumbing, compute) of the same repetition.
        "pipeline_vs_limit": paired([w.per_s for w in one], [
            min(p.per_s, c["articles_per_s"]) for p, c in zip(plumbing_runs, computes,
                                                               strict=True)]),
        "scale_out_2_vs_1": paired([w.per_s for w in two], [w.per_s for w in one]),
        # Paired per article (interleaved) within a repetition, CPU time of this thread.
        "compute_vs_trafilatura": paired(
            [c["cpu_ms_per_article"] for c in computes],
            [c["trafilatura_cpu_ms_per_article"] for c in computes]),
        "compute_vs_trafilatura_fast": paired(
            [c["cpu_ms_per_article"] for c in computes],
            [c["trafilatura_fast_cpu_ms_per_article"] for c in computes]),
        # Load-independent view of the streaming overhead: the worker's CPU per article in the
        # 1-worker run against the core's CPU per article.
        "worker_cpu_vs_compute_cpu": paired([w.cpu_ms["workers"] for w in one],
                                            [c["cpu_ms_per_article"] for c in computes]),
    }
    return {
        "benchmark": "pipeline",
        "articles": len(items), "runs": args.runs, "worker_env": args.worker_env,
        "mix": dict(Counter(item.kind for item in items)),
        "raw_kb_per_article": round(statistics.mean(len(i.value) for i in items) / 1000, 1),
        "compute": compute,
        "plumbing": {"worker_producer_max_batch_size": default_batch,
                     **{p: phases.pop(p) for p in list(phases) if p.startswith("plumbing")}},
        "pipeline": phases,
        **{name: ratio["median"] for name, ratio in ratios.items()},
        "ratios_per_run": {name: ratio["runs"] for name, ratio in ratios.items()},
        "goals": {"pipeline_vs_limit": ">= 0.8", "scale_out_2_vs_1": ">= 1.7",
                  "compute_vs_trafilatura": "<= 1.5",
                  "latency p50 / p99 at half load": "<= 0.2 s / <= 1 s"},
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["forward-worker"]:
        batch_arg = argparse.ArgumentParser()
        batch_arg.add_argument("--batch-size", type=int, required=True)
        sys.exit(forward_worker(batch_arg.parse_args(sys.argv[2:]).batch_size))
    sys.exit(0 if main() else 1)
