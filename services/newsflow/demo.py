"""`newsflow demo`: the whole chain on this machine — broker, sample site, worker, fetcher.

Prints each enriched article as it reaches news.articles.v1 and exits 0 once every raw article
the fetcher published is accounted for (as an article, a duplicate or a dead letter).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer

from newsflow.broker import EmbeddedBroker, die_with_parent, free_port
from newsflow.config import Settings
from newsflow.sample_site import SampleSite
from newsflow.topics import ensure_topics


def _say(text: str) -> None:
    print(text, flush=True)


def describe(record: dict[str, Any], duplicates: int) -> str:
    tags = ", ".join(f"{t['name']} ({t['score']:.2f})" for t in record["tags"]) or "none"
    outlet = record.get("site_name")
    source = f"{outlet} via {record['source']['name']}" if outlet else record["source"]["name"]
    return (f"• {record['title']}\n"
            f"    source: {source} | tags: {tags}\n"
            f"    story: {record['story']['id'][:12]} | duplicates: {duplicates} | "
            f"words: {record['word_count']}")


def start_worker(settings: Settings, log_path: Path) -> subprocess.Popen[bytes]:
    env = os.environ | settings.to_env()
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "newsflow", "worker"], env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=die_with_parent)


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
    """Reads the output topics and keeps the tally the demo prints."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.consumer = KafkaConsumer(
            settings.topic_articles, settings.topic_duplicates, settings.topic_deadletter,
            bootstrap_servers=settings.require_bootstrap(), auto_offset_reset="earliest",
            enable_auto_commit=False, **settings.kafka_client_options(),
        )
        self.articles: dict[str, dict[str, Any]] = {}
        self.duplicates: Counter[str] = Counter()
        self.dead_letters = 0
        self.seen_inputs: set[tuple[str, str]] = set()

    @property
    def accounted(self) -> int:
        return len(self.seen_inputs) + self.dead_letters

    def poll(self) -> None:
        for messages in self.consumer.poll(timeout_ms=500).values():
            for message in messages:
                record = json.loads(message.value)
                if message.topic == self.settings.topic_articles:
                    if record["id"] not in self.articles:  # at-least-once: drop redeliveries
                        self.articles[record["id"]] = record
                        _say(describe(record, self.duplicates[record["id"]]))
                    self.seen_inputs.add(("a", record["id"]))
                elif message.topic == self.settings.topic_duplicates:
                    key = ("d", f"{record['id']}@{record['fetched_at']}")
                    if key not in self.seen_inputs:
                        self.duplicates[record["duplicate_of"]] += 1
                        _say(f"  ↳ duplicate ({record['level']}, {record['method']}): "
                             f"{record['title'][:70]} — {record['source']['name']}")
                    self.seen_inputs.add(key)
                else:
                    self.dead_letters += 1
                    _say(f"  ✗ dead letter ({record['stage']}): {record['error']['message'][:90]}")

    def close(self) -> None:
        self.consumer.close()


def run_demo(settings: Settings, follow: bool = False) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="newsflow-demo-"))
    broker: EmbeddedBroker | None = None
    if not settings.kafka_bootstrap_servers:
        broker = EmbeddedBroker(log_path=workdir / "broker.log").start()
        _say(f"embedded broker on {broker.bootstrap}")
    settings = settings.model_copy(update={
        "kafka_bootstrap_servers": settings.kafka_bootstrap_servers or broker.bootstrap,  # type: ignore[union-attr]
        "worker_web_port": free_port(),
        "worker_data_dir": workdir / "worker",
        "fetch_allow_networks": settings.fetch_allow_networks or "127.0.0.0/8",
    })
    ensure_topics(settings)
    site = SampleSite().start()
    _say(f"sample news site on {site.base_url} (feed: {site.feed_url})")
    worker = start_worker(settings, workdir / "worker.log")
    _say(f"worker started (log: {workdir / 'worker.log'})")
    watcher = OutputWatcher(settings)
    try:
        return _drive(settings, site, watcher, worker, workdir, follow)
    finally:
        watcher.close()
        stop_process(worker)
        site.stop()
        if broker is not None:
            broker.stop()


def _drive(settings: Settings, site: SampleSite, watcher: OutputWatcher,
           worker: subprocess.Popen[bytes], workdir: Path, follow: bool) -> int:
    from newsflow.fetcher.http import HttpFetcher
    from newsflow.fetcher.publisher import Publisher
    from newsflow.fetcher.service import Fetcher
    from newsflow.fetcher.sources import load_sources

    sources = load_sources(write_sources(workdir / "sources.yaml", site, poll_seconds=30))
    fetcher = Fetcher(settings, sources, Publisher(settings), HttpFetcher(settings))
    if follow:
        _say("following: fetching every 30 s; Ctrl-C to stop")
        loop = asyncio.new_event_loop()
        task = loop.create_task(fetcher.run_forever())
        with contextlib.suppress(KeyboardInterrupt):
            while not task.done() and worker.poll() is None:
                loop.run_until_complete(asyncio.sleep(0.2))
                watcher.poll()
        return 0
    published, errors = asyncio.run(_fetch_once(fetcher))
    _say(f"fetcher published {published} raw articles ({errors} source errors)")
    deadline = time.monotonic() + settings.demo_timeout_seconds
    while watcher.accounted < published and time.monotonic() < deadline:
        if worker.poll() is not None:
            _say(f"worker exited with code {worker.returncode}; see {workdir / 'worker.log'}")
            return 1
        watcher.poll()
    summary = (f"{len(watcher.articles)} articles, {sum(watcher.duplicates.values())} duplicates, "
               f"{watcher.dead_letters} dead letters")
    if watcher.accounted < published:
        _say(f"timed out: only {watcher.accounted} of {published} inputs came out ({summary})")
        return 1
    _say_stories(watcher)
    _say(f"done: {summary}")
    return 0


def _say_stories(watcher: OutputWatcher) -> None:
    stories: dict[str, list[dict[str, Any]]] = {}
    for article in watcher.articles.values():
        stories.setdefault(article["story"]["id"], []).append(article)
    _say(f"\n{len(stories)} stories:")
    for story_id, members in stories.items():
        _say(f"  story {story_id[:12]}: {members[0]['title']}")
        for article in members:
            _say(f"    - {article['title'][:70]} ({watcher.duplicates[article['id']]} duplicates)")


async def _fetch_once(fetcher: Any) -> tuple[int, int]:
    try:
        result: tuple[int, int] = await fetcher.run_once()
        return result
    finally:
        await fetcher.aclose()
