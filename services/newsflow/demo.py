"""`newsflow demo`: the whole chain on this machine — broker, sample site, worker, fetcher.

Prints each enriched article as it reaches news.articles.v1, each duplicate under (or naming)
the article it copies, and exits 0 once every raw article the fetcher published is accounted
for (as an article, a duplicate or a dead letter). ``--follow`` keeps going while the sample
site publishes a new article every ``NEWSFLOW_DEMO_FOLLOW_INTERVAL_SECONDS``. Ctrl-C or SIGTERM
stops it quietly (exit 0 in follow mode, where it is the way to stop; 130 when it cuts a run
short), and the temporary folder is removed either way.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer

from newsflow.broker import EmbeddedBroker, dying_with_parent, free_port
from newsflow.codecs import BY_ROLE
from newsflow.config import Settings
from newsflow.errors import INTERRUPTED
from newsflow.sample_site import SampleSite
from newsflow.taxonomy_files import load_taxonomy
from newsflow.topics import ensure_topics


def _say(text: str) -> None:
    print(text, flush=True)


def _complain(text: str) -> None:
    """A failure's lines go to stderr: they must reach the user when stdout's reader is gone
    (`newsflow demo | head`, which otherwise ends the demo quietly with exit 0)."""
    print(text, file=sys.stderr, flush=True)


def quiet_client_shutdown() -> None:
    """The run is over (done, or Ctrl-C): closing the fetcher's producer and the watcher's
    consumer can race a metadata refresh still in flight, which kafka-python logs at ERROR
    ("Metadata refresh: failed Transport closed for writes"). Nothing is wrong then, and a
    stopped demo must not end on an error; anything the run itself logged is already out."""
    logging.getLogger("kafka").setLevel(logging.CRITICAL)


def clip(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters, cut between words (a title cut mid-word reads
    as a typo), with an ellipsis when anything was cut."""
    if len(text) <= width:
        return text
    cut = textwrap.shorten(text, width, placeholder=" …")
    # A title without spaces (Chinese, Japanese) or one long first word has no word to keep.
    return cut if cut != "…" and cut.strip(" …") else text[:width - 1] + "…"


def describe(record: dict[str, Any]) -> str:
    tags = ", ".join(f"{t['name']} ({t['score']:.2f})" for t in record["tags"]) or "none"
    outlet = record.get("site_name")
    source = f"{outlet} via {record['source']['name']}" if outlet else record["source"]["name"]
    return (f"• {record['title']}\n"
            f"    source: {source} | tags: {tags}\n"
            f"    story: {record['story']['id']} | words: {record['word_count']}")


def describe_duplicate(record: dict[str, Any], original: dict[str, Any]) -> str:
    return (f"  ↳ duplicate of «{clip(original['title'], 50)}» ({record['level']}, "
            f"{record['method']}): {clip(record['title'], 70)} — {record['source']['name']}")


def start_worker(settings: Settings, log_path: Path) -> subprocess.Popen[bytes]:
    env = os.environ | settings.to_env()
    with open(log_path, "ab") as log:
        # Its own session: a Ctrl-C in the terminal reaches the demo only, which stops the
        # worker in order.
        return subprocess.Popen(dying_with_parent([sys.executable, "-m", "newsflow", "worker"]),
                                env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop_process(process: subprocess.Popen[bytes], timeout_seconds: float = 15.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout_seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def write_sources(path: Path, site: SampleSite, poll_seconds: float) -> Path:
    path.write_text(
        "sources:\n"
        "  - id: sample-wire\n"
        "    name: newsflow sample wire\n"
        "    kind: rss\n"
        f"    url: {site.feed_url}\n"
        f"    poll_interval_seconds: {poll_seconds}\n",
        encoding="utf-8",
    )
    return path


class OutputWatcher:
    """Reads the output topics, prints them, and keeps the tally the demo ends with."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.roles = {settings.topic_articles: "articles", settings.topic_duplicates: "duplicates",
                      settings.topic_deadletter: "deadletter"}
        self.consumer = KafkaConsumer(
            *self.roles,
            bootstrap_servers=settings.require_bootstrap(), auto_offset_reset="earliest",
            enable_auto_commit=False, fetch_max_wait_ms=settings.client_fetch_max_wait_ms,
            **settings.kafka_client_options(),
        )
        self.articles: dict[str, dict[str, Any]] = {}
        self.duplicates: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.held: dict[str, list[dict[str, Any]]] = defaultdict(list)  # original not out yet
        self.dead_letters = 0
        self.seen_inputs: set[tuple[str, str]] = set()

    @property
    def accounted(self) -> int:
        return len(self.seen_inputs) + self.dead_letters

    @property
    def duplicate_count(self) -> int:
        return sum(len(copies) for copies in self.duplicates.values())

    def poll(self, timeout_ms: int = 300) -> None:
        for messages in self.consumer.poll(timeout_ms=timeout_ms).values():
            for message in messages:
                role = self.roles[message.topic]
                record = BY_ROLE[role].decode(message.value)
                if role == "articles":
                    self._article(record)
                elif role == "duplicates":
                    self._duplicate(record)
                else:
                    self.dead_letters += 1
                    _say(f"  ✗ dead letter ({record['stage']}): {record['error']['message'][:90]}")

    def _article(self, record: dict[str, Any]) -> None:
        self.seen_inputs.add(("a", record["id"]))
        if record["id"] in self.articles:  # at-least-once: a redelivery
            return
        self.articles[record["id"]] = record
        _say(describe(record))
        for copy in self.held.pop(record["id"], []):  # copies read before their original
            _say(describe_duplicate(copy, record))

    def _duplicate(self, record: dict[str, Any]) -> None:
        key = ("d", f"{record['id']}@{record['fetched_at']}")
        if key in self.seen_inputs:
            return
        self.seen_inputs.add(key)
        original = record["duplicate_of"]
        self.duplicates[original].append(record)
        if original in self.articles:
            _say(describe_duplicate(record, self.articles[original]))
        else:
            self.held[original].append(record)

    def close(self) -> None:
        self.consumer.close()


def run_demo(settings: Settings, follow: bool = False) -> int:
    # Ctrl-C sets a flag the loops below check, so everything stops in order and quietly; so
    # does SIGTERM (timeout, docker stop, systemd), which would otherwise end the process at
    # once and leave the temporary folder behind.
    stop = threading.Event()
    previous = {signum: signal.signal(signum, lambda *_: stop.set())
                for signum in (signal.SIGINT, signal.SIGTERM)}
    logging.getLogger("newsflow.fetcher").setLevel(logging.WARNING)  # the demo prints its own
    workdir = Path(tempfile.mkdtemp(prefix="newsflow-demo-"))
    try:
        return _run(settings, follow, workdir, stop)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def own_topics(run_id: str) -> dict[str, Any]:
    """Topics and a consumer group of the run's own on a broker the user named: the demo shows
    the sample going through, not what earlier runs or the user's own pipeline left there."""
    prefix = f"newsflow-demo-{run_id}."
    return {f"topic_{role}": f"{prefix}{role}"
            for role in ("raw", "articles", "duplicates", "deadletter", "stories",
                         "fetcher_state")} | {"app_id": f"newsflow-demo-{run_id}"}


def _run(settings: Settings, follow: bool, workdir: Path, stop: threading.Event) -> int:
    # The worker would refuse a malformed taxonomy overlay too, but as a child that exited;
    # read here, it stops the demo with the same one line and exit 2, before anything starts.
    load_taxonomy(settings.taxonomy_path)
    broker: EmbeddedBroker | None = None
    overrides: dict[str, Any] = {}
    if not settings.kafka_bootstrap_servers:
        broker = EmbeddedBroker(log_path=workdir / "broker.log").start()
        _say(f"embedded broker on {broker.bootstrap}")
        overrides = {"kafka_bootstrap_servers": broker.bootstrap}
    else:
        overrides = own_topics(uuid.uuid4().hex[:8])
        _say(f"broker at {settings.kafka_bootstrap_servers}; this run's topics: "
             f"{overrides['topic_raw'].removesuffix('raw')}* (its own, left there afterwards)")
    settings = settings.model_copy(update=overrides | {
        # One partition, on a broker of its own or in its own topics on the user's: articles
        # reach the dedupe step in the order the feed lists them, so every run names its
        # stories after the same first articles (the same story ids).
        "topic_partitions": 1,
        "worker_web_port": free_port(),
        "worker_data_dir": workdir / "worker",
        "fetch_allow_networks": settings.fetch_allow_networks or "127.0.0.0/8",
    })
    worker: subprocess.Popen[bytes] | None = None
    site: SampleSite | None = None
    watcher: OutputWatcher | None = None
    try:
        ensure_topics(settings)
        site = SampleSite().start()
        _say(f"sample news site on {site.base_url} (feed: {site.feed_url})")
        worker = start_worker(settings, workdir / "worker.log")
        _say("worker started")
        watcher = OutputWatcher(settings)
        if follow:
            return _follow(settings, site, watcher, worker, workdir, stop)
        return _once(settings, site, watcher, worker, workdir, stop)
    finally:
        quiet_client_shutdown()
        if watcher is not None:
            watcher.close()
        if worker is not None:
            stop_process(worker)
        if site is not None:
            site.stop()
        if broker is not None:
            broker.stop()


def _fetcher(settings: Settings, site: SampleSite, workdir: Path, poll_seconds: float) -> Any:
    from newsflow.fetcher.http import HttpFetcher
    from newsflow.fetcher.publisher import Publisher
    from newsflow.fetcher.service import Fetcher
    from newsflow.fetcher.sources import load_sources

    sources = load_sources(write_sources(workdir / "sources.yaml", site, poll_seconds))
    return Fetcher(settings, sources, Publisher(settings), HttpFetcher(settings))


def _worker_failed(worker: subprocess.Popen[bytes], workdir: Path) -> int:
    log = (workdir / "worker.log").read_text(errors="replace").splitlines()
    _complain(f"worker exited with code {worker.returncode}; the end of its log:")
    for line in log[-20:]:
        _complain(f"    {line}")
    return 1


def _follow(settings: Settings, site: SampleSite, watcher: OutputWatcher,
            worker: subprocess.Popen[bytes], workdir: Path, stop: threading.Event) -> int:
    interval = settings.demo_follow_interval_seconds
    fetcher = _fetcher(settings, site, workdir, poll_seconds=interval)
    site.grow(interval)
    _say(f"following: the sample site publishes a new article and the fetcher polls every "
         f"{interval:g} s; Ctrl-C to stop")
    loop = asyncio.new_event_loop()
    task = loop.create_task(fetcher.run_forever())
    try:
        while not stop.is_set() and not task.done() and worker.poll() is None:
            loop.run_until_complete(asyncio.sleep(0.1))
            watcher.poll(timeout_ms=200)
        if worker.poll() is not None:
            return _worker_failed(worker, workdir)
        return 0
    finally:
        quiet_client_shutdown()
        task.cancel()
        loop.run_until_complete(asyncio.gather(task, return_exceptions=True))
        loop.run_until_complete(fetcher.aclose())
        loop.close()


def _once(settings: Settings, site: SampleSite, watcher: OutputWatcher,
          worker: subprocess.Popen[bytes], workdir: Path, stop: threading.Event) -> int:
    summary = asyncio.run(_fetch_once(_fetcher(settings, site, workdir, poll_seconds=30)))
    published = summary.published
    _say(f"fetcher published {published} raw articles ({len(summary.failed_sources)} source "
         f"errors)")
    deadline = time.monotonic() + settings.demo_timeout_seconds
    while watcher.accounted < published and time.monotonic() < deadline:
        if stop.is_set():
            return INTERRUPTED
        if worker.poll() is not None:
            return _worker_failed(worker, workdir)
        watcher.poll()
    result = (f"{len(watcher.articles)} articles, {watcher.duplicate_count} duplicates, "
              f"{watcher.dead_letters} dead letters")
    if watcher.accounted < published:
        _complain(f"timed out: only {watcher.accounted} of {published} inputs came out "
                  f"({result})")
        return 1
    _say_stories(watcher)
    _say(f"done: {result}")
    return 0


def _say_stories(watcher: OutputWatcher) -> None:
    stories: dict[str, list[dict[str, Any]]] = {}
    for article in watcher.articles.values():
        stories.setdefault(article["story"]["id"], []).append(article)
    _say(f"\n{len(stories)} stories:")
    for story_id, members in stories.items():
        _say(f"  story {story_id}: {members[0]['title']}")
        for article in members:
            outlet = article.get("site_name") or article["source"]["name"]
            _say(f"    - {clip(article['title'], 70)} ({outlet})")
            for copy in watcher.duplicates.get(article["id"], []):
                _say(f"        ↳ duplicate ({copy['level']}): {clip(copy['title'], 60)}")


async def _fetch_once(fetcher: Any) -> Any:
    try:
        return await fetcher.run_once()
    finally:
        await fetcher.aclose()
